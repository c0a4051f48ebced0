// Images and fonts resolve to their name in tests, as a bundler's file loader would give a URL.
module.exports = 'test-file-stub';
