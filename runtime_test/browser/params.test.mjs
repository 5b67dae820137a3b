// The TypeScript client's params in headless Chromium: a page loads the
// generated alltypes client (gen/typescript/testdata/alltypes) and the
// runtime (clients/ts/dist) as native ES modules, and its params function
// fetches an auth token from the page's server before every hello. The Go
// server (gen/typescript/e2etest/process/server) refuses the first, expired
// token (4401); the client fetches a fresh one before its retry, and again
// before it resumes after a lost connection. A lazy client with an idle
// limit closes when idle and resumes on its next call; an aborted call
// rejects with the signal's reason.
//
//   cd runtime_test/browser && npm ci && npm test
//
// Needs /usr/bin/chromium and a Go toolchain (DUPLEX_ALLTYPES_BIN: a
// prebuilt server). Nothing is skipped.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { goBuild, killAll, launchBrowser, repoRoot, startServer } from './procs.mjs';

const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'duplex-params-'));
let setupPromise;

function setup() {
  setupPromise ??= (async () => {
    const [bin, browser, page] = await Promise.all([
      goBuild('./gen/typescript/e2etest/process/server', tmpDir, 'DUPLEX_ALLTYPES_BIN'),
      launchBrowser(),
      servePage(),
    ]);
    return { bin, browser, ...page };
  })();
  return setupPromise;
}

after(async () => {
  killAll();
  if (setupPromise) {
    const env = await setupPromise.catch(() => null);
    if (env) {
      await env.browser.close().catch(() => {});
      env.server.close();
    }
  }
  rmSync(tmpDir, { recursive: true, force: true });
});

/**
 * Serves a blank page, the client's modules, and /token: the auth
 * endpoint, whose answers are the tokens queued in `tokens` (then
 * "good-ann"); `requests` counts its calls.
 */
async function servePage() {
  const files = {
    '/duplex.js': readFileSync(path.join(repoRoot, 'clients/ts/dist/duplex.js')),
    '/alltypes.duplex.js': readFileSync(path.join(repoRoot, 'gen/typescript/testdata/alltypes/alltypes.duplex.js')),
  };
  const auth = { tokens: [], requests: 0 };
  const server = http.createServer((req, res) => {
    if (files[req.url]) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(files[req.url]);
    } else if (req.url === '/token') {
      auth.requests++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ token: auth.tokens.shift() ?? 'good-ann' }));
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>duplex params</title>');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, auth, origin: `http://127.0.0.1:${server.address().port}` };
}

/** Starts the Go server and opens the page; returns { page, wsURL }. */
async function start(env) {
  const s = await startServer(env.bin, ['-addr', '127.0.0.1:0', '-origin', env.origin]);
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(env.origin + '/');
  return { page, wsURL: `ws://${s.addr}/`, errors };
}

test('params: an expired token is refreshed before the retry and before the resume', { timeout: 60_000 }, async () => {
  const env = await setup();
  env.auth.tokens = ['expired'];
  env.auth.requests = 0;
  const { page, wsURL, errors } = await start(env);
  try {
    const got = await page.evaluate(async (url) => {
      const { AlltypesClient } = await import('/alltypes.duplex.js');
      const closes = [];
      const c = new AlltypesClient(url, {
        backoffBase: 50,
        params: async () => ({ token: (await (await fetch('/token')).json()).token }),
        onClose: (e) => closes.push([e.code, e.reason]),
      });
      const whoami = { s: 'whoami', n: 0, tags: [], colors: {} };
      await c.connect();
      const first = { session: c.session, user: (await c.plain(whoami)).s };
      // Lose the connection: the client reconnects and resumes with a
      // token fetched again.
      const back = new Promise((resolve) => {
        const off = c.onState((s) => s === 'open' && (off(), resolve()));
      });
      c._ws.close(3000, 'dropped by the test');
      await back;
      const second = { session: c.session, user: (await c.plain(whoami)).s };
      c.close();
      return { first, second, closes };
    }, wsURL);
    // The refusal, then the test's own drop.
    assert.deepEqual(got.closes.map((c) => c[0]), [4401, 3000]);
    assert.deepEqual(got.closes[0], [4401, 'unauthorized'], 'the expired token was not refused');
    assert.equal(got.first.user, 'ann');
    assert.deepEqual(got.second, got.first, 'the session did not resume');
    assert.equal(env.auth.requests, 3, 'a token per hello: refused, accepted, resumed');
    assert.deepEqual(errors, []);
  } finally {
    await page.context().close();
    killAll();
  }
});

test('lazy and idle: the first call connects, an idle connection closes, the next call resumes; abort', { timeout: 60_000 }, async () => {
  const env = await setup();
  const { page, wsURL, errors } = await start(env);
  try {
    const got = await page.evaluate(async (url) => {
      const { AlltypesClient } = await import('/alltypes.duplex.js');
      const states = [];
      let sockets = 0;
      const Native = WebSocket;
      const c = new AlltypesClient(url, {
        lazy: true,
        idle: 100,
        WebSocket: class extends Native {
          constructor(...a) {
            super(...a);
            sockets++;
          }
        },
        onState: (s) => states.push(s),
      });
      const plain = { s: 'x', n: 1, tags: [], colors: {} };
      await new Promise((r) => setTimeout(r, 100));
      const before = sockets;
      await c.plain(plain);
      const session = c.session;
      while (c.state !== 'closed') await new Promise((r) => setTimeout(r, 10));
      await c.plain(plain);
      const resumed = c.session === session;
      const ac = new AbortController();
      const p = c.plain(plain, { signal: ac.signal });
      ac.abort(new Error('the user left'));
      const err = await p.catch((e) => e);
      c.close();
      return { before, sockets, states, resumed, code: err.code, cause: String(err.cause) };
    }, wsURL);
    assert.equal(got.before, 0, 'a lazy client connected before its first call');
    assert.equal(got.sockets, 2);
    assert.deepEqual(got.states.slice(0, 5), ['connecting', 'open', 'closed', 'connecting', 'open']);
    assert.ok(got.resumed, 'the idle-closed session did not resume');
    assert.equal(got.code, 'canceled');
    assert.equal(got.cause, 'Error: the user left');
    assert.deepEqual(errors, []);
  } finally {
    await page.context().close();
    killAll();
  }
});
