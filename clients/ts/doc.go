// Package ts holds the duplex TypeScript client runtime: src/duplex.ts,
// compiled by `npm run build` into dist/duplex.js (an ES2020 module with no
// dependencies) and dist/duplex.d.ts. Both are committed and embedded so
// that the TypeScript generator (gen/typescript) can write the runtime
// beside every generated client without Node.
//
// The tests fail when dist/ is stale against src/ and run the runtime's own
// unit tests (test/*.test.mjs) under Node; they need the npm packages:
// run `npm ci` in clients/ts first.
package ts
