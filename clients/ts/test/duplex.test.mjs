// Unit tests of the client runtime (dist/duplex.js) against an in-memory
// WebSocket: connect, hello and welcome, calls, errors, timeouts, abort,
// disconnect, events. Reconnection, resume, the queue and liveness are in
// reconnect.test.mjs. Run: npm test (after npm run build), or go test
// ./clients/ts.
//
// Every test mocks setTimeout: a client that is left open keeps heartbeat
// and reconnect timers, which must not outlive the test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, DuplexError, big, bytes, date, dict, list, obj } from "../dist/duplex.js";
import { fakeWebSocket, tick } from "./fakews.mjs";

/** Mocks setTimeout and Date for the test t (once). */
function mockTimers(t) {
  if (!t.mockedTimers) t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  t.mockedTimers = true;
}

/** A client connected to a fresh fake socket, its hello answered with welcome's members; ws.sent is emptied. */
async function connected(t, opts = {}, spec, welcome = {}) {
  mockTimers(t);
  const WS = fakeWebSocket();
  const c = new Client("ws://test/ws", { WebSocket: WS, ...opts }, spec);
  const p = c.connect();
  WS.last.welcome(welcome);
  await p;
  assert.deepEqual(WS.last.sent, [{ hello: {} }]);
  WS.last.sent.length = 0;
  return { c, ws: WS.last, WS };
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

test("connect requests duplex.v1+json, says hello and resolves at the welcome", async (t) => {
  mockTimers(t);
  const WS = fakeWebSocket();
  const c = new Client("ws://test/ws", { WebSocket: WS });
  assert.equal(WS.sockets.length, 0, "the constructor must not connect");
  assert.equal(c.state, "closed");
  const p = c.connect();
  assert.equal(c.state, "connecting");
  assert.equal(c.connect(), p, "connect while connecting returns the same promise");
  assert.equal(WS.sockets.length, 1);
  assert.equal(WS.last.url, "ws://test/ws");
  assert.equal(WS.last.protocols, "duplex.v1+json");
  let done = false;
  p.then(() => (done = true));
  WS.last.open();
  await tick();
  assert.deepEqual(WS.last.sent, [{ hello: {} }], "the hello is the first frame");
  assert.equal(done, false, "open is not enough: the welcome counts");
  assert.equal(c.state, "connecting");
  WS.last.receive({ welcome: { session: "s9", resume: "t9", resumed: false, heartbeat: 20000 } });
  await p;
  assert.equal(c.state, "open");
  assert.equal(c.session, "s9");
  assert.equal(c.connect(), p, "connect while open returns the same promise");
  assert.equal(WS.sockets.length, 1);
});

test("connect rejects with disconnected when a terminal close comes first", async (t) => {
  mockTimers(t);
  const WS = fakeWebSocket();
  const c = new Client("ws://test/ws", { WebSocket: WS });
  const p = c.connect();
  WS.last.serverClose(1008, "policy");
  await rejectsWith(p, "disconnected", /1008 policy/);
  assert.equal(c.state, "closed");
  // A new connect makes a new socket.
  const p2 = c.connect();
  assert.notEqual(p2, p);
  assert.equal(WS.sockets.length, 2);
  WS.last.welcome();
  await p2;
});

test("connect rejects when the WebSocket constructor throws", async (t) => {
  mockTimers(t);
  class Bad {
    constructor() {
      throw new SyntaxError("bad url");
    }
  }
  const c = new Client("nope", { WebSocket: Bad });
  await assert.rejects(c.connect(), SyntaxError);
  assert.equal(c.state, "closed");
  await assert.rejects(c.connect(), SyntaxError, "a failed connect is not cached");
});

test("connect uses globalThis.WebSocket by default", async (t) => {
  mockTimers(t);
  const WS = fakeWebSocket();
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = WS;
  try {
    const c = new Client("ws://test/ws");
    const p = c.connect();
    WS.last.welcome();
    await p;
    c.close();
  } finally {
    globalThis.WebSocket = saved;
  }
});

test("call sends an envelope and resolves with the result", async (t) => {
  const { c, ws } = await connected(t);
  const p1 = c.call("login", { name: "ann" });
  const p2 = c.call("logout");
  assert.deepEqual(ws.sent, [
    { id: 1, call: "login", args: { name: "ann" } },
    { id: 2, call: "logout", args: {} },
  ]);
  // Answers may come in any order; unknown members are ignored.
  ws.receive({ id: 2, result: {}, later: "ignored" });
  ws.receive({ id: 1, result: { users: ["ann", "bob"] } });
  assert.deepEqual(await p1, { users: ["ann", "bob"] });
  assert.deepEqual(await p2, {});
});

test("call ids are unique per connection", async (t) => {
  const { c, ws } = await connected(t);
  for (let i = 0; i < 5; i++) c.call("x").catch(() => {});
  assert.deepEqual(
    ws.sent.map((m) => m.id),
    [1, 2, 3, 4, 5],
  );
  c.close();
});

test("call rejects with the server's error", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.call("login", { name: "ann" });
  ws.receive({ id: 1, error: { code: "name_taken", message: "ann is online" } });
  const err = await rejectsWith(p, "name_taken", /^ann is online$/);
  assert.equal(err.name, "DuplexError");
  assert.ok(err instanceof Error);
});

test("call rejects with the schema error's class from the spec", async (t) => {
  class NameTakenError extends DuplexError {}
  const { c, ws } = await connected(t, {}, { errors: { name_taken: NameTakenError } });
  const p1 = c.call("login");
  const p2 = c.call("login");
  const p3 = c.call("login");
  ws.receive({ id: 1, error: { code: "name_taken", message: "taken" } });
  ws.receive({ id: 2, error: { code: "internal", message: "internal error" } });
  ws.receive({ id: 3, error: { code: "constructor" } });
  const e1 = await rejectsWith(p1, "name_taken", /^taken$/);
  assert.ok(e1 instanceof NameTakenError);
  const e2 = await rejectsWith(p2, "internal");
  assert.ok(!(e2 instanceof NameTakenError));
  const e3 = await rejectsWith(p3, "constructor", /^constructor$/); // message defaults to the code
  assert.equal(Object.getPrototypeOf(e3), DuplexError.prototype);
});

test("call encodes bigint, Uint8Array and Date", async (t) => {
  const { c, ws } = await connected(t);
  c.call("put", {
    n: 9007199254740993n,
    neg: -9223372036854775808n,
    b: new Uint8Array([0, 1, 2, 253, 254, 255]),
    empty: new Uint8Array(),
    t: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    nested: [{ n: [1n, 2n] }, { m: { k: 18446744073709551615n } }],
    absent: undefined,
  }).catch(() => {});
  assert.deepEqual(ws.sent[0].args, {
    n: "9007199254740993",
    neg: "-9223372036854775808",
    b: "AAEC/f7/",
    empty: "",
    t: "2024-01-02T03:04:05.678Z",
    nested: [{ n: ["1", "2"] }, { m: { k: "18446744073709551615" } }],
  });
  c.close();
});

test("trace: the client's function runs when each call is made; the call's own trace wins; only traceparent and tracestate go out", async (t) => {
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  let carrier = { traceparent: tp, tracestate: "congo=t61rcWkgMzE", baggage: "user=ann" }; // what a propagator injects
  let calls = 0;
  const WS = fakeWebSocket();
  mockTimers(t);
  const c = new Client("ws://test/ws", { WebSocket: WS, trace: () => (calls++, carrier) });
  const p = c.connect();
  const queued = c.call("a"); // made while connecting: its trace is the one of the moment it was made
  assert.equal(calls, 1, "the trace function runs when the call is made");
  carrier = {};
  WS.last.welcome();
  await p;
  c.call("b").catch(() => {}); // {}: no traceparent, no member
  c.call("c", {}, { trace: { traceparent: tp } }).catch(() => {}); // its own: the function is not asked
  carrier = undefined;
  c.call("d").catch(() => {});
  assert.equal(calls, 3);
  assert.deepEqual(WS.last.sent.slice(1), [
    { id: 1, call: "a", args: {}, trace: { traceparent: tp, tracestate: "congo=t61rcWkgMzE" } },
    { id: 2, call: "b", args: {} },
    { id: 3, call: "c", args: {}, trace: { traceparent: tp } },
    { id: 4, call: "d", args: {} },
  ]);
  WS.last.receive({ id: 1, result: {} });
  await queued;
  // A function that throws rejects the call with its error; nothing is sent.
  const boom = new Error("no tracer");
  const failing = new Client("ws://test/ws", {
    WebSocket: WS,
    trace: () => {
      throw boom;
    },
  });
  const fp = failing.connect();
  WS.last.welcome();
  await fp;
  await assert.rejects(failing.call("e"), (e) => e === boom);
  assert.deepEqual(WS.last.sent, [{ hello: {} }]);
  failing.close();
  c.close();
});

test("call rejects with disconnected when closed, and waits while connecting", async (t) => {
  mockTimers(t);
  const WS = fakeWebSocket();
  const c = new Client("ws://test/ws", { WebSocket: WS });
  const early = await rejectsWith(c.call("x"), "disconnected", /not connected/);
  assert.equal(early.retryable, false);
  const p = c.connect();
  const queued = c.call("x"); // still connecting: queued
  WS.last.open();
  assert.deepEqual(WS.last.sent, [{ hello: {} }]);
  WS.last.welcome();
  await p;
  assert.deepEqual(WS.last.sent, [{ hello: {} }, { id: 1, call: "x", args: {} }]);
  WS.last.receive({ id: 1, result: { ok: true } });
  assert.deepEqual(await queued, { ok: true });
  c.close();
  await rejectsWith(c.call("x"), "disconnected", /not connected/);
  assert.equal(WS.last.sent.length, 2);
});

test("pending calls reject with disconnected, retryable, when the connection is lost", async (t) => {
  const { c, ws, WS } = await connected(t);
  const p1 = c.call("a");
  const p2 = c.call("b");
  ws.serverClose(1001, "going away");
  const e1 = await rejectsWith(p1, "disconnected", /1001 going away/);
  assert.equal(e1.retryable, true);
  await rejectsWith(p2, "disconnected");
  // A late answer for a settled call is ignored.
  ws.receive({ id: 1, result: {} });
  assert.equal(c.state, "reconnecting");
  // A call made now waits for the next connection.
  const p3 = c.call("c");
  t.mock.timers.tick(0); // 1001: the first retry is at once
  WS.last.welcome({ resumed: true });
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "t1", seq: 0 } }, { id: 3, call: "c", args: {} }]);
  WS.last.receive({ id: 3, result: {} });
  await p3;
  c.close();
});

test("close sends 1000 by default, or the code and reason given", async (t) => {
  {
    const { c, ws } = await connected(t);
    const p = c.call("a");
    c.close();
    assert.equal(c.state, "closed");
    assert.deepEqual(ws.closedWith, [1000, undefined]);
    const err = await rejectsWith(p, "disconnected", /1000/);
    assert.equal(err.retryable, false);
  }
  {
    const { c, ws } = await connected(t);
    c.close(4001, "bye");
    assert.deepEqual(ws.closedWith, [4001, "bye"]);
    c.close(); // repeat calls are harmless
  }
});

test("connect after close opens a new socket; the old one's close does not disturb it", async (t) => {
  const { c, ws, WS } = await connected(t);
  const old = c.call("slow");
  c.close();
  const p = c.connect(); // the old socket is still closing
  assert.equal(WS.sockets.length, 2);
  WS.last.welcome();
  await p;
  await rejectsWith(old, "disconnected");
  const fresh = c.call("a");
  assert.deepEqual(WS.last.sent, [{ hello: {} }, { id: 2, call: "a", args: {} }], "close forgets the session: no resume");
  await tick();
  assert.equal(ws.readyState, 3);
  assert.equal(c.state, "open");
  WS.last.receive({ id: 2, result: { ok: true } });
  assert.deepEqual(await fresh, { ok: true });
  c.close();
});

test("call times out after 30 s by default and tells the server", async (t) => {
  const { c, ws } = await connected(t, {}, undefined, { heartbeat: 2 ** 31 - 1 });
  const p = c.call("slow");
  t.mock.timers.tick(29999);
  await tick();
  assert.deepEqual(ws.sent.length, 1);
  t.mock.timers.tick(1);
  await rejectsWith(p, "timeout", /slow timed out after 30000 ms/);
  assert.deepEqual(ws.sent[1], { cancel: 1 });
  ws.receive({ id: 1, result: {} }); // too late: ignored
});

test("timeouts: per call, per client, and 0 for none", async (t) => {
  const { c, ws } = await connected(t, { timeout: 100 }, undefined, { heartbeat: 2 ** 31 - 1 });
  const def = c.call("a");
  const short = c.call("b", {}, { timeout: 10 });
  const none = c.call("c", {}, { timeout: 0 });
  t.mock.timers.tick(10);
  await rejectsWith(short, "timeout", /10 ms/);
  t.mock.timers.tick(90);
  await rejectsWith(def, "timeout", /100 ms/);
  t.mock.timers.tick(10 ** 9);
  ws.receive({ id: 3, result: { late: "but fine" } });
  assert.deepEqual(await none, { late: "but fine" });
  assert.deepEqual(ws.sent.slice(3), [{ cancel: 2 }, { cancel: 1 }]);
});

test("an answer clears the call's timer", async (t) => {
  const { c, ws } = await connected(t, {}, undefined, { heartbeat: 2 ** 31 - 1 });
  const p = c.call("a");
  ws.receive({ id: 1, result: {} });
  await p;
  t.mock.timers.tick(60000);
  assert.equal(ws.sent.length, 1, "no cancel after the answer");
});

test("abort rejects with canceled and sends a cancel", async (t) => {
  const { c, ws } = await connected(t);
  const ac = new AbortController();
  const p = c.call("slow", { n: 1 }, { signal: ac.signal });
  ac.abort();
  await rejectsWith(p, "canceled", /slow canceled/);
  assert.deepEqual(ws.sent, [{ id: 1, call: "slow", args: { n: 1 } }, { cancel: 1 }]);
  ws.receive({ id: 1, error: { code: "canceled", message: "call canceled" } }); // the server's answer: ignored
  ac.abort(); // again: nothing more is sent
  assert.equal(ws.sent.length, 2);
});

test("an already aborted signal rejects without sending anything", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.call("slow", {}, { signal: AbortSignal.abort() });
  await rejectsWith(p, "canceled");
  assert.equal(ws.sent.length, 0);
});

test("a signal aborted after the answer changes nothing", async (t) => {
  const { c, ws } = await connected(t);
  const ac = new AbortController();
  const p = c.call("a", {}, { signal: ac.signal });
  ws.receive({ id: 1, result: { v: 1 } });
  assert.deepEqual(await p, { v: 1 });
  ac.abort();
  assert.equal(ws.sent.length, 1);
});

test("frames that are not JSON objects, replies to unknown ids and unknown envelopes are ignored", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.call("a");
  for (const frame of ["not json", "null", "42", '"str"', "[]", "{}", '{"pong":1}', '{"heartbeat":1}'])
    ws.receive(frame);
  ws.receive({ id: 99, result: {} });
  ws.receive({ id: 99, error: { code: "bad_request", message: "no such call" } });
  // The server's answer to an envelope without a usable id (docs/protocol.md, Bad input): it settles no call.
  ws.receive('{"id":null,"error":{"code":"bad_request","message":"id: expected number, got string"}}');
  ws.receive('{"id":"1","result":{"wrong":1}}');
  ws.receive({ id: 1, result: { ok: 1 } });
  assert.deepEqual(await p, { ok: 1 });
});

test("null members are dropped: optional fields are absent, never null", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.call("a");
  ws.receive('{"id":1,"error":null,"result":{"a":null,"b":{"c":null,"d":1}}}');
  assert.deepEqual(await p, { b: { d: 1 } });
});

test("events reach their handlers in seq order; stale ones are dropped", async (t) => {
  const { c, ws } = await connected(t);
  const said = [];
  const all = [];
  c.on("said", (d) => said.push(d.text));
  c.on("said", (d) => all.push("said " + d.text));
  c.on("left", (d) => all.push("left " + d.name));
  ws.receive({ event: "said", seq: 1, data: { text: "a" } });
  ws.receive({ event: "left", seq: 2, data: { name: "bob" } });
  ws.receive({ event: "said", seq: 2, data: { text: "dup" } });
  ws.receive({ event: "said", seq: 1, data: { text: "old" } });
  ws.receive({ event: "said", seq: 5, data: { text: "b" } });
  ws.receive({ event: "said", seq: 4, data: { text: "late" } });
  ws.receive({ event: "said", data: { text: "no seq" } });
  ws.receive({ event: "nobody", seq: 6, data: {} });
  ws.receive({ event: "said", seq: 7, data: { text: "c" }, extra: true });
  assert.deepEqual(said, ["a", "b", "c"]);
  assert.deepEqual(all, ["said a", "left bob", "said b", "said c"]);
});

test("on returns an unsubscribe function", async (t) => {
  const { c, ws } = await connected(t);
  const got = [];
  const off = c.on("said", (d) => got.push(d.n));
  ws.receive({ event: "said", seq: 1, data: { n: 1 } });
  off();
  off(); // repeat calls are harmless
  ws.receive({ event: "said", seq: 2, data: { n: 2 } });
  const off2 = c.on("said", (d) => got.push(d.n * 10));
  ws.receive({ event: "said", seq: 3, data: { n: 3 } });
  off2();
  assert.deepEqual(got, [1, 30]);
});

test("a handler that throws does not stop the others; the error is rethrown asynchronously", async (t) => {
  const { c, ws } = await connected(t);
  const got = [];
  c.on("said", () => {
    throw new Error("boom");
  });
  c.on("said", (d) => got.push(d.n));
  ws.receive({ event: "said", seq: 1, data: { n: 1 } });
  assert.deepEqual(got, [1]);
  assert.throws(() => t.mock.timers.tick(0), /boom/);
});

test("events are decoded with the spec's decoders, once for all handlers", async (t) => {
  let decoded = 0;
  const dec = (v) => (decoded++, { at: new Date(v.at) });
  const { c, ws } = await connected(t, {}, { events: { said: dec } });
  const got = [];
  ws.receive({ event: "said", seq: 1, data: { at: "2024-01-02T03:04:05Z" } }); // no handler: not decoded
  c.on("said", (d) => got.push(d));
  c.on("said", (d) => got.push(d));
  ws.receive({ event: "said", seq: 2, data: { at: "2024-01-02T03:04:05Z" } });
  assert.equal(decoded, 1);
  assert.equal(got[0], got[1]);
  assert.ok(got[0].at instanceof Date);
});

test("a connection after close starts a new session and a new seq", async (t) => {
  const { c, ws, WS } = await connected(t);
  const got = [];
  c.on("e", (d) => got.push(d.n));
  ws.receive({ event: "e", seq: 5, data: { n: 1 } });
  c.close();
  assert.equal(c.session, undefined);
  const p = c.connect();
  WS.last.welcome({ session: "s2" });
  await p;
  assert.deepEqual(WS.last.sent, [{ hello: {} }]);
  assert.equal(c.session, "s2");
  WS.last.receive({ event: "e", seq: 1, data: { n: 2 } });
  assert.deepEqual(got, [1, 2]);
});

test("decoders", () => {
  assert.equal(big("9007199254740993"), 9007199254740993n);
  assert.equal(big("-9223372036854775808"), -9223372036854775808n);
  assert.equal(big("18446744073709551615"), 18446744073709551615n);
  assert.deepEqual(bytes("AAEC/f7/"), new Uint8Array([0, 1, 2, 253, 254, 255]));
  assert.deepEqual(bytes(""), new Uint8Array());
  assert.equal(date("2024-01-02T03:04:05.123456789Z").toISOString(), "2024-01-02T03:04:05.123Z");
  assert.equal(date("2024-01-02T05:04:05+02:00").toISOString(), "2024-01-02T03:04:05.000Z");
  assert.deepEqual(list(big)(["1", "-2"]), [1n, -2n]);
  assert.deepEqual(dict(list(big))({ a: ["1"], b: [] }), { a: [1n], b: [] });
  const m = obj({ n: big, opt: big, toString: big, hasOwnProperty: big, l: list(obj({ t: date })) });
  assert.deepEqual(m({ n: "3", s: "kept", l: [{ t: "1970-01-01T00:00:00Z" }] }), {
    n: 3n,
    s: "kept",
    l: [{ t: new Date(0) }],
  });
  assert.deepEqual(m({ n: "1", toString: "2", hasOwnProperty: "3", l: [] }), { n: 1n, toString: 2n, hasOwnProperty: 3n, l: [] });
  const withProto = JSON.parse('{"__proto__":"1"}');
  const d = dict(big)(withProto);
  assert.equal(Object.getOwnPropertyDescriptor(d, "__proto__").value, 1n);
  assert.equal(Object.getPrototypeOf(d), Object.prototype);
});
