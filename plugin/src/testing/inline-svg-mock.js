// @grafana/ui's icons load their SVG over the network with react-inlinesvg; jsdom has no icon server, and
// the late state update warns outside act(). Tests render an empty <svg> in its place (the browser test
// renders the real icons).
const React = require('react');
module.exports = { __esModule: true, default: ({ src, title, ...rest }) => React.createElement('svg', { 'data-src': src, 'aria-label': title, className: rest.className }), cacheStore: {} };
