// Unit tests of the client options that decide when it connects and what
// its hello carries: params (awaited before every hello, refused hellos
// retried with backoff, a failing params function), lazy connect, idle
// disconnect, and the abort reason. setTimeout, Date and Math.random are
// mocked; the fake WebSocket plays the server. The same behaviour against
// the Go server: gen/typescript/e2etest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, DuplexError } from "../dist/duplex.js";
import { fakeWebSocket, tick } from "./fakews.mjs";

/** A client of a fresh fake socket class with mocked timers; opts over { WebSocket }. */
function setup(t, opts = {}, random = 0.999) {
  t.mock.timers.reset();
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  t.mock.method(Math, "random", () => random);
  const WS = fakeWebSocket();
  const states = [];
  const c = new Client("ws://test/ws", { WebSocket: WS, onState: (s) => states.push(s), ...opts });
  t.after(() => c.close());
  return { c, WS, states };
}

async function advance(t, ms) {
  t.mock.timers.tick(ms);
  await tick();
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

test("params: awaited before every hello, the resume's included, and sent in it", async (t) => {
  let n = 0;
  let release;
  const { c, WS } = setup(t, {
    params: () => new Promise((res) => (release = () => res({ token: "tok" + ++n, big: 2n }))),
  });
  const p = c.connect();
  WS.last.open();
  await tick();
  assert.deepEqual(WS.last.sent, [], "no hello before params resolved");
  t.mock.timers.tick(60000); // no time limit while params runs
  assert.equal(WS.last.closedWith, undefined, "the socket was dropped while params ran");
  release();
  await tick();
  assert.deepEqual(WS.last.sent, [{ hello: { params: { token: "tok1", big: "2" } } }]);
  WS.last.welcome({ resume: "r1" });
  await p;
  c.on("e", () => {});
  WS.last.receive({ event: "e", seq: 3, data: {} });

  WS.last.serverClose(1006);
  await advance(t, 500);
  assert.equal(WS.sockets.length, 2);
  WS.last.open();
  release();
  await tick();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "r1", seq: 3, params: { token: "tok2", big: "2" } } }]);
  assert.equal(n, 2, "params is called once per connection");
});

test("params: a refused hello (4401) is retried after a growing backoff delay, with fresh params", async (t) => {
  const closes = [];
  let n = 0;
  const { c, WS } = setup(t, { params: () => ({ token: "t" + ++n }), backoffBase: 100, onClose: (e) => closes.push(e) });
  const p = c.connect();
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (const wait of [100, 200, 400, 800]) {
    WS.last.open();
    await tick();
    assert.deepEqual(WS.last.sent, [{ hello: { params: { token: "t" + n } } }]);
    WS.last.serverClose(4401, "unauthorized");
    await tick();
    assert.equal(c.state, "connecting");
    const before = WS.sockets.length;
    t.mock.timers.tick(Math.ceil(0.999 * wait) - 1);
    assert.equal(WS.sockets.length, before, `the retry after ${wait} came early`);
    t.mock.timers.tick(1);
    assert.equal(WS.sockets.length, before + 1, `no retry after ${wait}`);
  }
  assert.equal(closes.length, 4);
  assert.deepEqual(closes[0], { code: 4401, reason: "unauthorized", wasClean: true });
  assert.equal(settled, false, "connect settled while the client retries");
  // The token is good now.
  WS.last.open();
  await tick();
  assert.deepEqual(WS.last.sent, [{ hello: { params: { token: "t5" } } }]);
  WS.last.welcome();
  await p;
  assert.equal(c.state, "open");
});

test("params: a refusal with 4000-4099 ends the client, with the reason", async (t) => {
  const closes = [];
  const { c, WS } = setup(t, { params: () => ({ token: "banned" }), onClose: (e) => closes.push(e) });
  const p = c.connect();
  WS.last.open();
  await tick();
  WS.last.serverClose(4003, "banned");
  await rejectsWith(p, "disconnected", /4003 banned/);
  assert.equal(c.state, "closed");
  assert.deepEqual(closes, [{ code: 4003, reason: "banned", wasClean: true }]);
  await advance(t, 60000);
  assert.equal(WS.sockets.length, 1);
});

test("params: a function that throws or rejects closes the client, keeping its session", async (t) => {
  for (const fail of [
    () => {
      throw new Error("no token");
    },
    () => Promise.reject(new Error("no token")),
  ]) {
    let bad = false;
    const { c, WS } = setup(t, { params: () => (bad ? fail() : {}), lazy: true });
    const p = c.connect();
    WS.last.welcome({ resume: "r1" });
    await p;
    bad = true;
    WS.last.serverClose(1006);
    const call = c.call("a").catch((e) => e); // queued
    await advance(t, 500);
    const second = WS.last;
    const err = await c.connect().then(assert.fail, (e) => e);
    assert.equal(err.message, "no token");
    assert.equal((await call).code, "disconnected");
    assert.equal(c.state, "closed");
    assert.deepEqual(second.closedWith, [1000, "params failed"]);
    // A call connects the lazy client again, which resumes its session.
    bad = false;
    const call2 = c.call("b");
    assert.equal(c.state, "connecting");
    WS.last.open();
    await tick();
    assert.deepEqual(WS.last.sent, [{ hello: { resume: "r1", seq: 0, params: {} } }]);
    WS.last.welcome({ resumed: true });
    await tick();
    WS.last.receive({ id: WS.last.sent[1].id, result: { ok: 1 } });
    assert.deepEqual(await call2, { ok: 1 });
    c.close();
  }
});

test("lazy: the first call or event handler connects; close stops that until connect", async (t) => {
  const { c, WS, states } = setup(t, { lazy: true });
  assert.equal(WS.sockets.length, 0, "a lazy client connects before it is needed");
  const p = c.call("a", { x: 1 });
  assert.equal(WS.sockets.length, 1);
  assert.equal(c.state, "connecting");
  WS.last.welcome();
  await tick();
  assert.deepEqual(WS.last.sent, [{ hello: {} }, { id: 1, call: "a", args: { x: 1 } }]);
  WS.last.receive({ id: 1, result: {} });
  await p;

  c.close();
  await rejectsWith(c.call("b"), "disconnected", /not connected/);
  assert.equal(WS.sockets.length, 1, "a call after close connected");
  c.on("e", () => {});
  assert.equal(WS.sockets.length, 1, "a handler after close connected");
  // connect makes it lazy again: after an idle close, say, a call connects.
  const p2 = c.connect();
  WS.last.welcome();
  await p2;
  assert.deepEqual(states, ["connecting", "open", "closed", "connecting", "open"]);
  c.close();

  const c2 = new Client("ws://test/ws", { WebSocket: WS, lazy: true });
  t.after(() => c2.close());
  c2.on("e", () => {});
  assert.equal(c2.state, "connecting", "a handler connects a lazy client");
});

test("idle: closes after idle ms with nothing in flight and no handler, with 3008; the next call resumes", async (t) => {
  const { c, WS, states } = setup(t, { idle: 1000 });
  const p = c.connect();
  WS.last.welcome({ resume: "r1" });
  await p;
  const ws = WS.last;
  const call = c.call("slow");
  await advance(t, 5000);
  assert.equal(c.state, "open", "closed with a call in flight");
  ws.receive({ id: 1, result: {} });
  await call;
  const off = c.on("e", () => {});
  await advance(t, 5000);
  assert.equal(c.state, "open", "closed with an event handler");
  ws.receive({ event: "e", seq: 1, data: {} });
  off();
  await advance(t, 999);
  assert.equal(c.state, "open");
  await advance(t, 1);
  assert.equal(c.state, "closed");
  assert.deepEqual(ws.closedWith, [3008, "idle"]);

  const again = c.call("b");
  assert.equal(c.state, "connecting");
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "r1", seq: 1 } }]);
  WS.last.welcome({ resumed: true, resume: "r2" });
  await tick();
  WS.last.receive({ id: WS.last.sent[1].id, result: { v: 2 } });
  assert.deepEqual(await again, { v: 2 });
  assert.deepEqual(states, ["connecting", "open", "closed", "connecting", "open"]);
  // Calls restart the wait.
  await advance(t, 600);
  c.call("c").catch(() => {});
  WS.last.receive({ id: WS.last.sent[2].id, result: {} });
  await advance(t, 600);
  assert.equal(c.state, "open");
  await advance(t, 400);
  assert.equal(c.state, "closed");
});

test("idle: the timer does not close a connection that was lost and replaced", async (t) => {
  const { c, WS } = setup(t, { idle: 1000, backoffBase: 10 });
  const p = c.connect();
  WS.last.welcome({ resume: "r1" });
  await p;
  await advance(t, 500);
  WS.last.serverClose(1006);
  await advance(t, 600); // the first connection's idle time passed while reconnecting
  assert.equal(c.state, "reconnecting");
  WS.last.welcome({ resumed: true });
  await advance(t, 999);
  assert.equal(c.state, "open");
  await advance(t, 1);
  assert.equal(c.state, "closed");
});

test("abort: the error's cause is the signal's reason", async (t) => {
  const { c, WS } = setup(t);
  const p = c.connect();
  WS.last.welcome();
  await p;
  const ac = new AbortController();
  const call = c.call("slow", {}, { signal: ac.signal });
  ac.abort("user left");
  const err = await rejectsWith(call, "canceled", /slow canceled/);
  assert.equal(err.cause, "user left");
  assert.deepEqual(WS.last.sent.slice(1), [{ id: 1, call: "slow", args: {} }, { cancel: 1 }]);
  const pre = await rejectsWith(c.call("x", {}, { signal: AbortSignal.abort("early") }), "canceled");
  assert.equal(pre.cause, "early");
});
