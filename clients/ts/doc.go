// Package ts holds the duplex TypeScript client runtime: src/duplex.ts,
// compiled by `npm run build` into dist/duplex.js (an ES2020 module with no
// dependencies) and dist/duplex.d.ts. All three are committed and embedded
// so that the TypeScript generator (gen/typescript) can write the runtime
// beside every generated client without Node: the .js for browsers, the .ts
// for projects that compile the client with tsc (which resolves the import
// "./duplex.js" to duplex.ts and emits duplex.js into the project's outDir).
// src/duplex.ts therefore declares the few host globals it uses itself and
// compiles under the strictest settings, with or without DOM or Node types.
//
// The tests fail when dist/ is stale against src/ and run the runtime's own
// unit tests (test/*.test.mjs) under Node; they need the npm packages:
// run `npm ci` in clients/ts first.
package ts
