// Turns a .sql file into a module exporting its text, as esbuild's text loader does in the build.
module.exports = {
  process(src) {
    return { code: 'module.exports = { __esModule: true, default: ' + JSON.stringify(src) + ' };' };
  },
};
