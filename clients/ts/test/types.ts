// Compile-time checks of the runtime's public types (npm run check): the
// browser's own WebSocket and AbortSignal are accepted as they are, and
// events and results are typed. Never run.
import { Client, DuplexError, type CallOptions, type ClientOptions, type WebSocketConstructor } from "../dist/duplex.js";

interface Events {
  said: { text: string; at: Date };
  left: { name: string };
}

const opts: ClientOptions = { WebSocket, timeout: 1000 };
const ctor: WebSocketConstructor = WebSocket;
const call: CallOptions = { signal: new AbortController().signal, timeout: 5 };

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
  c.close(4000, "bye");
  try {
    await c.call("x");
  } catch (e) {
    if (e instanceof DuplexError) return e.code;
  }
  void ctor;
  return String(r);
}
