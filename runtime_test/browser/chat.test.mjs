// The chat example (examples/chat) end to end in headless Chromium: its
// own page, served by the chat server, with the generated client as
// native ES modules.
//
//   cd runtime_test/browser && npm ci && npm test
//
// Needs /usr/bin/chromium and a Go toolchain (the server is built from
// ../../examples/chat; DUPLEX_CHAT_BIN uses a prebuilt one). Nothing is
// skipped: a missing browser or server fails every test. The screenshot
// goes to DUPLEX_SCREENSHOT_DIR (default: screenshots/ here).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closePage, login, logLines, openPage, say, text, users, waitLog, waitState, waitUsers } from './chatpage.mjs';
import { goBuild, killAll, launchBrowser, startServer } from './procs.mjs';

const here = import.meta.dirname;
const screenshotDir = process.env.DUPLEX_SCREENSHOT_DIR || path.join(here, 'screenshots');

const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'duplex-chat-'));
let setupPromise;

function setup() {
  setupPromise ??= (async () => {
    const [bin, browser] = await Promise.all([goBuild('./examples/chat', tmpDir, 'DUPLEX_CHAT_BIN'), launchBrowser()]);
    return { bin, browser };
  })();
  return setupPromise;
}

// The build and the browser's launch happen before the tests, with a bound
// of their own: on a loaded machine they take long, and a test's timeout is
// for what the test does. A failure here fails every test, with its cause.
before(() => setup(), { timeout: 300_000 });

after(async () => {
  killAll();
  if (setupPromise) {
    const env = await setupPromise.catch(() => null);
    if (env) await env.browser.close().catch(() => {});
  }
  rmSync(tmpDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Chat server processes.

/** Starts the chat server on addr (a free port when omitted) and waits until it listens. */
async function startChat(env, addr = '127.0.0.1:0') {
  const s = await startServer(env.bin, ['-addr', addr]);
  s.url = `http://${s.addr}/`;
  return s;
}

/** Sends sig to the server and waits (up to ms) for it to exit. */
async function stopChat(s, sig, ms = 10_000) {
  s.proc.kill(sig);
  const t = new Promise((resolve) => setTimeout(() => resolve(null), ms));
  const r = await Promise.race([s.exited, t]);
  assert.ok(r, `chat did not exit within ${ms} ms of ${sig}`);
  return r;
}

function chatTest(name, fn, timeout = 60_000) {
  test(name, { timeout }, async () => {
    const env = await setup();
    const server = await startChat(env);
    const pages = [];
    const open = async () => {
      const p = await openPage(env.browser, server.url);
      pages.push(p);
      return p;
    };
    try {
      await fn({ env, server, open });
    } finally {
      for (const p of pages) await closePage(p);
      killAll();
    }
  });
}

// ---------------------------------------------------------------------------
// Tests.

chatTest('two pages chat; presence, logout and disconnect update both, left once each', async ({ open }) => {
  const ann = await open();
  const bob = await open();
  await login(ann, 'ann');
  await waitLog(bob, 'joined', 'ann joined');
  await login(bob, 'bob');
  await waitUsers(ann, ['ann', 'bob']);
  await waitUsers(bob, ['ann', 'bob']);
  await waitLog(ann, 'joined', 'bob joined');

  await say(ann, 'hi bob');
  await say(bob, 'hello ann');
  for (const p of [ann, bob]) {
    await waitLog(p, 'said', 'ann: hi bob');
    await waitLog(p, 'said', 'bob: hello ann');
    assert.deepEqual(await logLines(p, 'said'), ['ann: hi bob', 'bob: hello ann'], 'the same order on both pages, each once');
  }

  // A name that is taken, and one that is invalid: typed errors, and the
  // connection lives on.
  const cat = await open();
  await cat.fill('#name', 'ann');
  await cat.click('#login');
  await waitLog(cat, 'error', '"ann" is online already: choose another name');
  await cat.fill('#name', 'x'.repeat(40));
  await cat.click('#login');
  await waitLog(cat, 'error', 'invalid_name: the name has 40 characters; at most 32');
  assert.equal(await text(cat, '#state'), 'open');
  await cat.close();

  await bob.click('#logout');
  await waitLog(ann, 'left', 'bob left');
  await waitUsers(ann, ['ann']);
  assert.equal(await bob.evaluate(() => document.getElementById('send').disabled), true, 'send is off after logout');

  // Disconnect: the page closes with 1000, the session ends, ann leaves.
  await ann.click('#disconnect');
  await waitState(ann, 'closed');
  assert.equal(await text(ann, '#detail'), 'closed by you: 1000; not reconnecting');
  await waitLog(bob, 'left', 'ann left');
  await waitUsers(bob, []);
  await ann.waitForTimeout(500);
  assert.deepEqual(await logLines(bob, 'left'), ['bob left', 'ann left'], 'left once per departure');
  assert.equal(await ann.evaluate(() => window.__sockets), 1, 'no reconnect after Disconnect');

  // Connect again: a fresh session, logged out.
  await ann.click('#connect');
  await waitState(ann, 'open');
  assert.equal(await text(ann, '#me'), '');
});

chatTest('shutdown: the reply, then close 1000 from the server, clean; no reconnect', async ({ open }) => {
  const ann = await open();
  const bob = await open();
  await login(ann, 'ann');
  await login(bob, 'bob');
  await waitUsers(bob, ['ann', 'bob']);

  await ann.click('#shutdown');
  await waitLog(ann, 'system', 'shutdown answered: the server closes the connection');
  await waitState(ann, 'closed');
  assert.equal(await text(ann, '#detail'), 'closed by the server: 1000 shutdown, clean; not reconnecting');
  const closes = await ann.evaluate(() => window.__closes);
  assert.deepEqual(closes, [{ code: 1000, reason: 'shutdown', wasClean: true }], "the browser's CloseEvent");
  await waitLog(bob, 'left', 'ann left');
  await waitUsers(bob, ['bob']);

  await ann.waitForTimeout(1500);
  assert.equal(await ann.evaluate(() => window.__sockets), 1, 'the page did not reconnect');
  assert.equal(await text(ann, '#state'), 'closed');
  assert.deepEqual(await logLines(bob, 'left'), ['ann left'], 'left exactly once');

  // Any session may end its own, logged in or not; the others go on.
  const cat = await open();
  await cat.click('#shutdown');
  await waitState(cat, 'closed');
  assert.deepEqual(await cat.evaluate(() => window.__closes), [{ code: 1000, reason: 'shutdown', wasClean: true }]);
  await say(bob, 'still here');
  await waitLog(bob, 'said', 'bob: still here');
});

chatTest('kill -9 and restart: the pages reconnect, log in again, and lose nothing sent after', async ({ env, server, open }) => {
  const ann = await open();
  const bob = await open();
  await login(ann, 'ann');
  await login(bob, 'bob');
  await waitUsers(ann, ['ann', 'bob']);

  await stopChat(server, 'SIGKILL');
  for (const p of [ann, bob]) await waitState(p, 'reconnecting');
  const lost = await ann.evaluate(() => window.__closes.at(-1));
  assert.equal(lost.code, 1006, 'a killed server sends no close frame');
  assert.equal(lost.wasClean, false);
  await ann.waitForTimeout(500); // a few failed attempts while it is down
  assert.equal(await text(ann, '#state'), 'reconnecting');

  await startChat(env, server.addr);
  for (const [p, name] of [[ann, 'ann'], [bob, 'bob']]) {
    await waitState(p, 'open', 40_000); // the backoff may wait a few seconds
    await waitLog(p, 'system', `logged in again as ${name}`);
    assert.equal(await text(p, '#me'), `logged in as ${name}`);
  }
  await waitUsers(ann, ['ann', 'bob']);
  await waitUsers(bob, ['ann', 'bob']);

  const sent = [];
  for (let i = 1; i <= 10; i++) {
    const [p, who] = i % 2 ? [ann, 'ann'] : [bob, 'bob'];
    await say(p, `after restart ${i}`);
    sent.push(`${who}: after restart ${i}`);
  }
  for (const p of [ann, bob]) {
    await waitLog(p, 'said', sent.at(-1));
    const got = (await logLines(p, 'said')).filter((l) => l.includes('after restart'));
    assert.deepEqual(got, sent, 'every message sent after the restart, in order, once');
  }
}, 120_000);

chatTest('SIGTERM: close 1001, clean; the page reconnects when the server is back', async ({ env, server, open }) => {
  const ann = await open();
  await login(ann, 'ann');
  const exited = await stopChat(server, 'SIGTERM');
  assert.equal(exited.code, 0, 'a graceful exit');
  await waitState(ann, 'reconnecting');
  const closes = await ann.evaluate(() => window.__closes);
  assert.deepEqual(closes[0], { code: 1001, reason: 'server shutting down', wasClean: true }, "the browser's CloseEvent");
  await waitLog(ann, 'system', 'the server went away: 1001 server shutting down, clean; reconnecting');

  await startChat(env, server.addr);
  await waitState(ann, 'open', 40_000);
  await waitLog(ann, 'system', 'logged in again as ann');
  await waitUsers(ann, ['ann']);
  await say(ann, 'back');
  await waitLog(ann, 'said', 'ann: back');
}, 90_000);

chatTest('markup in a message is shown as text; screenshot', async ({ open }) => {
  const ann = await open();
  const bob = await open();
  await login(ann, 'ann');
  await login(bob, 'bob <i>b</i>');
  const markup = '<b>bold</b> <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>';
  await say(ann, markup);
  await say(bob, 'see you at <b>noon</b> & "later"');
  await waitLog(bob, 'said', `ann: ${markup}`);
  await waitLog(ann, 'said', 'bob <i>b</i>: see you at <b>noon</b> & "later"');
  for (const p of [ann, bob]) {
    const found = await p.evaluate(() => ({
      elements: document.querySelectorAll('#log b, #log img, #log script, #log i, #users i').length,
      pwned: window.__pwned ?? null,
    }));
    assert.deepEqual(found, { elements: 0, pwned: null }, 'no element made from a message or a name');
  }
  assert.deepEqual(await users(ann), ['ann', 'bob <i>b</i>']);

  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, 'chat.png');
  await ann.screenshot({ path: file });
  assert.ok(existsSync(file), `screenshot ${file}`);
  console.log(`# screenshot: ${file}`);
});
