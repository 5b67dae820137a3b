// Runs the generated alltypes.duplex.js (go test ./gen/typescript copies it
// here with the runtime and clients/ts/test/fakews.mjs): every type goes
// through the client to the wire and back, arguments encoded, results and
// events decoded, in every position (required, optional, lists, maps,
// nested messages).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AlltypesClient,
  BoomError,
  Color,
  DuplexError,
  TeapotError,
  isBoom,
  isTeapotError,
} from "./alltypes.duplex.js";
import { fakeWebSocket } from "./fakews.mjs";

// connected returns a client whose hello was answered, with setTimeout
// mocked for the test t: an open client keeps heartbeat timers, which must
// not outlive the test. ws.sent is emptied of the hello.
async function connected(t) {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const WS = fakeWebSocket();
  const c = new AlltypesClient("ws://test/ws", { WebSocket: WS });
  const p = c.connect();
  WS.last.welcome();
  await p;
  assert.deepEqual(WS.last.sent, [{ hello: {} }]);
  WS.last.sent.length = 0;
  return { c, ws: WS.last, WS };
}

/** Sends the call's own wire arguments back as its result. */
function echoBack(ws) {
  const { id, args } = ws.sent[ws.sent.length - 1];
  ws.receive({ id, result: args });
}

const all = Uint8Array.from({ length: 256 }, (_, i) => i);
const b64 = (bytes) => Buffer.from(bytes).toString("base64"); // an independent encoder

const I64_MIN = -9223372036854775808n;
const I64_MAX = 9223372036854775807n;
const U64_MAX = 18446744073709551615n;
const BEYOND_2_53 = 9007199254740993n;

const inner1 = { i64: I64_MIN, blob: new Uint8Array() }; // when absent
const inner1Wire = { i64: "-9223372036854775808", blob: "" };
const inner2 = { i64: BEYOND_2_53, when: new Date("2024-02-29T23:59:59.999Z"), blob: new Uint8Array([0, 255]) };
const inner2Wire = { i64: "9007199254740993", when: "2024-02-29T23:59:59.999Z", blob: "AP8=" };

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

const everythingWire = {
  scalars: {
    b: true,
    i32: -2147483648,
    i64: "9007199254740993",
    u32: 4294967295,
    u64: "18446744073709551615",
    f64: 0.1,
    s: 'héllo \u2028 "quoted" 😀',
    by: b64(all),
    ts: "1969-12-31T23:59:59.001Z",
    id: "123e4567-e89b-12d3-a456-426614174000",
    color: "green",
    inner: inner1Wire,
  },
  optionals: {
    b: false,
    i32: 0,
    i64: "0",
    u32: 0,
    u64: "0",
    f64: -0.5,
    s: "",
    by: "AQ==",
    ts: "1970-01-01T00:00:00.000Z",
    id: "00000000-0000-0000-0000-000000000000",
    color: "red",
    inner: inner2Wire,
    ints: ["1", "-1", "9223372036854775807", "-9223372036854775808"],
    blobs: { a: "AQID", empty: "" },
  },
  containers: {
    i64s: ["9007199254740993", "-9007199254740993", "0"],
    u64s: ["0", "18446744073709551615"],
    blobs: [b64(all), ""],
    times: ["2023-11-14T22:13:20.123Z", "1969-12-31T23:59:59.999Z"],
    inners: [inner1Wire, inner2Wire],
    colors: ["red", "blue"],
    strings: ["a", ""],
    i64map: { x: "-1", y: "9223372036854775807" },
    timemap: { t: "1970-01-02T00:00:00.000Z" },
    innermap: { k: inner2Wire },
    lists: { l: [inner1Wire, inner2Wire], none: [] },
    maps: [{ a: "1", max: "18446744073709551615" }, {}],
  },
  plain: { s: "p", n: 7, tags: ["x", "y"], colors: { c: "green" } },
};

test("echo: every type encodes to its wire form and decodes back", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.echo(everything);
  assert.deepEqual(ws.sent[0], { id: 1, call: "echo", args: everythingWire });
  echoBack(ws);
  const got = await p;
  assert.deepEqual(got, everything);
  assert.equal(typeof got.scalars.i64, "bigint");
  assert.ok(got.scalars.by instanceof Uint8Array);
  assert.ok(got.scalars.ts instanceof Date);
});

test("absent optionals stay absent, both ways; null reads as absent", async (t) => {
  const { c, ws } = await connected(t);
  const sparse = { ...everything, optionals: {} };
  const p = c.echo(sparse);
  assert.deepEqual(ws.sent[0].args.optionals, {});
  echoBack(ws);
  assert.deepEqual(await p, sparse);

  const p2 = c.echo({ ...everything, optionals: { i64: undefined, by: undefined } });
  assert.deepEqual(ws.sent[1].args.optionals, {});
  const nulls = Object.fromEntries(Object.keys(everythingWire.optionals).map((k) => [k, null]));
  ws.receive({ id: 2, result: { ...everythingWire, optionals: nulls, scalars: { ...everythingWire.scalars, inner: { ...inner1Wire, when: null } } } });
  const got = await p2;
  assert.deepEqual(got.optionals, {});
  assert.ok(!("when" in got.scalars.inner));
});

test("decoding takes what a Go server sends: nanoseconds, offsets", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.echoFields({ i64: 1n, u64: 2n, at: new Date(0), inners: [] });
  ws.receive({
    id: 1,
    result: {
      i64: "-9223372036854775808",
      u64: "18446744073709551615",
      at: "2024-01-02T05:04:05.123456789+02:00",
      inners: [{ i64: "9223372036854775807", when: "2024-01-02T03:04:05Z", blob: "AAEC" }],
    },
  });
  assert.deepEqual(await p, {
    i64: I64_MIN,
    u64: U64_MAX,
    at: new Date("2024-01-02T03:04:05.123Z"),
    inners: [{ i64: I64_MAX, when: new Date("2024-01-02T03:04:05Z"), blob: new Uint8Array([0, 1, 2]) }],
  });
});

test("inline arguments and results", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.echoFields({ i64: BEYOND_2_53, u64: U64_MAX, at: new Date(1), data: new Uint8Array([9]), inners: [inner2] });
  assert.deepEqual(ws.sent[0], {
    id: 1,
    call: "echoFields",
    args: { i64: "9007199254740993", u64: "18446744073709551615", at: "1970-01-01T00:00:00.001Z", data: "CQ==", inners: [inner2Wire] },
  });
  echoBack(ws);
  assert.deepEqual(await p, { i64: BEYOND_2_53, u64: U64_MAX, at: new Date(1), data: new Uint8Array([9]), inners: [inner2] });

  const count = c.count();
  assert.deepEqual(ws.sent[1], { id: 2, call: "count", args: {} });
  ws.receive({ id: 2, result: { n: "18446744073709551615" } });
  assert.deepEqual(await count, { n: U64_MAX });

  const userID = c.user_id({ id: "123e4567-e89b-12d3-a456-426614174000" });
  ws.receive({ id: 3, result: { plain: everythingWire.plain } });
  assert.deepEqual(await userID, { plain: everything.plain });
});

test("a command without results resolves with undefined; one without conversions passes the result through", async (t) => {
  const { c, ws } = await connected(t);
  const p = c.nothing();
  assert.deepEqual(ws.sent[0], { id: 1, call: "nothing", args: {} });
  ws.receive({ id: 1, result: {} });
  assert.equal(await p, undefined);

  const plain = c.plain(everything.plain);
  assert.deepEqual(ws.sent[1].args, everythingWire.plain);
  echoBack(ws);
  assert.deepEqual(await plain, everything.plain);
});

test("events are decoded for their handlers", async (t) => {
  const { c, ws } = await connected(t);
  const got = [];
  c.on("happened", (d) => got.push(d));
  c.on("plainEvent", (d) => got.push(d));
  c.on("empty", (d) => got.push(d));
  c.on("old", (d) => got.push(d));
  ws.receive({ event: "happened", seq: 1, data: { everything: everythingWire, seq: "18446744073709551615" } });
  ws.receive({ event: "plainEvent", seq: 2, data: { s: "x" } });
  ws.receive({ event: "empty", seq: 3, data: {} });
  ws.receive({ event: "old", seq: 4, data: { at: "2024-01-02T03:04:05Z", shade: "dark" } });
  assert.deepEqual(got, [{ everything, seq: U64_MAX }, { s: "x" }, {}, { at: new Date("2024-01-02T03:04:05Z"), shade: "dark" }]);
});

test("schema errors reject with their classes", async (t) => {
  const { c, ws } = await connected(t);
  const boom = c.echo(everything);
  const teapot = c.echo(everything);
  const other = c.echo(everything);
  ws.receive({ id: 1, error: { code: "boom", message: "it blew up" } });
  ws.receive({ id: 2, error: { code: "teapot_error", message: "short and stout" } });
  ws.receive({ id: 3, error: { code: "bad_request", message: "no" } });
  const e1 = await boom.catch((e) => e);
  assert.ok(e1 instanceof BoomError && e1 instanceof DuplexError && e1 instanceof Error);
  assert.ok(isBoom(e1) && !isTeapotError(e1));
  assert.equal(e1.code, "boom");
  assert.equal(e1.message, "it blew up");
  const e2 = await teapot.catch((e) => e);
  assert.ok(e2 instanceof TeapotError && isTeapotError(e2) && !isBoom(e2));
  const e3 = await other.catch((e) => e);
  assert.ok(e3 instanceof DuplexError && !isBoom(e3) && !isTeapotError(e3));
  assert.equal(e3.code, "bad_request");
  assert.ok(!isBoom(new Error("boom")) && !isBoom(undefined) && !isBoom({ code: "boom" }));
});

test("an @idempotent command is sent again after a reconnect; the others reject, retryable", async (t) => {
  const { c, ws, WS } = await connected(t);
  const count = c.count();
  const plain = c.plain(everything.plain);
  ws.serverClose(1012, "restart");
  const err = await plain.catch((e) => e);
  assert.ok(err instanceof DuplexError && err.code === "disconnected" && err.retryable, String(err));
  t.mock.timers.tick(0);
  WS.last.welcome({ resumed: true });
  assert.deepEqual(WS.last.sent, [{ hello: { resume: "t1", seq: 0 } }, { id: 3, call: "count", args: {} }]);
  WS.last.receive({ id: 3, result: { n: "7" } });
  assert.deepEqual(await count, { n: 7n });
  c.close();
});

test("enum objects hold their values", () => {
  assert.deepEqual(Color, { red: "red", green: "green", blue: "blue" });
});
