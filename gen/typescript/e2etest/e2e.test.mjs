// Runs the generated TypeScript client for ../testdata/alltypes/alltypes.duplex
// against a real Go server: go test ./gen/typescript/e2etest copies this file
// into a temporary directory beside the committed golden alltypes.duplex.js
// and the runtime (duplex.js), starts the runtime with the Go code generated
// for the same schema, and runs
//
//   node --experimental-websocket --test e2e.test.mjs
//
// with the server's host:port in DUPLEX_E2E_ADDR. Every type crosses the
// wire both ways through two independent codecs (the generated TypeScript
// and the generated Go); errors, events, abort, timeout and disconnect are
// checked on the client, and the Go test checks that the server's handlers
// saw the cancellations. Sessions too: hello and welcome, resume with the
// events pushed while the client was away, start-over, and the heartbeat
// (the server's welcome says 300 ms).
import { test } from "node:test";
import assert from "node:assert/strict";
import { AlltypesClient, BoomError, Color, DuplexError, isBoom } from "./alltypes.duplex.js";

const addr = process.env.DUPLEX_E2E_ADDR;
if (!addr) throw new Error("DUPLEX_E2E_ADDR is not set: run go test ./gen/typescript/e2etest");
const url = "ws://" + addr + "/";
// client connects a new client that t closes when it ends, passed or failed:
// a socket left open would keep node running.
async function client(t) {
  const c = new AlltypesClient(url, { timeout: 10_000 });
  t.after(() => c.close());
  await c.connect();
  return c;
}
const all = Uint8Array.from({ length: 256 }, (_, i) => i);

const I64_MIN = -9223372036854775808n;
const I64_MAX = 9223372036854775807n;
const U64_MAX = 18446744073709551615n;
const BEYOND_2_53 = 9007199254740993n;

const inner1 = { i64: I64_MIN, blob: new Uint8Array() }; // when absent
const inner2 = { i64: BEYOND_2_53, when: new Date("2024-02-29T23:59:59.999Z"), blob: new Uint8Array([0, 255]) };

const everything = {
  scalars: {
    b: true,
    i32: -2147483648,
    i64: BEYOND_2_53,
    u32: 4294967295,
    u64: U64_MAX,
    f64: 0.1,
    s: 'héllo \u2028 "quoted" 😀',
    by: all,
    ts: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 1)),
    id: "123e4567-e89b-12d3-a456-426614174000",
    color: Color.green,
    inner: inner1,
  },
  optionals: {
    b: false,
    i32: 0,
    i64: 0n,
    u32: 0,
    u64: 0n,
    f64: -0.5,
    s: "",
    by: new Uint8Array([1]),
    ts: new Date(0),
    id: "00000000-0000-0000-0000-000000000000",
    color: "red",
    inner: inner2,
    ints: [1n, -1n, I64_MAX, I64_MIN],
    blobs: { a: new Uint8Array([1, 2, 3]), empty: new Uint8Array() },
  },
  containers: {
    i64s: [BEYOND_2_53, -BEYOND_2_53, 0n],
    u64s: [0n, U64_MAX],
    blobs: [all, new Uint8Array()],
    times: [new Date(1700000000123), new Date(-1)],
    inners: [inner1, inner2],
    colors: ["red", "blue"],
    strings: ["a", ""],
    i64map: { x: -1n, y: I64_MAX },
    timemap: { t: new Date(86400000) },
    innermap: { k: inner2 },
    lists: { l: [inner1, inner2], none: [] },
    maps: [{ a: 1n, max: U64_MAX }, {}],
  },
  plain: { s: "p", n: 7, tags: ["x", "y"], colors: { c: "green" } },
};

test("echo through the Go server", async (t) => {
  const c = await client(t);
  assert.deepEqual(await c.echo(everything), everything);
  const sparse = { ...everything, optionals: {} };
  assert.deepEqual(await c.echo(sparse), sparse);
});

test("inline fields, no-arg, void, uuid", async (t) => {
  const c = await client(t);
  const args = { i64: BEYOND_2_53, u64: U64_MAX, at: new Date(1), data: new Uint8Array([9]), inners: [inner1, inner2] };
  assert.deepEqual(await c.echoFields(args), args);
  const noData = { i64: I64_MIN, u64: 0n, at: new Date(0), inners: [] };
  assert.deepEqual(await c.echoFields(noData), noData);
  assert.deepEqual(await c.count(), { n: BEYOND_2_53 });
  await assert.rejects(c.nothing(), (e) => e instanceof DuplexError && e.code === "unimplemented");
  await assert.rejects(c.user_id({ id: "not-a-uuid" }), (e) => e.code === "bad_request");
});

test("schema error", async (t) => {
  const c = await client(t);
  const e = await c.echo({ ...everything, plain: { ...everything.plain, s: "boom" } }).catch((e) => e);
  assert.ok(e instanceof BoomError && isBoom(e), String(e));
  assert.equal(e.message, "it blew up");
});

test("events", async (t) => {
  const c = await client(t);
  const got = [];
  c.on("happened", (d) => got.push(d));
  c.on("old", (d) => got.push(d));
  const arg = { ...everything, plain: { ...everything.plain, s: "push" } };
  await c.echo(arg);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, [{ everything: arg, seq: I64_MIN }, { at: new Date("2024-01-02T03:04:05.123Z"), shade: "dark" }]);
});

test("abort and timeout cancel the handler", async (t) => {
  const c = await client(t);
  const ac = new AbortController();
  const p = c.plain({ s: "slow", n: 1, tags: [], colors: {} }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(p, (e) => e.code === "canceled");
  await assert.rejects(c.plain({ s: "slow", n: 2, tags: [], colors: {} }, { timeout: 50 }), (e) => e.code === "timeout");
  await new Promise((r) => setTimeout(r, 100));
});

test("close 1000 and disconnect", async (t) => {
  const c = await client(t);
  const p = c.plain({ s: "slow", n: 3, tags: [], colors: {} });
  c.close(1000, "bye");
  await assert.rejects(p, (e) => e.code === "disconnected" && /1000/.test(e.message));
});

// drop closes the client's socket with a code that is not terminal: the
// test's stand-in for a network failure (it reaches into the runtime's
// private socket).
function drop(c) {
  c._ws.close(3000, "dropped by the test");
}

/** Resolves at c's next change to state s. */
const next = (c, s) => new Promise((resolve) => { const off = c.onState((x) => x === s && (off(), resolve())); });

async function until(cond, what) {
  for (const deadline = Date.now() + 10_000; !cond(); await new Promise((r) => setTimeout(r, 10)))
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test("hello and welcome: a session id, and a quiet connection stays open on pongs", async (t) => {
  const states = [];
  // pingTimeout leaves a loaded machine time to answer a ping.
  const c = new AlltypesClient(url, { pingTimeout: 1500, onState: (s) => states.push(s) });
  t.after(() => c.close());
  await c.connect();
  assert.match(c.session, uuid);
  // Silent for 10 heartbeats: pings go out, pongs come back in time (a
  // missing one would drop the connection after 300 + 1500 ms).
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(states, ["connecting", "open"]);
  assert.deepEqual(await c.count(), { n: BEYOND_2_53 });
});

test("a lost connection resumes its session: missed events once each, in order", async (t) => {
  const random = Math.random;
  Math.random = () => 0.999; // reconnect after ~300 ms: after the pushes
  t.after(() => (Math.random = random));
  const states = [];
  const startOvers = [];
  const c = new AlltypesClient(url, { timeout: 10_000, backoffBase: 300, onState: (s) => states.push(s), onStartOver: (r) => startOvers.push(r) });
  t.after(() => c.close());
  await c.connect();
  const session = c.session;
  const got = [];
  c.on("plainEvent", (d) => got.push(d.s));
  c.on("old", () => got.push("old"));
  c.on("happened", () => got.push("happened"));
  await c.echo({ ...everything, plain: { ...everything.plain, s: "push" } }); // events 1 and 2
  await until(() => got.length === 2, "the pushed events");
  await c.plain({ s: "detached", n: 0, tags: [], colors: {} });
  const back = next(c, "open");
  drop(c);
  await back;
  await until(() => got.length === 4, "the missed events");
  assert.equal(c.session, session);
  await c.echo({ ...everything, plain: { ...everything.plain, s: "push" } }); // events 5 and 6: live again
  await until(() => got.length === 6, "live events");
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, ["happened", "old", "missed 1", "missed 2", "happened", "old"]);
  assert.deepEqual(startOvers, []);
  assert.deepEqual(states, ["connecting", "open", "reconnecting", "open"]);
});

test("a session the server cannot resume starts over", async (t) => {
  const startOvers = [];
  const c = new AlltypesClient(url, { timeout: 10_000, onStartOver: (r) => startOvers.push(r) });
  t.after(() => c.close());
  await c.connect();
  const session = c.session;
  c._tok += "x"; // a token the server never issued (private)
  const back = next(c, "open");
  drop(c);
  await back;
  assert.deepEqual(startOvers, ["unknown"]);
  assert.match(c.session, uuid);
  assert.notEqual(c.session, session);
  assert.deepEqual(await c.count(), { n: BEYOND_2_53 });
});

// thread returns a comment whose replies nest n levels deep, each level
// with a date to decode; the innermost has a parent and recursive tags.
function thread(n) {
  let c = {
    text: "leaf",
    at: new Date(n),
    replies: [],
    parent: { text: "parent", at: new Date(-1), replies: [], tags: [] },
    tags: [{ name: "t", children: [{ name: "u", children: [] }] }],
  };
  for (let i = n - 1; i >= 0; i--) c = { text: "level " + i, at: new Date(i), replies: [c], tags: [] };
  return c;
}

test("recursive types: a thread 200 levels deep, folders through a map", async (t) => {
  const c = await client(t);
  const deep = thread(200);
  const got = await c.thread(deep);
  assert.deepEqual(got, deep);
  let leaf = got;
  for (let i = 0; i < 200; i++) leaf = leaf.replies[0];
  assert.ok(leaf.at instanceof Date && leaf.parent.at instanceof Date, "dates decoded at the bottom");
  const tree = {
    root: { entries: { a: { size: BEYOND_2_53, sub: { entries: { b: { size: 1n, sub: { entries: {} } } } } }, c: { size: 0n, sub: { entries: {} } } } },
  };
  assert.deepEqual(await c.tree(tree), tree);
});

test("a value nested deeper than the server reads is a bad_request; the connection stays", async (t) => {
  const c = await client(t);
  // 300 levels of replies: 600 JSON levels and more.
  await assert.rejects(c.thread(thread(300)), (e) => e.code === "bad_request" && /: nested deeper than 512$/.test(e.message));
  assert.deepEqual(await c.thread(thread(3)), thread(3));
});

test("commands whose parameters are all optional take no argument", async (t) => {
  const c = await client(t);
  assert.deepEqual(await c.search(), {});
  assert.deepEqual(await c.search(undefined, { timeout: 10_000 }), {});
  assert.deepEqual(await c.search({ limit: 3 }), { limit: 3 });
  assert.deepEqual(await c.echoOptionals(), {});
  // Required parameters: the server names the first one missing.
  await assert.rejects(c.tree(), (e) => e.code === "bad_request" && e.message === "args.root: required field missing");
  await assert.rejects(c.thread(), (e) => e.code === "bad_request" && e.message === "args.text: required field missing");
});

// trace: the server answers plain {s: "trace"} with the call's trace
// member as it read it, "-" for none.
const traceQuery = { s: "trace", n: 0, tags: [], colors: {} };

test("trace: the server reads the trace member the client's function or the call gives", async (t) => {
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  let carrier = { traceparent: tp, tracestate: "congo=t61rcWkgMzE", baggage: "user=ann" };
  const c = new AlltypesClient(url, { timeout: 10_000, trace: () => carrier });
  t.after(() => c.close());
  await c.connect();
  const seen = async (opts) => (await c.plain(traceQuery, opts)).s;
  assert.equal(await seen(), `{"traceparent":"${tp}","tracestate":"congo=t61rcWkgMzE"}`);
  const own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
  assert.equal(await seen({ trace: { traceparent: own } }), `{"traceparent":"${own}"}`);
  carrier = {}; // no span: the propagator injected nothing
  assert.equal(await seen(), "-");
  const plain = await client(t);
  assert.equal((await plain.plain(traceQuery)).s, "-");
});

// params: the server's AuthorizeHello passes "good-<user>" tokens and
// refuses others (4401 "unauthorized"), and "banned" with 4003.
const whoami = { s: "whoami", n: 0, tags: [], colors: {} };

test("params: a refused token is refreshed before the retry, and every resume sends the current one", async (t) => {
  const tokens = ["expired", "good-ann", "good-ann2"];
  const sent = [];
  const closes = [];
  const c = new AlltypesClient(url, {
    timeout: 10_000,
    backoffBase: 20,
    params: async () => {
      await new Promise((r) => setTimeout(r, 10)); // a token endpoint
      const token = tokens.shift();
      sent.push(token);
      return { token };
    },
    onClose: (e) => closes.push(e),
  });
  t.after(() => c.close());
  await c.connect();
  assert.deepEqual(closes, [{ code: 4401, reason: "unauthorized", wasClean: true }]);
  assert.deepEqual(await c.plain(whoami), { ...whoami, s: "ann" });
  const session = c.session;
  const back = next(c, "open");
  drop(c);
  await back;
  assert.deepEqual(sent, ["expired", "good-ann", "good-ann2"]);
  assert.equal(c.session, session, "the session resumed after the refusal and with the new token");
  assert.deepEqual(await c.plain(whoami), { ...whoami, s: "ann" }, "a resumed session keeps its attributes");
});

test("params: a refusal with 4003 ends the client; the app sees why", async (t) => {
  const c = new AlltypesClient(url, { params: () => ({ token: "banned" }) });
  t.after(() => c.close());
  await assert.rejects(c.connect(), (e) => e.code === "disconnected" && /4003 banned/.test(e.message));
  assert.equal(c.state, "closed");
});

test("lazy and idle: the first call connects, an idle connection closes, a handler resumes it with the missed events", async (t) => {
  const states = [];
  const startOvers = [];
  const c = new AlltypesClient(url, {
    lazy: true,
    idle: 200,
    timeout: 10_000,
    params: () => ({ token: "good-bo" }),
    onState: (s) => states.push(s),
    onStartOver: (r) => startOvers.push(r),
  });
  t.after(() => c.close());
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(states, [], "a lazy client connected before its first call");
  // Pushes "missed 1" and "missed 2" once the session is detached: after
  // the idle close.
  const other = await client(t);
  const pushed = async () => (await other.plain({ s: "detached?", n: 0, tags: [], colors: {} })).n;
  const before = await pushed();
  await c.plain({ s: "detached", n: 0, tags: [], colors: {} });
  const session = c.session;
  await until(() => c.state === "closed", "the idle close");
  // The server pushes once it has seen the close.
  for (const deadline = Date.now() + 10_000; (await pushed()) === before; await new Promise((r) => setTimeout(r, 10)))
    if (Date.now() > deadline) throw new Error("timed out waiting for the server's pushes");
  const got = [];
  c.on("plainEvent", (e) => got.push(e.s)); // connects: the replay needs a handler
  await until(() => got.length === 2, "the missed events");
  assert.deepEqual(got, ["missed 1", "missed 2"]);
  assert.equal(c.session, session);
  assert.deepEqual(startOvers, []);
  assert.deepEqual(await c.plain(whoami), { ...whoami, s: "bo" });
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(c.state, "open", "an event handler keeps the connection open");
  assert.deepEqual(states, ["connecting", "open", "closed", "connecting", "open"]);
});
