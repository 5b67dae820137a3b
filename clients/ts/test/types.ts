// Compile-time checks of the runtime's public types (npm run check): the
// browser's own WebSocket and AbortSignal are accepted as they are, and
// events and results are typed. Never run.
import { Client, DuplexError, type CallOptions, type ClientOptions, type State, type WebSocketConstructor } from "../dist/duplex.js";

interface Events {
  said: { text: string; at: Date };
  left: { name: string };
}

const opts: ClientOptions = {
  WebSocket,
  timeout: 1000,
  backoffBase: 100,
  backoffMax: 10000,
  maxAttempts: 10,
  terminal: (code) => code == 4001,
  queue: 10,
  maxInFlight: 8,
  pingTimeout: 5000,
  onState: (s) => void (s satisfies State),
  onStartOver: (reason: string) => void reason,
  onGiveUp: () => {},
};
const codes: ClientOptions = { terminal: [1008, 4001] };
// @ts-expect-error: no such state
const bad: State = "opening";
const ctor: WebSocketConstructor = WebSocket;
const call: CallOptions = { signal: new AbortController().signal, timeout: 5, idempotent: true, trace: { traceparent: "00-…-01" } };
// The shape of OpenTelemetry's propagation.inject into a fresh carrier.
const traced: ClientOptions = {
  trace: () => {
    const carrier: Record<string, string> = {};
    return carrier;
  },
};
const traceOff: ClientOptions = { trace: () => undefined };
// @ts-expect-error: traceparent is a string
const badTrace: CallOptions = { trace: { traceparent: 1 } };

export async function use(): Promise<string> {
  const c = new Client<Events>("ws://localhost/ws", opts);
  await c.connect();
  const off = c.on("said", (d) => {
    const text: string = d.text;
    const at: Date = d.at;
    void text, at;
  });
  off();
  // @ts-expect-error: no such event
  c.on("nope", () => {});
  // @ts-expect-error: wrong data type
  c.on("left", (d: { text: string }) => void d);
  const r: unknown = await c.call("login", { name: "ann" }, call);
  const state: State = c.state;
  const session: string | undefined = c.session;
  const offs: (() => void)[] = [
    c.onState((s) => {
      // @ts-expect-error: not a state
      if (s == "opened") return;
    }),
    c.onStartOver((reason) => void reason.length),
    c.onGiveUp(() => {}),
  ];
  offs.forEach((f) => f());
  c.close(4000, "bye");
  try {
    await c.call("x");
  } catch (e) {
    if (e instanceof DuplexError) return e.retryable ? "again" : e.code;
  }
  void ctor, codes, bad, state, session, traced, traceOff, badTrace;
  return String(r);
}
