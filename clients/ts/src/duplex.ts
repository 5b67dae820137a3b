/**
 * The duplex client runtime: wire protocol v1 (docs/protocol.md) over one
 * WebSocket at a time, for browsers and Node 20. Generated clients
 * (`duplex gen`) extend {@link Client} with one typed method per command
 * and typed events; this module has no dependencies and is shipped beside
 * them as duplex.js.
 *
 * Wire protocol v1: JSON text frames, subprotocol `duplex.v1+json`.
 *
 *     client → server  {"hello": {}}  or  {"hello": {"resume": "<token>", "seq": 41, "params": {...}}}
 *     server → client  {"welcome": {"session": "...", "resume": "<token>", "resumed": true, "heartbeat": 25000}}
 *     client → server  {"id": 7, "call": "login", "args": {...}, "trace": {"traceparent": "00-…-01"}}
 *     client → server  {"cancel": 7}
 *     client → server  {"ping": 3}          server → client  {"pong": 3}
 *     server → client  {"id": 7, "result": {...}}
 *     server → client  {"id": 7, "error": {"code": "name_taken", "message": "..."}}
 *     server → client  {"event": "said", "seq": 42, "data": {...}}
 *
 * Members of a frame this runtime does not know are ignored, and so are
 * frames that are none of the above.
 *
 * @module
 */

/** The WebSocket subprotocol of wire protocol v1. */
const PROTOCOL = "duplex.v1+json";

/** The close code this runtime sends when it drops a connection that stopped answering (IANA: "Timeout"). */
const DEAD = 3008;

/**
 * A call that failed. `code` is the error's wire code: a schema error's
 * snake_case name ("name_taken"; generated clients throw a subclass per
 * schema error), or one of the codes of the protocol itself:
 *
 * - from the server: "bad_request" (invalid envelope or arguments),
 *   "unknown_command", "unimplemented", "internal" (the handler failed),
 *   "canceled" (the server saw the cancel), "overloaded" (too many calls in
 *   flight), "unavailable" (the server could not reach its engine, a
 *   Redis say, within its timeout: the call may be made again);
 * - from this runtime: "canceled" (the call's AbortSignal fired: `cause` is
 *   its reason), "timeout"
 *   (no answer in time), "disconnected" (the client is closed, or the
 *   connection was lost before the answer came), "queue_full" (too many
 *   calls waiting for the connection).
 */
export class DuplexError extends Error {
  /** The wire code, e.g. "name_taken" or "timeout". */
  readonly code: string;
  /**
   * True when the call failed only because the connection was lost while it
   * was in flight, and the client is reconnecting: the server may or may
   * not have run it, and making the call again is queued until the client
   * is back. Always false for the server's own errors.
   */
  readonly retryable: boolean;
  /** For "canceled" by an AbortSignal: the signal's reason. */
  readonly cause?: unknown;

  constructor(code: string, message?: string, retryable?: boolean, cause?: unknown) {
    super(message || code);
    this.code = code;
    this.retryable = !!retryable;
    this.cause = cause;
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
  onerror?: ((ev: never) => void) | null;
}

/** A WebSocket class, such as `globalThis.WebSocket` or `ws`'s default export. */
export type WebSocketConstructor = new (url: string, protocols: string) => WebSocketLike;

/**
 * The state of a {@link Client}:
 *
 * - "closed": not connected, and not trying to (before {@link Client.connect},
 *   after {@link Client.close}, after a terminal close code, after giving up,
 *   after an idle close or a failing params function);
 * - "connecting": connect was called and no welcome came yet (retries
 *   included);
 * - "open": the server's welcome came; calls go out at once;
 * - "reconnecting": an open connection was lost; waiting for the backoff
 *   delay or for the next welcome. Calls wait in the queue.
 */
export type State = "connecting" | "open" | "reconnecting" | "closed";

/** Options of a {@link Client}. All times are in milliseconds. */
export interface ClientOptions {
  /** The WebSocket class to use; default globalThis.WebSocket (Node 20 has none: pass the `ws` package's). */
  WebSocket?: WebSocketConstructor;
  /**
   * Called before every connection attempt (the first, each reconnect,
   * each resume); its result, a JSON object, goes in the hello as
   * `params` for the server's AuthorizeHello: a fresh auth token, say.
   * The hello waits for it (with no time limit: the socket opens
   * meanwhile). If it throws or rejects, the client closes as when it
   * gives up (the session is kept: a later connect, or a call when
   * lazy, resumes it): connect's promise rejects with its error, calls
   * with "disconnected". A server that refuses the params closes with
   * 4401 (any 4100–4999): the client retries after its backoff delay,
   * which grows with each attempt since no welcome came, calling params
   * again; 4000–4099 end the client.
   */
  params?: () => object | Promise<object>;
  /**
   * Lazy connect: the client connects on its first call or event handler
   * ({@link Client.on}), not before (nor after {@link Client.close} or a
   * terminal close code, until {@link Client.connect}). Default false: a
   * call on a closed client rejects with "disconnected".
   */
  lazy?: boolean;
  /**
   * Idle disconnect: the client closes its connection (code 3008
   * "idle", which keeps the session on the server) after this many ms
   * open with no call waiting or in flight and no event handler; state
   * "closed". The next call or handler connects again, as lazy does, and
   * resumes the session (with the events it missed) if the server still
   * holds it (its resume window: 2 minutes by default), else starts over.
   * Default 0: never.
   */
  idle?: number;
  /** Default time limit of a call; default 30000, 0 for none. It runs from the call, across reconnects. */
  timeout?: number;
  /**
   * Called once per call that has no {@link CallOptions.trace}, when the
   * call is made (synchronously: a tracer's active context is the
   * caller's): a result with a traceparent goes with the call as its
   * trace member, as {@link CallOptions.trace} says, so that a tracing
   * server continues the caller's trace. If it throws, the call rejects
   * with its error, unsent. With OpenTelemetry:
   * `() => { const c = {}; propagation.inject(context.active(), c); return c; }`.
   */
  trace?: () => CallOptions["trace"] | undefined;
  /** Backoff base: retry n (from 0) waits random(0, min(backoffMax, backoffBase·2^n)); default 250. */
  backoffBase?: number;
  /** Backoff cap; default 30000. */
  backoffMax?: number;
  /** Reconnection attempts in a row after which the client gives up (state "closed", onGiveUp); default Infinity. 0: never reconnect. */
  maxAttempts?: number;
  /**
   * The close codes that end the client instead of reconnecting: a list, or
   * a test. Default: 1000 (normal end), 1008 (policy) and the application
   * range 4000–4099 (servers close with these to mean "do not come back":
   * kicked, banned, logged out elsewhere). 4100–4999 reconnect. A server's
   * 1000 is always terminal, whatever this says.
   */
  terminal?: number[] | ((code: number) => boolean);
  /** How many calls may wait for the connection (while not open, or beyond maxInFlight); default 100. More reject with "queue_full". */
  queue?: number;
  /** Calls in flight at once on a connection (the server's default limit); default 64. Later ones wait in the queue. */
  maxInFlight?: number;
  /**
   * How long a connection may stay silent after the client's ping (or
   * while opening, or after the hello) before it counts as dead, is
   * dropped and replaced; default 10000. With the welcome's heartbeat h
   * (default 25000) a dead connection is noticed within h + pingTimeout.
   */
  pingTimeout?: number;
  /** Subscribes to state changes, as {@link Client.onState}. */
  onState?: (state: State) => void;
  /** Subscribes to start-overs, as {@link Client.onStartOver}. */
  onStartOver?: (reason: string) => void;
  /** Subscribes to giving up, as {@link Client.onGiveUp}. */
  onGiveUp?: () => void;
  /** Subscribes to lost connections, as {@link Client.onClose}. */
  onClose?: (e: CloseInfo) => void;
}

/**
 * How a connection of the client ended, when the client did not end it
 * itself: the server's or the network's close, or the client dropping a
 * dead connection (code 3008, wasClean false). An error without a close
 * (Node 20 after a refused connection) reports 1006.
 */
export interface CloseInfo {
  /** The close code (1006: no close frame, the connection just broke). */
  readonly code: number;
  readonly reason: string;
  /** Whether the closing handshake completed (the browser's CloseEvent.wasClean). */
  readonly wasClean: boolean;
}

/** The part of an AbortSignal a call uses. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Options of one call. */
export interface CallOptions {
  /** Time limit; default the client's (30000); 0 for none. On expiry the call rejects with "timeout" and the server is told to cancel it. */
  timeout?: number;
  /** Rejects the call with "canceled" (`cause`: the signal's reason) when it fires, and, if the call was sent, tells the server to cancel it (its handler's context ends). */
  signal?: AbortSignalLike;
  /** Send the call again after a reconnect if it was in flight when the connection was lost; default: whether the schema marks the command `@idempotent`. */
  idempotent?: boolean;
  /**
   * The call's trace context (W3C Trace Context, docs/protocol.md),
   * instead of {@link ClientOptions.trace}'s: sent as the call's trace
   * member when traceparent is not empty, with only these two keys. The
   * client checks neither (a server ignores what it cannot use). A call
   * sent again after a reconnect carries the same. (Not a named export:
   * that would reserve the name in every schema.)
   */
  trace?: { traceparent?: string; tracestate?: string };
}

/** Turns a wire value (parsed JSON) into its TypeScript form. Used by generated code. */
export type Decoder<T> = (v: unknown) => T;

/** What a generated client tells its {@link Client}: how to decode events, the class of each schema error, and which commands may be sent twice. */
export interface ClientSpec<E> {
  /** Decoders of the events that need one (int64, bytes or timestamp inside). */
  events?: { [K in keyof E]?: Decoder<E[K]> };
  /** Error classes by wire code. */
  errors?: Record<string, new (code: string, message?: string) => DuplexError>;
  /** The wire names of the `@idempotent` commands. */
  idempotent?: string[];
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
    for (const k in f) if (o[k] != null && has.call(o, k)) o[k] = f[k]!(o[k]);
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

// The host's globals this module uses, declared here (in module scope, so
// that they shadow nothing of the project's) for it to compile under any lib
// setting, DOM or not, with or without @types/node: browsers and Node 20
// have them all.
type Timer = unknown;
declare function setTimeout(fn: () => void, ms: number): Timer;
declare function clearTimeout(t: Timer): void;
declare function atob(s: string): string;
declare function btoa(s: string): string;
type Listener = (v: unknown) => void;
type Listeners = Map<string, Set<Listener>>;

/** Adds h to m's listeners of k; returns the function that removes it. */
const sub = (m: Listeners, k: string, h: Listener): (() => void) => {
  let hs = m.get(k);
  if (!hs) m.set(k, (hs = new Set()));
  hs.add(h);
  return () => {
    hs!.delete(h);
  };
};

/** Calls m's listeners of k with v. One that throws does not stop the others; its error is rethrown asynchronously. */
const emit = (m: Listeners, k: string, v?: unknown): void => {
  for (const h of [...(m.get(k) || [])])
    try {
      h(v);
    } catch (err) {
      setTimeout(() => {
        throw err;
      }, 0);
    }
};

const lost = (code: number, reason: string, retryable?: boolean) =>
  new DuplexError("disconnected", `connection closed (${code}${reason ? " " + reason : ""})`, retryable);

/** Settles a call: with an error, or with the result. cancel: also tell the server. */
type Done = (err?: DuplexError, result?: unknown, cancel?: boolean) => void;

/** A call that has not been answered. */
interface Req {
  /** The call's frame after its id: `"call":"login","args":{...},"trace":{...}}`. */
  m: string;
  /** Its id on the current connection while in flight; 0 while queued. */
  i: number;
  /** Idempotent: queued again when the connection is lost while it is in flight. */
  r: boolean;
  f: Done;
}

/** The server's welcome. */
interface Welcome {
  session?: string;
  resume?: string;
  resumed?: boolean;
  reason?: string;
  heartbeat?: number;
}

/** A frame from the server. null members are dropped while parsing. */
interface Envelope {
  id?: number;
  result?: unknown;
  error?: { code: string; message?: string };
  event?: string;
  seq?: number;
  data?: unknown;
  welcome?: Welcome;
}

/** What of the global object the browser hints use. */
interface Hints {
  addEventListener?(type: string, h: (e: { type: string }) => void): void;
  removeEventListener?(type: string, h: (e: { type: string }) => void): void;
  document?: { visibilityState?: string };
  WebSocket?: WebSocketConstructor;
}

const g = globalThis as Hints;

/**
 * A client of a duplex server: calls and events over one WebSocket at a
 * time, which it replaces when it is lost, resuming its session.
 * Generated clients extend it; `E` maps event names to their data.
 *
 * {@link connect} starts it. Every connection begins with a hello (with the
 * resume token and the last event seq processed, after the first) and is
 * "open" once the server's welcome came. A connection closed by the server
 * with a terminal code (see {@link ClientOptions.terminal}) closes the
 * client; any other loss makes it reconnect with exponential backoff and
 * full jitter (1001 and 1012 retry at once the first time; in browsers, an
 * `online` event or the page becoming visible cuts the wait short). A
 * resumed session replays the events the client missed, each delivered
 * once; a session the server could not resume calls the start-over
 * listeners ({@link onStartOver}), and the app must rebuild its state.
 *
 * Calls made while not open wait in a bounded queue and go out after the
 * welcome, in order. Calls in flight when a connection is lost reject
 * with "disconnected" (`retryable`), except idempotent ones, which are
 * sent again after the reconnect. Every time limit runs across reconnects.
 *
 * Liveness: after `heartbeat` ms (from the welcome; default 25000) with
 * nothing received the client sends a ping; with nothing received
 * `pingTimeout` ms (default 10000) later it drops the connection (close
 * code 3008) and reconnects. A dead connection is noticed within
 * heartbeat + pingTimeout ms.
 *
 * With {@link ClientOptions.lazy} the first call or event handler
 * connects; with {@link ClientOptions.idle} an idle connection is closed
 * and the next call resumes its session. {@link ClientOptions.params}
 * puts the app's params (an auth token) in every hello.
 *
 * Every method may be called at any time, in any state, and none blocks.
 */
export class Client<E extends object = Record<string, unknown>> {
  private _url: string;
  private _o: ClientOptions;
  private _ev: Map<string, Decoder<unknown>>;
  private _er: Map<string, new (code: string, message?: string) => DuplexError>;
  /** The idempotent commands. */
  private _ip: Set<string>;
  /** The current socket, from its creation until it is lost. */
  private _ws: WebSocketLike | undefined;
  private _s: State = "closed";
  /** connect's promise: pending until the next welcome, resolved while open. */
  private _c: Promise<void> | undefined;
  /** Settles _c while it is pending. */
  private _cr: [() => void, (err: unknown) => void] | undefined;
  /** Calls in flight on the current socket, by id. */
  private _p = new Map<number, Req>();
  /** Calls waiting to be sent, in order. */
  private _q: Req[] = [];
  /** Event handlers. */
  private _h: Listeners = new Map();
  /** State, start-over and give-up listeners. */
  private _l: Listeners = new Map();
  private _id = 0;
  /** The last event seq processed this session. */
  private _seq = 0;
  /**
   * Events that came before the welcome on the current socket: those of
   * the connection's fresh session, numbered from 1. A resumed welcome
   * drops them; a fresh one processes them after it.
   */
  private _pre: Envelope[] | undefined;
  /** The resume token of the session and its id, from the last welcome. */
  private _tok: string | undefined;
  private _sid: string | undefined;
  /** The heartbeat interval from the last welcome. */
  private _hb = 25000;
  /** The last ping's number. */
  private _n = 0;
  /** Connection attempts since the last welcome. */
  private _a = 0;
  /** The liveness timer, the backoff timer, and the removal of the browser hints. */
  private _k: Timer | undefined;
  private _w: Timer | undefined;
  private _u: (() => void) | undefined;
  /** The idle timer. */
  private _i: Timer | undefined;
  /** Lazy: a call or handler connects the closed client. */
  private _z: boolean;

  /**
   * Makes a client of the server at url (ws: or wss:). It does not connect
   * until {@link connect}. spec is for generated clients.
   */
  constructor(url: string, opts: ClientOptions = {}, spec: ClientSpec<E> = {}) {
    this._url = url;
    this._o = { ...opts };
    this._ev = new Map(Object.entries(spec.events || {}));
    this._er = new Map(Object.entries(spec.errors || {}));
    this._ip = new Set(spec.idempotent);
    this._z = !!opts.lazy;
    if (opts.onState) this.onState(opts.onState);
    if (opts.onStartOver) this.onStartOver(opts.onStartOver);
    if (opts.onGiveUp) this.onGiveUp(opts.onGiveUp);
    if (opts.onClose) this.onClose(opts.onClose);
  }

  /** The client's {@link State}. */
  get state(): State {
    return this._s;
  }

  /** The id of the current session (from the last welcome; a start-over changes it), until the client closes; it may be shown, unlike the resume token. */
  get session(): string | undefined {
    return this._sid;
  }

  /**
   * Starts the client (state "connecting") if it is closed, opening a
   * WebSocket with subprotocol duplex.v1+json, and resolves once it is
   * open (the welcome came), at once if it is. Failed attempts are
   * retried with backoff: the promise rejects only when the client closes
   * first (close, a terminal close code, giving up), with "disconnected",
   * or with the WebSocket constructor's error (no WebSocket class, an
   * invalid url). While reconnecting, it also cuts the backoff wait short.
   * Until the client is closed, every call returns the same promise as
   * the last one, unless a connection was lost since.
   */
  connect(): Promise<void> {
    this._z = !!this._o.lazy;
    const p = this._c || (this._c = new Promise((res, rej) => (this._cr = [res, rej])));
    if (this._s == "closed") {
      this._a = 0;
      this._dial();
      if (this._ws) this._set("connecting");
    } else if (this._w) this._retry();
    return p;
  }

  /**
   * Closes the client (state "closed"): sends a close frame with code
   * (1000, or 3000–4999) and reason, never reconnects, and forgets the
   * session (a later connect starts a new one). Calls in flight or queued
   * reject with "disconnected" at once. Repeat calls are harmless.
   */
  close(code = 1000, reason?: string): void {
    const ws = this._ws;
    this._end(lost(code, reason || ""));
    ws?.close(code, reason);
  }

  /**
   * Calls the command name with args and resolves with its result as it
   * came off the wire (generated methods type and decode it). Rejects with
   * a {@link DuplexError}: the server's, or "disconnected" (the client is
   * closed and not lazy, or the connection was lost while the call was in
   * flight: `retryable`), "timeout", "canceled", "queue_full". Arguments encode
   * bigint as a decimal string, Uint8Array as base64 and Date as RFC 3339.
   * While the client is connecting or reconnecting the call waits in the
   * queue; its time limit runs meanwhile.
   */
  call(name: string, args: object = {}, opts: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const o = this._o;
      const signal = opts.signal;
      const ms = opts.timeout ?? o.timeout ?? 30000;
      const t = opts.trace || o.trace?.();
      const q: Req = {
        m: `"call":${JSON.stringify(name)},"args":${JSON.stringify(args, encode)}${
          t?.traceparent ? `,"trace":${JSON.stringify({ traceparent: t.traceparent, tracestate: t.tracestate })}` : ""
        }}`,
        i: 0,
        r: opts.idempotent ?? this._ip.has(name),
        f: (err, result, cancel) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", abort);
          if (this._p.get(q.i) == q) {
            this._p.delete(q.i);
            if (cancel) this._ws!.send(`{"cancel":${q.i}}`);
            this._pump();
          } else {
            const k = this._q.indexOf(q);
            if (k >= 0) this._q.splice(k, 1);
          }
          this._idle();
          err ? reject(err) : resolve(result);
        },
      };
      let timer: Timer | undefined;
      const canceled = () => new DuplexError("canceled", name + " canceled", false, signal!.reason);
      const abort = () => q.f(canceled(), undefined, true);
      if (signal?.aborted) return reject(canceled());
      this._wake();
      if (this._s == "closed") return reject(new DuplexError("disconnected", "not connected"));
      if (this._q.length >= (o.queue ?? 100) && !this._free())
        return reject(new DuplexError("queue_full", `${name}: ${this._q.length} calls are waiting already`));
      this._q.push(q);
      this._idle();
      signal?.addEventListener("abort", abort);
      if (ms > 0) timer = setTimeout(() => q.f(new DuplexError("timeout", `${name} timed out after ${ms} ms`), undefined, true), Math.min(ms, 2 ** 31 - 1));
      this._pump();
    });
  }

  /**
   * Calls handler with the data of every event named event, in seq order,
   * each event once (a resumed session's replay included), until the
   * returned function is called. An exception in a handler does not stop
   * the others; it is rethrown asynchronously. A handler keeps an idle
   * connection open, and connects a lazy client.
   */
  on<K extends keyof E & string>(event: K, handler: (data: E[K]) => void): () => void {
    const off = sub(this._h, event, handler as Listener);
    this._wake();
    this._idle();
    return () => {
      off();
      this._idle();
    };
  }

  /** Calls fn with the new state on every change of {@link state}, until the returned function is called. */
  onState(fn: (state: State) => void): () => void {
    return sub(this._l, "state", fn as Listener);
  }

  /**
   * Calls fn when the client reconnected but the server could not resume
   * its session, until the returned function is called. The connection
   * now carries a fresh session (no login, no attributes; event seq starts
   * over): the app must start over, such as log in again and refetch its
   * state. reason is the welcome's: "unknown" (no such token, or used),
   * "expired" (the resume window passed), "overrun" (the server no longer
   * holds the missed events), or "restarted" when it gives none. Calls
   * that were queued are sent on the fresh session before fn runs.
   */
  onStartOver(fn: (reason: string) => void): () => void {
    return sub(this._l, "startover", fn as Listener);
  }

  /** Calls fn when the client gives up reconnecting after {@link ClientOptions.maxAttempts} attempts (it is "closed" then; connect starts again, resuming the session if the server still holds it), until the returned function is called. */
  onGiveUp(fn: () => void): () => void {
    return sub(this._l, "giveup", fn);
  }

  /**
   * Calls fn with how each connection ended when the client did not end it
   * itself ({@link close} reports nothing), once the client has decided to
   * reconnect or to close (the state change, if any, came first), until
   * the returned function is called.
   */
  onClose(fn: (e: CloseInfo) => void): () => void {
    return sub(this._l, "close", fn as Listener);
  }

  private _set(s: State): void {
    if (this._s != s) emit(this._l, "state", (this._s = s));
  }

  /** Lazy: connects the closed client, unless close() or a terminal close code closed it. */
  private _wake(): void {
    if (this._s == "closed" && this._z) this.connect().catch(() => {});
  }

  /** Arms the idle timer if the connection is open and no call or handler needs it; else disarms it. */
  private _idle(): void {
    const ms = this._o.idle,
      ws = this._ws;
    clearTimeout(this._i);
    if (ms && ws && this._s == "open" && !this._p.size && !this._q.length && ![...this._h.values()].some((h) => h.size))
      this._i = setTimeout(() => {
        if (ws != this._ws) return;
        this._end(lost(DEAD, "idle"), true);
        ws.close(DEAD, "idle");
        this._z = true;
      }, ms);
  }

  /** Reports whether a call may be sent now. */
  private _free(): boolean {
    return this._s == "open" && this._p.size < (this._o.maxInFlight ?? 64);
  }

  /** Sends queued calls while the connection is open and has room. */
  private _pump(): void {
    while (this._q.length && this._ws && this._free()) {
      const q = this._q.shift()!;
      this._p.set((q.i = ++this._id), q);
      this._ws.send(`{"id":${q.i},${q.m}`);
    }
  }

  /** Opens a new socket; ends the client if the WebSocket constructor throws. */
  private _dial(): void {
    const o = this._o;
    let ws: WebSocketLike;
    try {
      ws = new (o.WebSocket || g.WebSocket!)(this._url, PROTOCOL);
    } catch (err) {
      return this._end(err);
    }
    this._ws = ws;
    this._arm(ws, 0);
    // The hello goes once the socket is open (bit 1) and params came (bit 2).
    let ready = o.params ? 0 : 2,
      params: object | undefined;
    const hello = (bit: number) => {
      if ((ready |= bit) < 3 || ws != this._ws) return;
      const t = this._tok || undefined;
      ws.send(JSON.stringify({ hello: { resume: t, seq: t && this._seq, params } }, encode));
      this._arm(ws, 0);
    };
    if (o.params)
      new Promise<object>((res) => res(o.params!())).then(
        (p) => {
          params = p;
          hello(2);
        },
        (err) => {
          if (ws != this._ws) return;
          this._end(err, true);
          ws.close(1000, "params failed"); // ends the connection's fresh session, not the client's
        },
      );
    ws.onopen = () => {
      this._pre = [];
      clearTimeout(this._k); // no time limit while params runs
      hello(1);
    };
    ws.onmessage = (e: { data: unknown }) => this._recv(ws, e.data);
    ws.onclose = (e: { code: number; reason: string; wasClean?: boolean }) => this._lost(ws, e.code, e.reason, e.wasClean);
    // Browsers follow an error with a close, which then wins with its
    // code; Node 20's WebSocket sends none after a refused connection.
    ws.onerror = () => setTimeout(() => this._lost(ws, 1006, "error"), 50);
  }

  /**
   * Arms the liveness timer of ws: after idle ms (none when 0) send a
   * ping, then drop ws unless a frame comes within pingTimeout.
   */
  private _arm(ws: WebSocketLike, idle: number): void {
    const dead = () => (this._k = setTimeout(() => this._lost(ws, DEAD, "timeout"), this._o.pingTimeout ?? 10000));
    clearTimeout(this._k);
    if (!idle) dead();
    else
      this._k = setTimeout(() => {
        ws.send(`{"ping":${++this._n}}`);
        dead();
      }, idle);
  }

  private _recv(ws: WebSocketLike, text: unknown): void {
    this._arm(ws, this._hb); // any frame is a sign of life
    let m: Envelope | undefined;
    try {
      m = JSON.parse(text as string, (_, v) => v ?? undefined);
    } catch {
      return;
    }
    const w = m?.welcome;
    if (w) {
      const fresh = !w.resumed;
      const restart = fresh && this._sid != null; // had a session, lost it
      this._sid = w.session;
      this._tok = w.resume;
      this._arm(ws, (this._hb = w.heartbeat || 25000));
      this._a = 0;
      const pre = this._pre || [];
      this._pre = undefined;
      if (fresh) this._seq = 0;
      this._cr?.[0]();
      this._cr = undefined;
      this._set("open");
      this._pump();
      this._idle();
      if (restart && this._ws == ws) emit(this._l, "startover", w.reason || "restarted");
      if (fresh) for (const e of pre) this._event(e);
    } else if (m?.id != null) {
      const e = m.error;
      this._p.get(m.id)?.f(e && new (this._er.get(e.code) || DuplexError)(e.code, e.message), m.result);
    } else if (m?.event != null) {
      if (this._pre) this._pre.push(m);
      else this._event(m);
    }
  }

  /** Processes an event of the current session, once: seqs at or below the last one processed are repeats. */
  private _event(m: Envelope): void {
    if (!((m.seq as number) > this._seq)) return; // a repeat, or no seq
    this._seq = m.seq as number;
    const hs = this._h.get(m.event!);
    if (hs && hs.size) {
      const dec = this._ev.get(m.event!);
      emit(this._h, m.event!, dec ? dec(m.data) : m.data);
    }
  }

  /** Handles the loss of ws (closed by the server or the network, or dead): ends the client or reconnects. */
  private _lost(ws: WebSocketLike, code: number, reason: string, wasClean = false): void {
    if (ws != this._ws) return;
    this._drop(ws, code, reason);
    emit(this._l, "close", { code, reason, wasClean });
  }

  /** Forgets the lost ws and ends the client or schedules the reconnect. */
  private _drop(ws: WebSocketLike, code: number, reason: string): void {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this._ws = undefined;
    clearTimeout(this._k);
    if (code == DEAD) ws.close(DEAD, reason); // dead: no waiting for its closing handshake
    const o = this._o;
    const t = o.terminal || ((c: number) => c == 1008 || (c >= 4000 && c < 4100));
    if (code == 1000 || (typeof t == "function" ? t(code) : t.includes(code))) return this._end(lost(code, reason));
    if (this._a >= (o.maxAttempts ?? Infinity)) {
      this._end(lost(code, reason), true);
      return emit(this._l, "giveup");
    }
    const again: Req[] = [];
    this._p.forEach((q) => (q.r ? again.push(q) : q.f(lost(code, reason, true))));
    this._p.clear();
    for (const q of again) q.i = 0;
    this._q = again.concat(this._q);
    this._w = setTimeout(
      () => this._retry(),
      (code == 1001 || code == 1012) && !this._a ? 0 : Math.random() * Math.min(o.backoffMax ?? 30000, (o.backoffBase ?? 250) * 2 ** this._a),
    );
    this._a++;
    // Browser hints: back online, or the page visible again: retry now.
    const wake = (e: { type: string }) => (e.type == "online" || g.document?.visibilityState == "visible") && this._retry();
    const hints = ["online", "visibilitychange"];
    if (g.addEventListener) {
      for (const h of hints) g.addEventListener(h, wake);
      this._u = () => {
        for (const h of hints) g.removeEventListener!(h, wake);
      };
    }
    if (!this._cr) this._c = undefined;
    this._set(this._s == "open" ? "reconnecting" : this._s);
  }

  /** Ends the backoff wait and dials. */
  private _retry(): void {
    clearTimeout(this._w);
    this._u?.();
    this._w = this._u = undefined;
    this._dial();
  }

  /**
   * Closes the client: drops the socket and the timers, rejects every call
   * with err (or "disconnected") and connect's promise with err, and
   * forgets the session unless keep.
   */
  private _end(err: unknown, keep?: boolean): void {
    const ws = this._ws;
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    clearTimeout(this._k);
    clearTimeout(this._w);
    this._u?.();
    this._ws = this._w = this._u = undefined;
    const e = err instanceof DuplexError ? err : new DuplexError("disconnected", "" + err);
    for (const q of [...this._p.values(), ...this._q]) q.f(e);
    clearTimeout(this._i);
    this._cr?.[1](err);
    this._c = this._cr = undefined;
    if (!keep) {
      this._tok = this._sid = undefined;
      this._seq = 0;
      this._z = false;
    }
    this._set("closed");
  }
}
