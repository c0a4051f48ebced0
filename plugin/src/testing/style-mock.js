// Stylesheets imported by @grafana/ui have no meaning in jsdom.
module.exports = {};
