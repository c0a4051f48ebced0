'use strict';
// The compiled addon (node-gyp rebuild, run by npm at install). See packet_stats.c for what the totals mean.
module.exports = require('./build/Release/packet_stats.node');
