/**
 * The duplex client runtime: wire protocol v1 (docs/protocol.md) over one
 * WebSocket, for browsers and Node 20. Generated clients (`duplex gen`)
 * extend {@link Client} with one typed method per command and typed events;
 * this module has no dependencies and is shipped beside them as duplex.js.
 *
 * Wire protocol v1: JSON text frames, subprotocol `duplex.v1+json`.
 *
 *     client → server  {"id": 7, "call": "login", "args": {...}}
 *     client → server  {"cancel": 7}
 *     server → client  {"id": 7, "result": {...}}
 *     server → client  {"id": 7, "error": {"code": "name_taken", "message": "..."}}
 *     server → client  {"event": "said", "seq": 42, "data": {...}}
 *
 * Members of a frame this runtime does not know are ignored, and so are
 * frames that are neither a reply nor an event.
 *
 * @module
 */

/** The WebSocket subprotocol of wire protocol v1. */
const PROTOCOL = "duplex.v1+json";

/** WebSocket.OPEN */
const OPEN = 1;

/**
 * A call that failed. `code` is the error's wire code: a schema error's
 * snake_case name ("name_taken"; generated clients throw a subclass per
 * schema error), or one of the codes of the protocol itself:
 *
 * - from the server: "bad_request" (invalid envelope or arguments),
 *   "unknown_command", "unimplemented", "internal" (the handler failed),
 *   "canceled" (the server saw the cancel), "overloaded" (too many calls in
 *   flight);
 * - from this runtime: "canceled" (the call's AbortSignal fired), "timeout"
 *   (no answer in time), "disconnected" (not connected, or the connection
 *   closed before the answer came).
 */
export class DuplexError extends Error {
  /** The wire code, e.g. "name_taken" or "timeout". */
  readonly code: string;

  constructor(code: string, message?: string) {
    super(message || code);
    this.code = code;
    this.name = "DuplexError";
  }
}

/**
 * What this runtime needs of a WebSocket: the browser's, Node 22's global
 * one, or the `ws` package's. Event handler parameters are typed `never`
 * so that every implementation's own event types are accepted.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
}

/** A WebSocket class, such as `globalThis.WebSocket` or `ws`'s default export. */
export type WebSocketConstructor = new (url: string, protocols: string) => WebSocketLike;

/** Options of a {@link Client}. */
export interface ClientOptions {
  /** The WebSocket class to use; default globalThis.WebSocket (Node 20 has none: pass the `ws` package's). */
  WebSocket?: WebSocketConstructor;
  /** Default time limit of a call, in milliseconds; default 30000, 0 for none. */
  timeout?: number;
}

/** The part of an AbortSignal a call uses. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Options of one call. */
export interface CallOptions {
  /** Time limit in milliseconds; default the client's (30000); 0 for none. On expiry the call rejects with "timeout" and the server is told to cancel it. */
  timeout?: number;
  /** Rejects the call with "canceled" when it fires, and tells the server to cancel the handler's context. */
  signal?: AbortSignalLike;
}

/** Turns a wire value (parsed JSON) into its TypeScript form. Used by generated code. */
export type Decoder<T> = (v: unknown) => T;

/** What a generated client tells its {@link Client}: how to decode events, and the class of each schema error. */
export interface ClientSpec<E> {
  /** Decoders of the events that need one (int64, bytes or timestamp inside). */
  events?: { [K in keyof E]?: Decoder<E[K]> };
  /** Error classes by wire code. */
  errors?: Record<string, new (code: string, message?: string) => DuplexError>;
}

/** int64 and uint64: a decimal string on the wire, a bigint here. */
export const big: Decoder<bigint> = (v) => BigInt(v as string);

/** bytes: standard base64 on the wire. */
export const bytes: Decoder<Uint8Array> = (v) => Uint8Array.from(atob(v as string), (c) => c.charCodeAt(0));

/** timestamp: RFC 3339 on the wire; a Date holds milliseconds, so finer digits are dropped. */
export const date: Decoder<Date> = (v) => new Date(v as string);

/** A list whose elements need decoding. */
export const list =
  <T>(d: Decoder<T>): Decoder<T[]> =>
  (v) =>
    (v as unknown[]).map((x) => d(x));

/** A map whose values need decoding. Decodes in place. */
export const dict =
  <T>(d: Decoder<T>): Decoder<Record<string, T>> =>
  (v) => {
    const o = v as Record<string, unknown>;
    for (const k in o) o[k] = d(o[k]);
    return o as Record<string, T>;
  };

/** A message some of whose fields need decoding; absent optional fields stay absent. Decodes in place. */
export const obj =
  <T>(fields: { [K in keyof T]?: Decoder<T[K]> }): Decoder<T> =>
  (v) => {
    const o = v as Record<string, unknown>;
    const f = fields as Record<string, Decoder<unknown>>;
    for (const k in f) if (o[k] != null && has.call(o, k)) o[k] = f[k](o[k]);
    return v as T;
  };

const has = {}.hasOwnProperty;

/** Encodes bigint as a decimal string and Uint8Array as base64; Date encodes itself (toJSON: RFC 3339). */
const encode = (_: string, v: unknown): unknown => {
  if (typeof v == "bigint") return "" + v;
  if (v instanceof Uint8Array) {
    let s = "";
    for (const b of v) s += String.fromCharCode(b);
    return btoa(s);
  }
  return v;
};

/** Settles a call: with an error, or with the result. cancel: also tell the server. */
type Done = (err?: DuplexError, result?: unknown, cancel?: boolean) => void;

/** A frame from the server. null members are dropped while parsing. */
interface Envelope {
  id?: number;
  result?: unknown;
  error?: { code: string; message?: string };
  event?: string;
  seq?: number;
  data?: unknown;
}

/**
 * A connection to a duplex server: calls and events over one WebSocket.
 * Generated clients extend it; `E` maps event names to their data.
 *
 * Every method may be called at any time, in any state, and none blocks.
 * A client makes one connection at a time; after it closes, connect makes a
 * new one (a new session: event seq starts over).
 */
export class Client<E extends object = Record<string, unknown>> {
  private _url: string;
  private _W?: WebSocketConstructor;
  private _t: number;
  private _ev: Map<string, Decoder<unknown>>;
  private _er: Map<string, new (code: string, message?: string) => DuplexError>;
  private _ws?: WebSocketLike;
  private _c?: Promise<void>;
  /** Calls waiting for an answer on the current socket, by id. */
  private _p = new Map<number, Done>();
  private _h = new Map<string, Set<(data: unknown) => void>>();
  private _id = 0;
  /** The last event seq seen this session. */
  private _seq = 0;

  /**
   * Makes a client of the server at url (ws: or wss:). It does not connect
   * until {@link connect}. spec is for generated clients.
   */
  constructor(url: string, opts: ClientOptions = {}, spec: ClientSpec<E> = {}) {
    this._url = url;
    this._W = opts.WebSocket;
    this._t = opts.timeout ?? 30000;
    this._ev = new Map(Object.entries(spec.events || {}));
    this._er = new Map(Object.entries(spec.errors || {}));
  }

  /**
   * Opens the WebSocket, asking for subprotocol duplex.v1+json. Resolves
   * when it is open; rejects with "disconnected" if it closes first.
   * While a connection is open or opening, returns that connection's
   * promise. Rejects with the WebSocket constructor's error when there is
   * no WebSocket class or url is invalid.
   */
  connect(): Promise<void> {
    if (this._c) return this._c;
    let ws: WebSocketLike;
    try {
      ws = new (this._W || (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket!)(this._url, PROTOCOL);
    } catch (err) {
      return Promise.reject(err); // no WebSocket class, or a bad url
    }
    const pending = (this._p = new Map());
    this._ws = ws;
    this._seq = 0;
    return (this._c = new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onmessage = (e: { data: unknown }) => this._recv(e.data, pending);
      ws.onclose = (e: { code: number; reason: string }) => {
        const err = new DuplexError("disconnected", `connection closed (${e.code}${e.reason ? " " + e.reason : ""})`);
        if (this._ws == ws) this._ws = this._c = undefined;
        reject(err);
        pending.forEach((done) => done(err));
      };
    }));
  }

  /**
   * Closes the connection with code (1000, or 3000-4999) and reason. Calls
   * still waiting reject with "disconnected" once the socket has closed.
   */
  close(code = 1000, reason?: string): void {
    const ws = this._ws;
    this._ws = this._c = undefined;
    ws?.close(code, reason);
  }

  /**
   * Calls the command name with args and resolves with its result as it
   * came off the wire (generated methods type and decode it). Rejects with
   * a {@link DuplexError}: the server's, or "disconnected", "timeout",
   * "canceled". Arguments encode bigint as a decimal string, Uint8Array as
   * base64 and Date as RFC 3339.
   */
  call(name: string, args: object = {}, opts: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const ws = this._ws;
      const pending = this._p;
      const signal = opts.signal;
      const ms = opts.timeout ?? this._t;
      const id = ++this._id;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const abort = () => done(new DuplexError("canceled", name + " canceled"), undefined, true);
      const done: Done = (err, result, cancel) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", abort);
        pending.delete(id);
        if (cancel && ws!.readyState == OPEN) ws!.send(`{"cancel":${id}}`);
        err ? reject(err) : resolve(result);
      };
      if (ws?.readyState != OPEN) return reject(new DuplexError("disconnected", "not connected"));
      if (signal?.aborted) return reject(new DuplexError("canceled", name + " canceled"));
      const data = JSON.stringify({ id, call: name, args }, encode);
      pending.set(id, done);
      signal?.addEventListener("abort", abort);
      if (ms > 0) timer = setTimeout(() => done(new DuplexError("timeout", `${name} timed out after ${ms} ms`), undefined, true), Math.min(ms, 2 ** 31 - 1));
      ws.send(data);
    });
  }

  /**
   * Calls handler with the data of every event named event, in seq order,
   * until the returned function is called. An exception in a handler does
   * not stop the others; it is rethrown asynchronously.
   */
  on<K extends keyof E & string>(event: K, handler: (data: E[K]) => void): () => void {
    let hs = this._h.get(event);
    if (!hs) this._h.set(event, (hs = new Set()));
    const h = handler as (data: unknown) => void;
    hs.add(h);
    return () => {
      hs!.delete(h);
    };
  }

  private _recv(text: unknown, pending: Map<number, Done>): void {
    let m: Envelope | undefined;
    try {
      m = JSON.parse(text as string, (_, v) => v ?? undefined);
    } catch {
      return;
    }
    if (m?.id != null) {
      const e = m.error;
      pending.get(m.id)?.(e && new (this._er.get(e.code) || DuplexError)(e.code, e.message), m.result);
    } else if (m?.event != null && (m.seq as number) > this._seq) {
      this._seq = m.seq as number;
      const hs = this._h.get(m.event);
      if (hs && hs.size) {
        const dec = this._ev.get(m.event);
        const data = dec ? dec(m.data) : m.data;
        for (const h of [...hs])
          try {
            h(data);
          } catch (err) {
            setTimeout(() => {
              throw err;
            });
          }
      }
    }
  }
}
