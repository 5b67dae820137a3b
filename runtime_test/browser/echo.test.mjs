// Headless Chromium as a WebSocket peer of duplex's examples/echo.
//
//   cd runtime_test/browser && npm ci && npm test
//
// Needs /usr/bin/chromium and a Go toolchain (the echo is built from
// ../../examples/echo). Set DUPLEX_ECHO_BIN to use a prebuilt echo binary.
// Nothing is skipped: a missing browser or echo makes every test fail.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { goBuild, killAll, launchBrowser, running, startServer, waitExit } from './procs.mjs';

const here = import.meta.dirname;
const SUBPROTOCOL = 'duplex.v1+json';
const MODES = ['listener', 'http'];
const MiB = 1 << 20;

// ---------------------------------------------------------------------------
// Shared setup, created on first use. Every test awaits it, so a failure
// here fails each test with the cause instead of skipping anything.

const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'duplex-browser-'));
let setupPromise;

function setup() {
  setupPromise ??= (async () => {
    const [echoBin, browser, page] = await Promise.all([
      goBuild('./examples/echo', tmpDir, 'DUPLEX_ECHO_BIN'),
      launchBrowser(),
      servePage(),
    ]);
    return { echoBin, browser, ...page };
  })();
  return setupPromise;
}

// The build and the browser's launch happen before the tests, with a bound
// of their own: on a loaded machine they take long, and a test's timeout is
// for what the test does. A failure here fails every test, with its cause.
before(() => setup(), { timeout: 300_000 });

// servePage serves a blank page (plus the page harness) on 127.0.0.1, so the
// WebSocket is opened from a real http origin.
async function servePage() {
  const harness = readFileSync(path.join(here, 'peer-page.js'));
  const server = http.createServer((req, res) => {
    if (req.url === '/peer-page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(harness);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><meta charset="utf-8"><title>duplex peer</title><script src="/peer-page.js"></script>');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return { server, pageOrigin: `http://127.0.0.1:${port}` };
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

// ---------------------------------------------------------------------------
// Echo processes.

async function startEcho(env, flags) {
  const e = await startServer(env.echoBin, ['-addr', '127.0.0.1:0', ...flags]);
  e.url = `ws://${e.addr}/ws`;
  return e;
}

function stopEcho(e) {
  if (running.has(e)) e.proc.kill('SIGKILL');
}

// ---------------------------------------------------------------------------
// Test helper: a fresh page and an echo started with the given flags.
// `allowPage` adds -origins for the page origin (the page and the echo are
// on different ports, so they are cross-origin).

function browserTest(name, { flags = [], allowPage = true, timeout = 20_000 } = {}, fn) {
  test(name, { timeout }, async () => {
    const env = await setup();
    const allFlags = allowPage ? [...flags, '-origins', env.pageOrigin] : flags;
    const echo = await startEcho(env, allFlags);
    const page = await env.browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err));
    try {
      await page.goto(env.pageOrigin + '/');
      await fn({ page, echo, env });
      assert.deepEqual(pageErrors, [], 'errors thrown in the page');
    } finally {
      await page.close().catch(() => {});
      stopEcho(echo);
    }
  });
}

const P = {
  open: (page, url, protocols) => page.evaluate(([u, p]) => window.peer.open(u, p ?? undefined), [url, protocols ?? null]),
  echo: (page, id, kind, size) => page.evaluate(([i, k, s]) => window.peer.echo(i, k, s), [id, kind, size]),
  send: (page, id, kind, size) => page.evaluate(([i, k, s]) => window.peer.send(i, k, s), [id, kind, size]),
  close: (page, id, code, reason) => page.evaluate(([i, c, r]) => window.peer.close(i, c ?? undefined, r ?? undefined), [id, code ?? null, reason ?? null]),
  next: (page, id, ms = 5000) => page.evaluate(([i, t]) => window.peer.next(i, t), [id, ms]),
};

async function openOK(page, url, protocols) {
  const r = await P.open(page, url, protocols);
  assert.equal(r.state, 'open', `WebSocket to ${url} did not open: ${JSON.stringify(r)}`);
  return r;
}

function assertClose(ev, code, what) {
  assert.equal(ev.type, 'close', `${what}: expected a close event, got ${JSON.stringify(ev)}`);
  assert.equal(ev.code, code, `${what}: close code ${ev.code} (reason ${JSON.stringify(ev.reason)}), want ${code}`);
  assert.equal(ev.wasClean, true, `${what}: wasClean false (close ${ev.code})`);
}

// ---------------------------------------------------------------------------
// Tests.

for (const mode of MODES) {
  describe(`chromium/${mode}`, () => {
    browserTest('echo text and binary round trip', { flags: ['-mode', mode] }, async ({ page, echo }) => {
      const { id } = await openOK(page, echo.url);
      for (const kind of ['text', 'binary']) {
        for (const size of [0, 1, 125, 126, 65535, 65536, MiB]) {
          const r = await P.echo(page, id, kind, size);
          assert.ok(r.ok, `${kind} ${size} bytes: ${r.why} ${JSON.stringify(r.event)}`);
        }
      }
    });

    for (const [code, reason] of [[1000, undefined], [4000, 'bye']]) {
      browserTest(`ws.close(${code}${reason ? `, '${reason}'` : ''}) is a clean close`, { flags: ['-mode', mode] }, async ({ page, echo }) => {
        const { id } = await openOK(page, echo.url);
        const r = await P.echo(page, id, 'text', 5);
        assert.ok(r.ok, JSON.stringify(r));
        await P.close(page, id, code, reason);
        const ev = await P.next(page, id, 8000);
        assertClose(ev, code, `after ws.close(${code})`);
        assert.ok(ev.msSinceClose < 1000, `close took ${ev.msSinceClose} ms`);
      });
    }

    for (const deflate of [false, true]) {
      const flags = ['-mode', mode, '-max-message', '1024', ...(deflate ? ['-deflate'] : [])];
      browserTest(`message above -max-message closes with 1009${deflate ? ' (deflate)' : ''}`, { flags }, async ({ page, echo }) => {
        const o = await openOK(page, echo.url);
        assert.equal(/permessage-deflate/.test(o.extensions), deflate, `ws.extensions = ${JSON.stringify(o.extensions)}`);
        // Incompressible, exactly at the limit: must be echoed.
        const ok = await P.echo(page, o.id, 'binary', 1024);
        assert.ok(ok.ok, `1024-byte binary message (= -max-message): ${ok.why} ${JSON.stringify(ok.event)}`);
        await P.send(page, o.id, 'binary', 1025);
        assertClose(await P.next(page, o.id, 8000), 1009, 'after a 1025-byte message');
      });
    }

    for (const [sig, code] of [['SIGTERM', 1001], ['SIGHUP', 1012]]) {
      browserTest(`${sig} closes with ${code}`, { flags: ['-mode', mode] }, async ({ page, echo }) => {
        const { id } = await openOK(page, echo.url);
        const r = await P.echo(page, id, 'text', 10);
        assert.ok(r.ok, JSON.stringify(r));
        echo.proc.kill(sig);
        assertClose(await P.next(page, id, 8000), code, `after ${sig}`);
        const ex = await waitExit(echo, 4000);
        assert.ok(ex, `echo still running 4s after ${sig} although the browser answered the close`);
      });
    }

    browserTest('permessage-deflate with -deflate', { flags: ['-mode', mode, '-deflate'] }, async ({ page, echo }) => {
      const o = await openOK(page, echo.url);
      assert.match(o.extensions, /permessage-deflate/, `ws.extensions = ${JSON.stringify(o.extensions)}`);
      for (const [kind, size] of [['text', 100 << 10], ['binary', 100 << 10], ['text', 10], ['text', 100 << 10]]) {
        const r = await P.echo(page, o.id, kind, size);
        assert.ok(r.ok, `${kind} ${size} bytes: ${r.why} ${JSON.stringify(r.event)}`);
      }
      await P.close(page, o.id, 1000);
      assertClose(await P.next(page, o.id, 8000), 1000, 'after ws.close(1000)');
    });

    browserTest('no extension without -deflate', { flags: ['-mode', mode] }, async ({ page, echo }) => {
      const o = await openOK(page, echo.url);
      assert.equal(o.extensions, '');
    });

    browserTest('subprotocol negotiation', { flags: ['-mode', mode, '-subprotocols', SUBPROTOCOL] }, async ({ page, echo }) => {
      const o = await openOK(page, echo.url, [SUBPROTOCOL]);
      assert.equal(o.protocol, SUBPROTOCOL);
      const o2 = await openOK(page, echo.url, ['other.v9', SUBPROTOCOL]);
      assert.equal(o2.protocol, SUBPROTOCOL);
      const r = await P.echo(page, o.id, 'text', 100);
      assert.ok(r.ok, JSON.stringify(r));
    });

    browserTest('cross-origin page is refused without -origins', { flags: ['-mode', mode], allowPage: false }, async ({ page, echo }) => {
      const r = await P.open(page, echo.url);
      assert.equal(r.state, 'closed', `cross-origin WebSocket: ${JSON.stringify(r)}`);
      assert.equal(r.code, 1006);
      assert.equal(r.wasClean, false);
      assert.equal(r.errorEvent, true, 'no error event before close');
    });
  });
}

describe('chromium/health-check', () => {
  // The ping timeout leaves a loaded machine time to answer; the browser
  // stays idle for more than interval + timeout, so a server that did not
  // see its pongs would close the connection meanwhile.
  browserTest('browser answers server pings and stays connected', {
    flags: ['-ping-interval', '300ms', '-ping-timeout', '1s'],
  }, async ({ page, echo }) => {
    const { id } = await openOK(page, echo.url);
    const ev = await P.next(page, id, 3000);
    assert.equal(ev.type, 'timeout', `idle browser connection got ${JSON.stringify(ev)} within 3s`);
    const r = await P.echo(page, id, 'text', 10);
    assert.ok(r.ok, `echo after 3s idle: ${r.why} ${JSON.stringify(r.event)}`);
  });
});
