// Runs the generated TypeScript client against the Go server (./server) as
// a separate process that this file spawns, drops, kills, stops and
// restarts: go test ./gen/typescript/e2etest/process builds the server and
// runs
//
//   node --experimental-websocket --test process.test.mjs
//
// with DUPLEX_SERVER (the server binary) and DUPLEX_CLIENT_DIR (a directory
// holding alltypes.duplex.js and the runtime duplex.js it imports). Each
// scenario has its own server process; a restarted one listens on the
// address of the one it replaces (Go's listener sets SO_REUSEADDR).
//
// The server pushes plainEvent {s: COUNTER} every 20 ms to every session
// that said hello, with a counter per session (1, 2, 3…), and prints
// "listening on ADDR", "open N" (the N-th connection) and "closed CODE".
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const bin = process.env.DUPLEX_SERVER;
const dir = process.env.DUPLEX_CLIENT_DIR;
if (!bin || !dir) throw new Error("DUPLEX_SERVER or DUPLEX_CLIENT_DIR is not set: run go test ./gen/typescript/e2etest/process");
const { AlltypesClient } = await import(pathToFileURL(join(dir, "alltypes.duplex.js")).href);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// WAIT bounds a wait that only a failure makes long: a loaded machine may
// take seconds where an idle one takes milliseconds.
const WAIT = 10_000;

// waitUntil polls cond until it holds, failing after ms with what and the
// state that info() describes.
async function waitUntil(cond, ms, what, info = () => "") {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} ${info()}`);
    await sleep(5);
  }
}

// Every server process spawned, killed in the after hook whatever happened.
const spawned = new Set();
after(() => {
  for (const s of spawned) s.kill("SIGKILL");
});

class Server {
  // start spawns the server on addr and waits for its "listening on" line.
  static async start(t, addr = "127.0.0.1:0", args = []) {
    const s = new Server();
    s.proc = spawn(bin, ["-addr", addr, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    spawned.add(s);
    t.after(() => s.kill("SIGKILL"));
    s.lines = [];
    s.stderr = "";
    s.exitCode = undefined;
    s.exit = new Promise((resolve) => {
      s.proc.on("exit", (code, signal) => {
        s.exitCode = code ?? signal;
        spawned.delete(s);
        resolve(s.exitCode);
      });
    });
    s.proc.on("error", (e) => (s.stderr += String(e)));
    s.proc.stderr.on("data", (b) => (s.stderr += b));
    createInterface({ input: s.proc.stdout }).on("line", (l) => s.lines.push(l));
    await waitUntil(
      () => s.lines.some((l) => l.startsWith("listening on ")) || s.exitCode !== undefined,
      WAIT,
      "the server to listen",
      () => s.info(),
    );
    if (s.exitCode !== undefined) throw new Error(`server exited with ${s.exitCode}: ${s.info()}`);
    s.addr = s.lines.find((l) => l.startsWith("listening on ")).slice("listening on ".length);
    return s;
  }

  get running() {
    return this.exitCode === undefined;
  }

  // opens is how many connections the server opened.
  opens() {
    return this.lines.filter((l) => l.startsWith("open ")).length;
  }

  signal(sig) {
    if (this.running) this.proc.kill(sig);
  }

  // kill ends the process, stopped or not.
  kill(sig) {
    if (!this.running) return;
    this.proc.kill("SIGCONT");
    this.proc.kill(sig);
  }

  async exited(ms = WAIT) {
    await waitUntil(() => !this.running, ms, "the server to exit", () => this.info());
    return this.exitCode;
  }

  info() {
    return `\nserver stdout:\n${this.lines.join("\n")}\nserver stderr:\n${this.stderr}`;
  }
}

// client returns a client of s (not connected yet) that records its states,
// start-overs, the close codes of its sockets and the counters it got; t
// closes it.
function client(t, s, opts = {}) {
  const rec = { states: [], startOvers: [], closes: [], events: [] };
  // RecordingWebSocket records the close code of every socket. Node 20's
  // WebSocket reports a refused connection with an error and no close; the
  // client counts such an error as a lost connection itself.
  class RecordingWebSocket extends WebSocket {
    #closed = false;
    #onclose = null;
    constructor(url, protocols) {
      super(url, protocols);
      super.onclose = (e) => this.#close(e.code, e);
    }
    get onclose() {
      return this.#onclose;
    }
    set onclose(fn) {
      this.#onclose = fn;
    }
    #close(code, e) {
      if (this.#closed) return;
      this.#closed = true;
      rec.closes.push(code);
      this.#onclose?.(e ?? { code, reason: "", wasClean: false });
    }
  }
  const c = new AlltypesClient("ws://" + s.addr + "/", {
    WebSocket: RecordingWebSocket,
    timeout: WAIT,
    // Quick retries: a restarted server is found within about 200 ms.
    backoffBase: 50,
    backoffMax: 200,
    onState: (st) => rec.states.push(st),
    onStartOver: (reason) => rec.startOvers.push(reason),
    ...opts,
  });
  c.on("plainEvent", (d) => rec.events.push(Number(d.s)));
  t.after(() => c.close());
  rec.info = () => `\nclient: ${JSON.stringify({ ...rec, events: summary(rec.events) })}`;
  return { c, rec };
}

// summary shortens a list of counters to its runs: "1-40,42-50".
function summary(ns) {
  const runs = [];
  for (const n of ns) {
    const last = runs.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else runs.push([n, n]);
  }
  return runs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
}

// contiguous asserts that ns is from, from+1, … with no gap and no duplicate.
function contiguous(ns, from, info) {
  for (let i = 0; i < ns.length; i++) {
    if (ns[i] !== from + i) assert.fail(`counters not contiguous from ${from}: ${summary(ns)}${info()}`);
  }
}

// stateAfter waits until rec.states, past index from, reaches st, and
// returns the index just after it.
async function stateAfter(rec, from, st, ms, info) {
  let i = -1;
  await waitUntil(
    () => (i = rec.states.indexOf(st, from)) >= 0,
    ms,
    `state ${st} (after ${rec.states.slice(0, from).join(",")})`,
    info,
  );
  return i + 1;
}

async function connected(t, s, opts) {
  const { c, rec } = client(t, s, opts);
  await c.connect();
  assert.equal(c.state, "open");
  const info = () => rec.info() + s.info();
  await waitUntil(() => rec.events.length >= 5, WAIT, "the first events", info);
  return { c, rec, info };
}

test("a drop without a close frame resumes the session on the same process", async (t) => {
  const s = await Server.start(t);
  const { c, rec, info } = await connected(t, s);
  const session = c.session;
  const mark = rec.states.length;
  s.signal("SIGUSR1");
  const back = await stateAfter(rec, mark, "reconnecting", WAIT, info);
  await stateAfter(rec, back, "open", WAIT, info);
  const n = rec.events.length;
  await waitUntil(() => rec.events.length >= n + 10, WAIT, "events after the resume", info);
  assert.deepEqual(rec.startOvers, [], "start-over" + info());
  assert.equal(c.session, session);
  assert.ok(rec.closes.includes(1006), "abnormal close" + info());
  contiguous(rec.events, 1, info);
  assert.ok(s.lines.includes("cut 1"), info());
  assert.equal(s.opens(), 2, info());
});

test("kill -9 and a restart on the same address start over", async (t) => {
  const s = await Server.start(t);
  const { c, rec, info } = await connected(t, s);
  const session = c.session;
  const mark = rec.states.length;
  s.kill("SIGKILL");
  await s.exited();
  const back = await stateAfter(rec, mark, "reconnecting", WAIT, info);
  assert.equal(rec.closes.at(-1), 1006, "abnormal close" + info());
  const n = rec.events.length;
  const s2 = await Server.start(t, s.addr);
  const info2 = () => rec.info() + s2.info();
  await stateAfter(rec, back, "open", WAIT, info2);
  await waitUntil(() => rec.startOvers.length > 0, WAIT, "the start-over", info2);
  assert.deepEqual(rec.startOvers, ["unknown"]);
  assert.notEqual(c.session, session);
  await waitUntil(() => rec.events.length >= n + 5, WAIT, "events after the restart", info2);
  // The fresh session counts from 1 again, without a gap.
  contiguous(rec.events.slice(n), 1, info2);
});

// goingAway checks that sig makes the server close with code and exit, and
// that the client comes back promptly to a new server on the same address.
async function goingAway(t, sig, code) {
  const s = await Server.start(t);
  const { rec, info } = await connected(t, s);
  const mark = rec.states.length;
  s.signal(sig);
  assert.equal(await s.exited(), 0, info());
  const back = await stateAfter(rec, mark, "reconnecting", WAIT, info);
  assert.ok(rec.closes.includes(code), `close ${code}` + info());
  const s2 = await Server.start(t, s.addr);
  const info2 = () => rec.info() + s2.info();
  const up = Date.now();
  await stateAfter(rec, back, "open", 1500, info2);
  t.diagnostic(`reconnected ${Date.now() - up} ms after the new server listened`);
  await waitUntil(() => rec.startOvers.length > 0, WAIT, "the start-over", info2);
  assert.deepEqual(rec.startOvers, ["unknown"]);
  const n = rec.events.length;
  await waitUntil(() => rec.events.length >= n + 3, WAIT, "events from the new server", info2);
}

test("SIGTERM closes with 1001 and the client reconnects promptly", (t) => goingAway(t, "SIGTERM", 1001));

test("SIGHUP closes with 1012 and the client reconnects promptly", (t) => goingAway(t, "SIGHUP", 1012));

test("a stopped server is noticed within heartbeat + pingTimeout", async (t) => {
  const s = await Server.start(t, "127.0.0.1:0", ["-heartbeat", "300ms"]);
  // pingTimeout leaves a loaded machine time to answer before the stop.
  const { rec, info } = await connected(t, s, { pingTimeout: 1500 });
  const mark = rec.states.length;
  const n = rec.events.length;
  const stopped = Date.now();
  s.signal("SIGSTOP");
  try {
    // Silence starts at the last event (pushed every 20 ms before the stop).
    // Within heartbeat + pingTimeout + slack: far less than the default
    // pingTimeout (10 s) alone, which a client ignoring the option would use.
    const back = await stateAfter(rec, mark, "reconnecting", 300 + 1500 + 3000, info);
    const noticed = Date.now() - stopped;
    t.diagnostic(`noticed ${noticed} ms after SIGSTOP`);
    assert.ok(noticed >= 300, `noticed after ${noticed} ms, before the heartbeat` + info());
    s.signal("SIGCONT");
    await stateAfter(rec, back, "open", WAIT, info);
    const m = rec.events.length;
    await waitUntil(() => rec.events.length >= m + 3, WAIT, "events after SIGCONT", info);
    assert.ok(rec.events.length > n);
  } finally {
    s.signal("SIGCONT");
  }
});

test("close() ends the client for good", async (t) => {
  const s = await Server.start(t);
  const { c, rec, info } = await connected(t, s);
  const opens = s.opens();
  const mark = rec.states.length;
  c.close();
  assert.equal(c.state, "closed");
  await waitUntil(() => s.lines.includes("closed 1000"), WAIT, "the server to see close 1000", info);
  await sleep(1000);
  assert.equal(s.opens(), opens, "a new connection after close()" + info());
  assert.deepEqual(rec.states.slice(mark), ["closed"], info());
  assert.equal(c.state, "closed");
});

test("a close 1000 from the server ends the client for good", async (t) => {
  const s = await Server.start(t);
  const { c, rec, info } = await connected(t, s);
  const opens = s.opens();
  const mark = rec.states.length;
  const r = await c.plain({ s: "bye", n: 1, tags: [], colors: {} });
  assert.equal(r.s, "bye");
  await stateAfter(rec, mark, "closed", WAIT, info);
  assert.equal(rec.closes.at(-1), 1000, info());
  await sleep(1000);
  assert.equal(s.opens(), opens, "a new connection after close 1000" + info());
  assert.deepEqual(rec.states.slice(mark), ["closed"], info());
  assert.equal(c.state, "closed");
  assert.deepEqual(rec.startOvers, []);
});
