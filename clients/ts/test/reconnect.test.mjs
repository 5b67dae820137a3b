// Unit tests of the client runtime's sessions (docs/protocol.md, "Sessions:
// hello, welcome, resume" and "Heartbeat"): the state machine, reconnection
// with backoff, terminal close codes, resume and start-over, the call
// queue, idempotent resends, liveness and the browser hints. setTimeout,
// Date and Math.random are mocked; the fake WebSocket plays the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, DuplexError } from "../dist/duplex.js";
import { fakeWebSocket, tick } from "./fakews.mjs";

/**
 * A client of a fresh fake socket class with mocked timers and
 * Math.random() = random; opts over { WebSocket }. states records its
 * state changes.
 */
function setup(t, opts = {}, spec, random = 0.999) {
  t.mock.timers.reset(); // the timers of the test's earlier clients
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  t.mock.method(Math, "random", () => random);
  const WS = fakeWebSocket();
  const states = [];
  const c = new Client("ws://test/ws", { WebSocket: WS, onState: (s) => states.push(s), ...opts }, spec);
  t.after(() => c.close());
  return { c, WS, states };
}

/** Connects c and answers the hello with a welcome (w's members); empties the socket's sent frames. */
async function open(c, WS, w) {
  const p = c.connect();
  WS.last.welcome(w);
  await p;
  WS.last.sent.length = 0;
  return WS.last;
}

async function rejectsWith(promise, code, message) {
  const err = await promise.then(
    (v) => assert.fail(`resolved with ${JSON.stringify(v)}, want error ${code}`),
    (e) => e,
  );
  assert.ok(err instanceof DuplexError, `got ${err}, want a DuplexError`);
  assert.equal(err.code, code);
  if (message !== undefined) assert.match(err.message, message);
  return err;
}

/** Advances the mocked clock by ms and lets promise callbacks run. */
async function advance(t, ms) {
  t.mock.timers.tick(ms);
  await tick();
}

test("backoff: retry n waits random(0, min(cap, base·2^n)), full jitter", async (t) => {
  for (const random of [0.999, 0.5]) {
    const { c, WS } = setup(t, { backoffBase: 100, backoffMax: 1000 }, undefined, random);
    await open(c, WS);
    const max = [100, 200, 400, 800, 1000, 1000, 1000];
    WS.last.serverClose(1006);
    for (const [n, m] of max.entries()) {
      const delay = random * m;
      const before = WS.sockets.length;
      t.mock.timers.tick(Math.ceil(delay) - 1);
      assert.equal(WS.sockets.length, before, `retry ${n} came before ${delay} ms`);
      t.mock.timers.tick(1);
      assert.equal(WS.sockets.length, before + 1, `retry ${n} did not come after ${delay} ms`);
      assert.equal(c.state, "reconnecting");
      WS.last.serverClose(1006); // fails: the next wait doubles, up to the cap
    }
    c.close();
  }
});

test("backoff: Math.random() 0 retries at once; a welcome resets the attempts", async (t) => {
  const { c, WS } = setup(t, {}, undefined, 0);
  await open(c, WS);
  WS.last.serverClose(1006);
  await advance(t, 0);
  assert.equal(WS.sockets.length, 2);
  t.mock.method(Math, "random", () => 0.999);
  WS.last.serverClose(1006); // attempt 1: up to 500
  await advance(t, 499);
  assert.equal(WS.sockets.length, 2);
  await advance(t, 1);
  assert.equal(WS.sockets.length, 3);
  WS.last.welcome({ resumed: true });
  assert.equal(c.state, "open");
  WS.last.serverClose(1006); // attempt 0 again: up to 250
  await advance(t, 249);
  assert.equal(WS.sockets.length, 3);
  await advance(t, 1);
  assert.equal(WS.sockets.length, 4);
});

test("maxAttempts: the client gives up, closes and calls onGiveUp", async (t) => {
  const gaveUp = [];
  const { c, WS, states } = setup(t, { maxAttempts: 2, onGiveUp: () => gaveUp.push(c.state) });
  let also = 0;
  c.onGiveUp(() => also++);
  await open(c, WS);
  const queued = [];
  WS.last.serverClose(1006);
  queued.push(c.call("a"));
  await advance(t, 250);
  assert.equal(WS.sockets.length, 2, "attempt 1");
  WS.last.serverClose(1006);
  const waiting = c.connect(); // pending: the client is reconnecting
  await advance(t, 500);
  assert.equal(WS.sockets.length, 3, "attempt 2");
  WS.last.serverClose(1006);
  assert.deepEqual(gaveUp, ["closed"]);
  assert.equal(also, 1);
  assert.equal(c.state, "closed");
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "closed"]);
  const err = await rejectsWith(queued[0], "disconnected", /1006/);
  assert.equal(err.retryable, false, "nothing will retry it");
  await rejectsWith(waiting, "disconnected");
  await advance(t, 10 ** 6);
  assert.equal(WS.sockets.length, 3, "no attempt after giving up");
  // connect starts again, and still tries to resume the session.
  c.connect().catch(() => {}); // closed when the test ends
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "t1", seq: 0 } }]);
});

test("maxAttempts 0: never reconnect", async (t) => {
  const { c, WS } = setup(t, { maxAttempts: 0 });
  const p = c.connect();
  WS.last.serverClose(1006);
  await rejectsWith(p, "disconnected", /1006/);
  assert.equal(c.state, "closed");
});

test("terminal close codes close the client; others reconnect", async (t) => {
  const cases = [
    [1000, true],
    [1008, true],
    [4000, true],
    [4042, true],
    [4099, true],
    [4100, false],
    [4999, false],
    [1002, false],
    [1011, false],
    [1013, false],
  ];
  for (const [code, terminal] of cases) {
    const { c, WS } = setup(t);
    await open(c, WS);
    const p = c.call("a");
    WS.last.serverClose(code, "why");
    const err = await rejectsWith(p, "disconnected", new RegExp(`${code} why`));
    assert.equal(err.retryable, !terminal, `code ${code}`);
    assert.equal(c.state, terminal ? "closed" : "reconnecting", `code ${code}`);
    await advance(t, 30000);
    assert.equal(WS.sockets.length, terminal ? 1 : 2, `code ${code}`);
    if (terminal) assert.equal(c.session, undefined, "a terminal close forgets the session");
    c.close();
  }
});

test("a session taken over by a resume elsewhere (close 4001) ends the client: it does not come back for it", async (t) => {
  // docs/protocol.md, "Closing": the server closes the old connection of a
  // session that a client resumed on another connection with 4001. That
  // client has the session and its new token; this one must not reconnect
  // (its token is spent: it would start over, fresh, beside it).
  const { c, WS, states } = setup(t);
  await open(c, WS, { session: "s1", resume: "t1" });
  const p = c.call("a");
  WS.last.serverClose(4001, "session taken over");
  const err = await rejectsWith(p, "disconnected", /4001 session taken over/);
  assert.equal(err.retryable, false);
  assert.equal(c.state, "closed");
  assert.deepEqual(states, ["connecting", "open", "closed"]);
  assert.equal(c.session, undefined, "the spent session is forgotten");
  await advance(t, 60000);
  assert.equal(WS.sockets.length, 1, "no reconnect");
});

test("terminal codes are configurable; 1000 stays terminal", async (t) => {
  for (const terminal of [[4100], (code) => code == 4100]) {
    for (const [code, ends] of [
      [4100, true],
      [1000, true],
      [1008, false],
      [4000, false],
    ]) {
      const { c, WS } = setup(t, { terminal });
      await open(c, WS);
      WS.last.serverClose(code);
      assert.equal(c.state, ends ? "closed" : "reconnecting", `${terminal}: code ${code}`);
      c.close();
    }
  }
});

test("1001 and 1012 reconnect at once the first time, then back off; 1006 backs off", async (t) => {
  for (const code of [1001, 1012]) {
    const { c, WS } = setup(t);
    await open(c, WS);
    WS.last.serverClose(code);
    assert.equal(c.state, "reconnecting");
    await advance(t, 0);
    assert.equal(WS.sockets.length, 2, `${code}: no prompt retry`);
    WS.last.serverClose(1006);
    await advance(t, 499);
    assert.equal(WS.sockets.length, 2, `${code}: the second retry backs off`);
    await advance(t, 1);
    assert.equal(WS.sockets.length, 3);
    c.close();
  }
  const { c, WS } = setup(t);
  await open(c, WS);
  WS.last.serverClose(1006);
  await advance(t, 0);
  assert.equal(WS.sockets.length, 1, "1006 waits");
  await advance(t, 249);
  assert.equal(WS.sockets.length, 1);
  await advance(t, 1);
  assert.equal(WS.sockets.length, 2);
});

test("a failed first connection is retried; connect resolves at the first welcome", async (t) => {
  const { c, WS, states } = setup(t);
  const p = c.connect();
  let done = false;
  p.then(() => (done = true));
  WS.last.serverClose(1006);
  await advance(t, 250);
  assert.equal(WS.sockets.length, 2);
  assert.equal(c.state, "connecting");
  assert.equal(c.connect(), p);
  assert.equal(done, false);
  WS.last.welcome();
  await p;
  assert.deepEqual(WS.last.sent, [{ hello: {} }], "no session yet: nothing to resume");
  assert.deepEqual(states, ["connecting", "open"]);
});

// Node 20's WebSocket reports a refused connection with an error event and
// no close event; browsers send both, the close carrying the code.
test("an error without a close counts as a lost connection", async (t) => {
  const { c, WS } = setup(t);
  c.connect().catch(() => {}); // rejected by the close at the test's end
  WS.last.onerror?.({});
  await advance(t, 50); // the error's grace for a close
  await advance(t, 250); // the backoff
  assert.equal(WS.sockets.length, 2, "retried after the lone error, not after pingTimeout");
  assert.equal(c.state, "connecting");
});

test("an error followed by a close is one loss, with the close's code", async (t) => {
  const { c, WS } = setup(t, { terminal: [4040] });
  await open(c, WS);
  WS.last.onerror?.({});
  WS.last.serverClose(4040);
  await advance(t, 50);
  await advance(t, 30000);
  assert.equal(c.state, "closed", "the close's terminal code won over the error");
  assert.equal(WS.sockets.length, 1);
});

test("hello carries the resume token and the last seq processed", async (t) => {
  const { c, WS } = setup(t);
  await open(c, WS, { session: "s1", resume: "tok-1" });
  const got = [];
  c.on("e", (d) => got.push(d.n));
  for (const seq of [1, 2, 3]) WS.last.receive({ event: "e", seq, data: { n: seq } });
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "tok-1", seq: 3 } }]);
  WS.last.welcome({ session: "s1", resume: "tok-2", resumed: true });
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "tok-2", seq: 3 } }], "each welcome's token is used once");
  assert.deepEqual(got, [1, 2, 3]);
});

test("a resumed session delivers the replayed events once each, in order", async (t) => {
  const startOvers = [];
  const { c, WS } = setup(t, { onStartOver: (r) => startOvers.push(r) });
  await open(c, WS);
  const got = [];
  c.on("e", (d) => got.push(d.n));
  c.on("f", (d) => got.push("f" + d.n));
  WS.last.receive({ event: "e", seq: 1, data: { n: 1 } });
  WS.last.receive({ event: "e", seq: 2, data: { n: 2 } });
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "t1", seq: 2 } }]);
  WS.last.welcome({ session: "s1", resume: "t2", resumed: true });
  // The server replays from its own idea of what the client saw: 2 again.
  for (const seq of [2, 3, 4]) WS.last.receive({ event: "e", seq, data: { n: seq } });
  WS.last.receive({ event: "f", seq: 4, data: { n: 4 } }); // a duplicate seq
  WS.last.receive({ event: "f", seq: 5, data: { n: 5 } }); // live again
  assert.deepEqual(got, [1, 2, 3, 4, "f5"]);
  assert.deepEqual(startOvers, []);
  assert.equal(c.session, "s1");
  assert.equal(c.state, "open");
});

test("events before the welcome belong to the connection's fresh session: dropped when the resume succeeds, processed after a fresh welcome", async (t) => {
  // The server numbers a new connection's events from 1 until it reads the
  // hello (docs/protocol.md, "Sessions"); taken for the resumed session's,
  // seq 3 here would hide the replayed 3 and show a stranger's event.
  const { c, WS } = setup(t);
  const p = c.connect();
  WS.last.open();
  WS.last.receive({ event: "e", seq: 1, data: { n: "first" } });
  const got = [];
  c.on("e", (d) => got.push(d.n));
  WS.last.welcome({ session: "s1", resume: "t1" });
  await p;
  assert.deepEqual(got, ["first"], "a fresh session's early event, after its welcome");
  WS.last.receive({ event: "e", seq: 2, data: { n: 2 } });
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "t1", seq: 2 } }]);
  for (const seq of [1, 2, 3]) WS.last.receive({ event: "e", seq, data: { n: "stranger " + seq } });
  WS.last.welcome({ session: "s1", resume: "t2", resumed: true });
  WS.last.receive({ event: "e", seq: 3, data: { n: 3 } });
  assert.deepEqual(got, ["first", 2, 3], "the throwaway session's events dropped");
  // A resume refused: the early events are the new session's first ones.
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.open();
  for (const seq of [1, 2]) WS.last.receive({ event: "e", seq, data: { n: "fresh " + seq } });
  WS.last.welcome({ session: "s2", resume: "u1", resumed: false, reason: "expired" });
  WS.last.receive({ event: "e", seq: 3, data: { n: "fresh 3" } });
  assert.deepEqual(got, ["first", 2, 3, "fresh 1", "fresh 2", "fresh 3"]);
});

test("a session that could not be resumed: start over with the reason, seq from 0", async (t) => {
  const startOvers = [];
  const { c, WS, states } = setup(t);
  const off = c.onStartOver((r) => startOvers.push([r, c.state, c.session]));
  await open(c, WS);
  const got = [];
  c.on("e", (d) => got.push(d.n));
  for (const seq of [1, 2, 3]) WS.last.receive({ event: "e", seq, data: { n: seq } });
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.welcome({ session: "s2", resume: "u1", resumed: false, reason: "expired" });
  assert.deepEqual(startOvers, [["expired", "open", "s2"]]);
  WS.last.receive({ event: "e", seq: 1, data: { n: "fresh 1" } });
  WS.last.receive({ event: "e", seq: 2, data: { n: "fresh 2" } });
  assert.deepEqual(got, [1, 2, 3, "fresh 1", "fresh 2"]);
  // Without a reason: "restarted". The fresh session's token and seq are used.
  WS.last.serverClose(1012);
  await advance(t, 0);
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "u1", seq: 2 } }]);
  WS.last.receive({ welcome: { session: "s3", resume: "v1", resumed: false } });
  assert.deepEqual(startOvers.at(-1), ["restarted", "open", "s3"]);
  off();
  WS.last.serverClose(1012);
  await advance(t, 0);
  WS.last.welcome({ resumed: false, reason: "unknown" });
  assert.equal(startOvers.length, 2, "unsubscribed");
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "open", "reconnecting", "open", "reconnecting", "open"]);
});

test("a server that issues no resume token: hello without one, and start over", async (t) => {
  const startOvers = [];
  const { c, WS } = setup(t, { onStartOver: (r) => startOvers.push(r) });
  await open(c, WS, { resume: "" });
  WS.last.receive({ event: "e", seq: 1, data: {} });
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: {} }]);
  WS.last.welcome({ session: "s2" });
  assert.deepEqual(startOvers, ["restarted"]);
});

test("calls wait in a bounded queue while not open and go out in order after the welcome", async (t) => {
  const { c, WS } = setup(t, { queue: 3 });
  const p = c.connect();
  const calls = [c.call("a", { n: 1 }), c.call("b"), c.call("c", { n: 3 })];
  await rejectsWith(c.call("d"), "queue_full");
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: {} }], "nothing before the welcome");
  WS.last.welcome();
  await p;
  assert.deepEqual(WS.last.sent.slice(1), [
    { id: 1, call: "a", args: { n: 1 } },
    { id: 2, call: "b", args: {} },
    { id: 3, call: "c", args: { n: 3 } },
  ]);
  for (const id of [3, 1, 2]) WS.last.receive({ id, result: { id } });
  assert.deepEqual(await Promise.all(calls), [{ id: 1 }, { id: 2 }, { id: 3 }]);
  // While reconnecting too; a canceled or timed-out queued call leaves the queue quietly.
  WS.last.serverClose(1006);
  const ac = new AbortController();
  const q1 = c.call("e");
  const q2 = rejectsWith(c.call("f", {}, { signal: ac.signal }), "canceled");
  const q3 = rejectsWith(c.call("g", {}, { timeout: 100 }), "timeout");
  await rejectsWith(c.call("x"), "queue_full");
  ac.abort();
  await q2;
  const q4 = c.call("h");
  await rejectsWith(c.call("y"), "queue_full");
  await advance(t, 100);
  await q3;
  await advance(t, 150);
  WS.last.welcome({ resumed: true });
  assert.deepEqual(WS.last.sent.slice(1), [
    { id: 4, call: "e", args: {} },
    { id: 5, call: "h", args: {} },
  ]);
  WS.last.receive({ id: 4, result: {} });
  WS.last.receive({ id: 5, result: {} });
  await q1;
  await q4;
});

test("maxInFlight: later calls wait for a free slot, in order", async (t) => {
  const { c, WS } = setup(t, { maxInFlight: 2 });
  const ws = await open(c, WS);
  const ps = ["a", "b", "c", "d"].map((n) => c.call(n));
  assert.deepEqual(
    ws.sent.map((m) => m.call),
    ["a", "b"],
  );
  ws.receive({ id: 2, result: {} });
  assert.deepEqual(
    ws.sent.map((m) => m.call),
    ["a", "b", "c"],
  );
  ws.receive({ id: 1, error: { code: "x" } });
  assert.deepEqual(
    ws.sent.map((m) => m.id),
    [1, 2, 3, 4],
  );
  ws.receive({ id: 3, result: {} });
  ws.receive({ id: 4, result: {} });
  await rejectsWith(ps[0], "x");
  await Promise.all(ps.slice(1));
});

test("in-flight calls: rejected retryable at a disconnect, idempotent ones sent again", async (t) => {
  const { c, WS } = setup(t, {}, { idempotent: ["get"] });
  const ws = await open(c, WS);
  const get = c.call("get", { k: 1 });
  const set = c.call("set", { k: 1 });
  const forced = c.call("put", { k: 2 }, { idempotent: true });
  const notGet = c.call("get", { k: 3 }, { idempotent: false });
  const queuedLater = [];
  assert.deepEqual(
    ws.sent.map((m) => m.id),
    [1, 2, 3, 4],
  );
  ws.serverClose(1006);
  const err = await rejectsWith(set, "disconnected", /1006/);
  assert.equal(err.retryable, true);
  await rejectsWith(notGet, "disconnected");
  queuedLater.push(c.call("later"));
  await advance(t, 250);
  WS.last.welcome({ resumed: true });
  // The idempotent calls first (new ids, in their order), then the queue.
  assert.deepEqual(WS.last.sent.slice(1), [
    { id: 5, call: "get", args: { k: 1 } },
    { id: 6, call: "put", args: { k: 2 } },
    { id: 7, call: "later", args: {} },
  ]);
  ws.receive({ id: 1, result: { stale: true } }); // the old socket is gone
  WS.last.receive({ id: 5, result: { v: 1 } });
  WS.last.receive({ id: 6, result: {} });
  WS.last.receive({ id: 7, result: {} });
  assert.deepEqual(await get, { v: 1 });
  await forced;
  await queuedLater[0];
});

test("call time limits run across reconnects", async (t) => {
  const { c, WS } = setup(t, {}, { idempotent: ["get"] });
  const ws = await open(c, WS);
  const get = rejectsWith(c.call("get", {}, { timeout: 1000 }), "timeout", /1000 ms/);
  await advance(t, 600);
  ws.serverClose(1006);
  await advance(t, 250);
  WS.last.welcome({ resumed: true });
  assert.deepEqual(WS.last.sent.slice(1), [{ id: 2, call: "get", args: {} }]);
  await advance(t, 149);
  assert.equal(WS.last.sent.length, 2);
  await advance(t, 1);
  await get;
  assert.deepEqual(WS.last.sent.at(-1), { cancel: 2 });
});

test("heartbeat: a ping after the welcome's interval of silence; any frame resets it", async (t) => {
  const { c, WS } = setup(t);
  const ws = await open(c, WS, { heartbeat: 1000 });
  await advance(t, 999);
  assert.deepEqual(ws.sent, []);
  await advance(t, 1);
  assert.deepEqual(ws.sent, [{ ping: 1 }]);
  await advance(t, 500);
  ws.receive({ pong: 1 }); // nothing is answered to a pong
  await advance(t, 999);
  ws.receive({ event: "e", seq: 1, data: {} }); // any frame is a sign of life
  await advance(t, 999);
  assert.deepEqual(ws.sent, [{ ping: 1 }]);
  await advance(t, 1);
  assert.deepEqual(ws.sent, [{ ping: 1 }, { ping: 2 }]);
  ws.receive("not even JSON");
  await advance(t, 9999);
  assert.equal(c.state, "open");
  assert.equal(ws.sent.length, 3);
});

test("heartbeat: no answer within pingTimeout drops the connection and reconnects", async (t) => {
  const { c, WS, states } = setup(t, { pingTimeout: 2000 });
  const ws = await open(c, WS, { heartbeat: 1000 });
  const p = rejectsWith(c.call("slow", {}, { timeout: 0 }), "disconnected", /3008/);
  await advance(t, 1000);
  assert.deepEqual(ws.sent.at(-1), { ping: 1 });
  await advance(t, 1999);
  assert.equal(c.state, "open");
  await advance(t, 1);
  // Noticed within heartbeat + pingTimeout = 3000 ms of silence.
  assert.equal(c.state, "reconnecting");
  assert.deepEqual(ws.closedWith, [3008, "timeout"], "a non-terminal code, and no waiting for the handshake");
  assert.equal((await p).retryable, true);
  await advance(t, 250);
  assert.equal(WS.sockets.length, 2);
  WS.last.welcome({ resumed: true });
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "open"]);
});

test("a connection that does not open, or gets no welcome, within pingTimeout is dropped", async (t) => {
  const { c, WS } = setup(t, { pingTimeout: 2000 });
  const p = c.connect();
  await advance(t, 2000);
  assert.deepEqual(WS.last.closedWith, [3008, "timeout"]);
  await advance(t, 250);
  assert.equal(WS.sockets.length, 2);
  WS.last.open();
  await advance(t, 1999);
  assert.equal(WS.sockets.length, 2);
  await advance(t, 1);
  assert.deepEqual(WS.last.closedWith, [3008, "timeout"], "no welcome");
  await advance(t, 500);
  assert.equal(WS.sockets.length, 3);
  WS.last.welcome();
  await p;
});

test("close never reconnects: while open, while waiting, while connecting", async (t) => {
  {
    const { c, WS, states } = setup(t);
    await open(c, WS);
    c.close();
    await advance(t, 10 ** 6);
    assert.equal(WS.sockets.length, 1);
    assert.deepEqual(states, ["connecting", "open", "closed"]);
  }
  {
    const { c, WS } = setup(t);
    await open(c, WS);
    WS.last.serverClose(1006);
    const p = c.call("a");
    c.close();
    await rejectsWith(p, "disconnected", /1000/);
    await advance(t, 10 ** 6);
    assert.equal(WS.sockets.length, 1, "the backoff timer is stopped");
  }
  {
    const { c, WS } = setup(t);
    const p = c.connect();
    c.close(4001);
    await rejectsWith(p, "disconnected", /4001/);
    assert.deepEqual(WS.last.closedWith, [4001, undefined]);
    await advance(t, 10 ** 6);
    assert.equal(WS.sockets.length, 1);
    assert.equal(c.state, "closed");
  }
});

test("connect while waiting to reconnect retries at once", async (t) => {
  const { c, WS } = setup(t);
  await open(c, WS);
  WS.last.serverClose(1006);
  const p = c.connect();
  assert.equal(WS.sockets.length, 2);
  WS.last.welcome({ resumed: true });
  await p;
  await advance(t, 10 ** 6);
  assert.equal(WS.sockets.length, 2, "the backoff timer is stopped");
});

test("browser hints: online, or the page visible again, end the wait", async (t) => {
  const target = new EventTarget();
  const added = [];
  globalThis.addEventListener = (type, h) => (added.push(type), target.addEventListener(type, h));
  globalThis.removeEventListener = (type, h) => (added.splice(added.indexOf(type), 1), target.removeEventListener(type, h));
  globalThis.document = { visibilityState: "hidden" };
  t.after(() => {
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
    delete globalThis.document;
  });
  const { c, WS } = setup(t, { backoffBase: 10000 });
  await open(c, WS);
  assert.deepEqual(added, [], "no listeners while open");
  WS.last.serverClose(1006);
  assert.deepEqual(added.sort(), ["online", "visibilitychange"]);
  target.dispatchEvent(new Event("online"));
  assert.equal(WS.sockets.length, 2);
  assert.deepEqual(added, [], "listeners removed once the wait ends");
  WS.last.serverClose(1006);
  target.dispatchEvent(new Event("visibilitychange")); // hidden: keep waiting
  assert.equal(WS.sockets.length, 2);
  globalThis.document.visibilityState = "visible";
  target.dispatchEvent(new Event("visibilitychange"));
  assert.equal(WS.sockets.length, 3);
  WS.last.welcome({ resumed: true });
  await advance(t, 10 ** 6);
  assert.equal(WS.sockets.length, 3, "the backoff timer is stopped");
  c.close();
  target.dispatchEvent(new Event("online"));
  assert.equal(WS.sockets.length, 3);
  assert.deepEqual(added, []);
});

test("state transitions are observed in order, by every listener", async (t) => {
  const { c, WS, states } = setup(t);
  const other = [];
  const off = c.onState((s) => other.push(s));
  assert.equal(c.state, "closed");
  const p = c.connect();
  WS.last.open();
  assert.equal(c.state, "connecting");
  WS.last.welcome();
  await p;
  WS.last.serverClose(1006);
  await advance(t, 250);
  WS.last.serverClose(1006); // still reconnecting: no change
  await advance(t, 500);
  WS.last.welcome({ resumed: true });
  off();
  WS.last.serverClose(1008);
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "open", "closed"]);
  assert.deepEqual(other, ["connecting", "open", "reconnecting", "open"]);
});

test("a listener that throws does not break the client; its error is rethrown asynchronously", async (t) => {
  const { c, WS } = setup(t, {
    onState: (s) => {
      throw new Error("state " + s);
    },
  });
  const p = c.connect();
  WS.last.welcome();
  await p;
  assert.equal(c.state, "open");
  assert.throws(() => t.mock.timers.tick(0), /state connecting/);
});

test("a state listener may close the client", async (t) => {
  const { c, WS } = setup(t);
  c.onState((s) => s == "reconnecting" && c.close());
  await open(c, WS);
  const p = c.call("a");
  WS.last.serverClose(1006);
  assert.equal(c.state, "closed");
  await rejectsWith(p, "disconnected");
  await advance(t, 10 ** 6);
  assert.equal(WS.sockets.length, 1);
});

test("onClose: every connection the client did not end itself, after the state change", async (t) => {
  const closes = [];
  const { c, WS, states } = setup(t, { pingTimeout: 1000, onClose: (e) => closes.push({ ...e, state: c.state }) });
  let also = 0;
  const off = c.onClose(() => also++);
  await open(c, WS, { heartbeat: 500 });
  WS.last.serverClose(1001, "going away");
  assert.deepEqual(closes, [{ code: 1001, reason: "going away", wasClean: true, state: "reconnecting" }]);
  await advance(t, 0); // 1001: the first retry is immediate
  WS.last.welcome({ resumed: true, heartbeat: 500 });
  off();
  await advance(t, 500); // the heartbeat's ping...
  await advance(t, 1000); // ...then silence: dropped as dead
  assert.deepEqual(closes[1], { code: 3008, reason: "timeout", wasClean: false, state: "reconnecting" });
  await advance(t, 250);
  WS.last.welcome({ resumed: true });
  WS.last.serverClose(1000, "bye");
  assert.deepEqual(closes[2], { code: 1000, reason: "bye", wasClean: true, state: "closed" });
  assert.equal(also, 1, "unsubscribed after the first");
  const again = c.connect(); // a fresh start...
  WS.last.welcome();
  await again;
  c.close(); // ...that the client ends itself: not reported
  await advance(t, 0);
  assert.equal(closes.length, 3);
  assert.equal(states.at(-1), "closed");
});

test("onClose: a listener that closes the client stops the reconnect", async (t) => {
  const { c, WS } = setup(t, { onClose: () => c.close() });
  await open(c, WS);
  WS.last.serverClose(1006);
  assert.equal(c.state, "closed");
  await advance(t, 10 ** 6);
  assert.equal(WS.sockets.length, 1, "no reconnect after close() in onClose");
});
