// The package's version (dist/src/version.js -> ../../package.json, shipped in every install).
export const VERSION: string = (require('../../package.json') as { version: string }).version;
