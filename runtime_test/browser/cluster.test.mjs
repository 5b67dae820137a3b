// The chat example as a cluster, end to end in headless Chromium: two
// chat nodes on one redis-server behind HAProxy, configured by the
// example's own examples/chat/haproxy.cfg (its addresses replaced by free
// ports, its third node dropped). A node goes (kill -9, or SIGTERM); its
// page resumes through HAProxy on the other node, and the user of a page
// closed with it leaves once, when the other node ends their session. Then
// Redis goes, and HAProxy's health check takes the other node out
// (/readyz answers 503).
//
//   cd runtime_test/browser && npm ci && npm test
//
// Needs /usr/bin/chromium, /usr/bin/redis-server, /usr/sbin/haproxy
// (scripts/test.sh installs them) and a Go toolchain (DUPLEX_CHAT_BIN uses
// a prebuilt chat server). Nothing is skipped: a missing one fails.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { closePage, login, logLines, logText, openPage, text, users, waitLog, waitState, waitUsers } from './chatpage.mjs';
import { goBuild, killAll, launchBrowser, repoRoot, startServer } from './procs.mjs';

const REDIS = '/usr/bin/redis-server';
const HAPROXY = '/usr/sbin/haproxy';
const shippedConfig = path.join(repoRoot, 'examples/chat/haproxy.cfg');

const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'duplex-cluster-'));

/** redis-server and haproxy processes still running. */
const procs = new Set();

after(() => {
  killAll();
  for (const p of procs) p.kill('SIGKILL');
  rmSync(tmpDir, { recursive: true, force: true });
});

/** A port that was free a moment ago (another process may take it first). */
function freePort() {
  return new Promise((resolve, reject) => {
    const l = net.createServer();
    l.once('error', reject);
    l.listen(0, '127.0.0.1', () => {
      const { port } = l.address();
      l.close(() => resolve(port));
    });
  });
}

/**
 * Spawns bin with args, killed (SIGKILL, by its own pid) when the file's
 * tests end. Returns { proc, out, exited }: out collects stdout and
 * stderr, exited resolves to { code, signal }.
 */
function spawnProc(bin, args) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  const p = { proc, out: '' };
  p.exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      procs.delete(proc);
      resolve({ code, signal });
    });
    proc.once('error', (err) => {
      procs.delete(proc);
      resolve({ code: null, signal: null, err });
    });
  });
  proc.stdout.on('data', (d) => { p.out += d; });
  proc.stderr.on('data', (d) => { p.out += d; });
  return p;
}

/**
 * Resolves when ready() is true (polled), rejects when p exits first or
 * after ms.
 */
async function waitReady(p, what, ready, ms = 15_000) {
  let exited = null;
  p.exited.then((e) => { exited = e; });
  const deadline = Date.now() + ms;
  for (;;) {
    if (exited) throw new Error(`${what} exited (code ${exited.code}, signal ${exited.signal}${exited.err ? `, ${exited.err.message}` : ''}):\n${p.out}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms:\n${p.out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts redis-server on a free port, without persistence, and waits until
 * it accepts connections; a port taken meanwhile by another process is
 * retried. Returns the process (spawnProc) with its url.
 */
async function startRedis() {
  let last;
  for (let i = 0; i < 5; i++) {
    const port = await freePort();
    const p = spawnProc(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpDir]);
    try {
      await waitReady(p, 'redis-server', async () => p.out.includes('Ready to accept connections'));
      p.url = `redis://127.0.0.1:${port}/0`;
      return p;
    } catch (err) {
      last = err;
      p.proc.kill('SIGKILL');
    }
  }
  throw last;
}

/**
 * The shipped config with its frontend on frontAddr, its runtime API on
 * adminAddr and its nodes node1, node2 on nodeAddrs; node3 dropped. Fails
 * when the shipped file no longer has what is replaced.
 */
function clusterConfig(frontAddr, adminAddr, nodeAddrs) {
  const cfg = readFileSync(shippedConfig, 'utf8');
  const replace = (s, from, to) => {
    assert.ok(s.includes(from), `${shippedConfig} has no ${JSON.stringify(from)}`);
    return s.replace(from, to);
  };
  let out = replace(cfg, 'bind 127.0.0.1:8080', `bind ${frontAddr}`);
  out = replace(out, 'stats socket ipv4@127.0.0.1:8404 ', `stats socket ipv4@${adminAddr} `);
  out = replace(out, 'server node1 127.0.0.1:8081', `server node1 ${nodeAddrs[0]}`);
  out = replace(out, 'server node2 127.0.0.1:8082', `server node2 ${nodeAddrs[1]}`);
  out = replace(out, '\tserver node3 127.0.0.1:8083\n', '');
  return out;
}

/** Sends one command to HAProxy's runtime API at addr; resolves to its answer. */
function admin(addr, command) {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const c = net.connect(Number(port), host);
    let answer = '';
    c.setEncoding('utf8');
    c.setTimeout(5_000, () => c.destroy(new Error(`haproxy's runtime API at ${addr}: no answer to ${command} within 5 s`)));
    c.on('connect', () => c.end(`${command}\n`));
    c.on('data', (d) => { answer += d; });
    c.on('end', () => resolve(answer));
    c.on('error', reject);
  });
}

/**
 * The servers of backend nodes from "show stat": { node1: { status, check,
 * scur }, ... }, check being the last health check's result (such as
 * "L7OK 200") and scur the connections open to the node.
 */
async function servers(adminAddr) {
  const lines = (await admin(adminAddr, 'show stat')).trim().split('\n');
  const head = lines[0].replace(/^# /, '').split(',');
  const col = (row, name) => row[head.indexOf(name)];
  const out = {};
  for (const line of lines.slice(1)) {
    const row = line.split(',');
    if (col(row, 'pxname') === 'nodes' && /^node/.test(col(row, 'svname'))) {
      out[col(row, 'svname')] = { status: col(row, 'status'), check: `${col(row, 'check_status')} ${col(row, 'check_code')}`.trim(), scur: Number(col(row, 'scur')) };
    }
  }
  return out;
}

/**
 * Starts haproxy in the foreground (-db) on the shipped config with nodes
 * at nodeAddrs, a free frontend port and runtime API port, and waits until
 * its health checks find both nodes up. A port taken meanwhile is retried.
 */
async function startHAProxy(nodeAddrs) {
  let last;
  for (let i = 0; i < 5; i++) {
    const front = `127.0.0.1:${await freePort()}`;
    const adminAddr = `127.0.0.1:${await freePort()}`;
    const file = path.join(tmpDir, `haproxy-${i}.cfg`);
    writeFileSync(file, clusterConfig(front, adminAddr, nodeAddrs));
    const p = spawnProc(HAPROXY, ['-db', '-f', file]);
    try {
      await waitReady(p, 'haproxy', async () => {
        const s = await servers(adminAddr).catch(() => ({}));
        return s.node1?.status === 'UP' && s.node2?.status === 'UP';
      });
      p.url = `http://${front}/`;
      p.admin = adminAddr;
      return p;
    } catch (err) {
      last = err;
      p.proc.kill('SIGKILL');
    }
  }
  throw last;
}

/** Waits until HAProxy counts want (such as { node1: 1, node2: 1 }) current connections per node. */
async function waitConns(adminAddr, want, ms = 10_000) {
  const deadline = Date.now() + ms;
  let got;
  for (;;) {
    const s = await servers(adminAddr);
    got = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.scur]));
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.fail(`connections per node ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until HAProxy's view of node has the fields of want (see servers). */
async function waitServer(adminAddr, node, want, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = (await servers(adminAddr))[node];
    if (Object.entries(want).every(([k, v]) => got?.[k] === v)) return;
    if (Date.now() > deadline) assert.fail(`HAProxy's ${node}: ${JSON.stringify(got)}, want ${JSON.stringify(want)} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Opens the chat page through HAProxy with the other node drained, so that
 * its socket is on node (node1 or node2); then puts the other back.
 */
async function openPageOn(browser, hap, node) {
  const others = ['node1', 'node2'].filter((n) => n !== node);
  for (const o of others) assert.equal(await admin(hap.admin, `set server nodes/${o} state drain`), '\n');
  const page = await openPage(browser, hap.url);
  for (const o of others) assert.equal(await admin(hap.admin, `set server nodes/${o} state ready`), '\n');
  return page;
}

/** The sockets the page opened, and the browser's CloseEvents of those closed. */
const sockets = (page) => page.evaluate(() => ({ opened: window.__sockets, closes: window.__closes }));

/** Says content on page and waits until the page shows it: it was published. */
async function sayAndSee(page, name, content) {
  await page.fill('#message', content);
  await page.click('#send');
  await waitLog(page, 'said', `${name}: ${content}`, 20_000);
  return `${name}: ${content}`;
}

let setupPromise;

/** Builds the chat server and launches the browser, once for the file. */
function setup() {
  setupPromise ??= Promise.all([goBuild('./examples/chat', tmpDir, 'DUPLEX_CHAT_BIN'), launchBrowser()]);
  return setupPromise;
}

after(async () => {
  const env = await setupPromise?.catch(() => null);
  await env?.[1].close().catch(() => {});
});

/** How node1 goes, and what ann's page sees of it. */
const ends = {
  'kill -9': {
    signal: 'SIGKILL',
    close: { code: 1006, reason: '', wasClean: false },
    line: 'connection lost: 1006, not clean; reconnecting',
  },
  SIGTERM: {
    signal: 'SIGTERM',
    close: { code: 1001, reason: 'server shutting down', wasClean: true },
    line: 'the server went away: 1001 server shutting down, clean; reconnecting',
  },
};

for (const [how, end] of Object.entries(ends)) {
  test(`behind HAProxy, ${how} of a node: its page resumes on the other, logged in, every message once, in order; a user gone with it leaves once`, { timeout: 180_000 }, async (t) => {
    const [bin, browser] = await setup();
    const pages = [];
    let hap;
    try {
      const redis = await startRedis();
      const nodes = [];
      // A resume window that ann's resume takes a small part of, and that
      // cat's session, left behind on node1, outlives by little.
      const args = ['-addr', '127.0.0.1:0', '-redis', redis.url, '-resume-window', '10s'];
      for (let i = 0; i < 2; i++) nodes.push(await startServer(bin, args));
      hap = await startHAProxy(nodes.map((n) => n.addr));

      // ann and cat on node1, bob on node2.
      const ann = await openPageOn(browser, hap, 'node1');
      pages.push(ann);
      const bob = await openPageOn(browser, hap, 'node2');
      pages.push(bob);
      const cat = await openPageOn(browser, hap, 'node1');
      await waitConns(hap.admin, { node1: 2, node2: 1 });
      await login(ann, 'ann');
      await login(bob, 'bob');
      await login(cat, 'cat');
      await waitUsers(ann, ['ann', 'bob', 'cat']);
      await waitUsers(bob, ['ann', 'bob', 'cat']);
      const annSession = await text(ann, '#detail');
      assert.match(annSession, /^session [0-9a-f]{8}$/);

      const sent = [];
      for (let i = 1; i <= 3; i++) {
        sent.push(await sayAndSee(ann, 'ann', `before ${i}`));
        sent.push(await sayAndSee(bob, 'bob', `before ${i}`));
      }

      // cat's page closes for good, and ann's node goes: nobody resumes
      // cat's session, so node2 ends it once its record expires. bob goes
      // on talking while ann is away and after.
      await closePage(cat);
      await ann.evaluate(() => {
        const log = document.getElementById('log');
        new MutationObserver((_, o) => {
          if ([...log.querySelectorAll('li.system')].some((li) => li.textContent === 'reconnected')) {
            window.__reconnectedAt = Date.now();
            o.disconnect();
          }
        }).observe(log, { childList: true });
      });
      const gone = Date.now();
      nodes[0].proc.kill(end.signal);
      for (let i = 1; i <= 5; i++) sent.push(await sayAndSee(bob, 'bob', `while ann is away ${i}`));

      // ann lost her socket, reconnected through HAProxy (to node2: node1
      // is gone), and resumed: same session, still logged in, no
      // start-over.
      await waitLog(ann, 'system', end.line, 20_000);
      await waitLog(ann, 'system', 'reconnected', 40_000);
      t.diagnostic(`ann's page showed "reconnected" ${(await ann.evaluate(() => window.__reconnectedAt)) - gone} ms after the ${end.signal}`);
      await waitState(ann, 'open', 40_000);
      await waitConns(hap.admin, { node1: 0, node2: 2 });
      assert.equal(await text(ann, '#detail'), annSession, 'the same session');
      assert.equal(await text(ann, '#me'), 'logged in as ann');
      const annLog = await logText(ann);
      assert.doesNotMatch(annLog, /could not resume|logged in again/, `a resume, not a start-over; log:\n${annLog}`);
      // One new socket: a handshake that node1 refused (its port closed,
      // or 503 while it shuts down) HAProxy retried on node2 (retry-on,
      // option redispatch) instead of answering 503 itself.
      assert.deepEqual(await sockets(ann), { opened: 2, closes: [end.close] }, "ann's sockets");

      for (let i = 1; i <= 3; i++) {
        sent.push(await sayAndSee(ann, 'ann', `after ${i}`));
        sent.push(await sayAndSee(bob, 'bob', `after ${i}`));
      }
      for (const [p, who] of [[ann, 'ann'], [bob, 'bob']]) {
        await waitLog(p, 'said', sent.at(-1), 20_000);
        assert.deepEqual(await logLines(p, 'said'), sent, `${who}'s page: every message once, in order`);
      }
      for (const [p, who] of [[ann, 'ann'], [bob, 'bob']]) {
        await waitLog(p, 'left', 'cat left', 60_000);
        t.diagnostic(`${who}'s page showed "cat left" by ${Date.now() - gone} ms after the ${end.signal}`);
        await waitUsers(p, ['ann', 'bob']);
        assert.deepEqual(await logLines(p, 'left'), ['cat left'], `${who}'s page: cat left, once; nobody else`);
      }
      assert.deepEqual(await sockets(bob), { opened: 1, closes: [] }, "bob's socket, on node2, lived through it all");
      if (end.signal === 'SIGTERM') assert.deepEqual(await nodes[0].exited, { code: 0, signal: null }, 'node1 exited gracefully');

      // bob leaves for good: ann sees it once.
      await bob.click('#disconnect');
      await waitLog(ann, 'left', 'bob left', 20_000);
      await waitUsers(ann, ['ann']);
      const last = await sayAndSee(ann, 'ann', 'bye');
      assert.deepEqual(await logLines(ann, 'left'), ['cat left', 'bob left'], 'left once each');
      assert.deepEqual(await logLines(ann, 'said'), [...sent, last]);
      assert.deepEqual(await logLines(bob, 'left'), ['cat left']);

      // Redis goes: node2's /readyz answers 503, and HAProxy takes it out.
      redis.proc.kill('SIGKILL');
      await waitServer(hap.admin, 'node2', { status: 'DOWN', check: 'L7STS 503' });
    } catch (err) {
      if (hap) console.log(`haproxy's log:\n${hap.out}`);
      throw err;
    } finally {
      for (const p of pages) await closePage(p);
      killAll();
      for (const p of procs) p.kill('SIGKILL');
    }
  });
}
