module.exports = require('./dist/src/register.js');
