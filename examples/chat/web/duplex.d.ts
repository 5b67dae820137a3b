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
export declare class DuplexError extends Error {
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
    constructor(code: string, message?: string, retryable?: boolean, cause?: unknown);
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
    trace?: {
        traceparent?: string;
        tracestate?: string;
    };
}
/** Turns a wire value (parsed JSON) into its TypeScript form. Used by generated code. */
export type Decoder<T> = (v: unknown) => T;
/** What a generated client tells its {@link Client}: how to decode events, the class of each schema error, and which commands may be sent twice. */
export interface ClientSpec<E> {
    /** Decoders of the events that need one (int64, bytes or timestamp inside). */
    events?: {
        [K in keyof E]?: Decoder<E[K]>;
    };
    /** Error classes by wire code. */
    errors?: Record<string, new (code: string, message?: string) => DuplexError>;
    /** The wire names of the `@idempotent` commands. */
    idempotent?: string[];
}
/** int64 and uint64: a decimal string on the wire, a bigint here. */
export declare const big: Decoder<bigint>;
/** bytes: standard base64 on the wire. */
export declare const bytes: Decoder<Uint8Array>;
/** timestamp: RFC 3339 on the wire; a Date holds milliseconds, so finer digits are dropped. */
export declare const date: Decoder<Date>;
/** A list whose elements need decoding. */
export declare const list: <T>(d: Decoder<T>) => Decoder<T[]>;
/** A map whose values need decoding. Decodes in place. */
export declare const dict: <T>(d: Decoder<T>) => Decoder<Record<string, T>>;
/** A message some of whose fields need decoding; absent optional fields stay absent. Decodes in place. */
export declare const obj: <T>(fields: { [K in keyof T]?: Decoder<T[K]>; }) => Decoder<T>;
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
export declare class Client<E extends object = Record<string, unknown>> {
    private _url;
    private _o;
    private _ev;
    private _er;
    /** The idempotent commands. */
    private _ip;
    /** The current socket, from its creation until it is lost. */
    private _ws;
    private _s;
    /** connect's promise: pending until the next welcome, resolved while open. */
    private _c;
    /** Settles _c while it is pending. */
    private _cr;
    /** Calls in flight on the current socket, by id. */
    private _p;
    /** Calls waiting to be sent, in order. */
    private _q;
    /** Event handlers. */
    private _h;
    /** State, start-over and give-up listeners. */
    private _l;
    private _id;
    /** The last event seq processed this session. */
    private _seq;
    /**
     * Events that came before the welcome on the current socket: those of
     * the connection's fresh session, numbered from 1. A resumed welcome
     * drops them; a fresh one processes them after it.
     */
    private _pre;
    /** The resume token of the session and its id, from the last welcome. */
    private _tok;
    private _sid;
    /** The heartbeat interval from the last welcome. */
    private _hb;
    /** The last ping's number. */
    private _n;
    /** Connection attempts since the last welcome. */
    private _a;
    /** The liveness timer, the backoff timer, and the removal of the browser hints. */
    private _k;
    private _w;
    private _u;
    /** The idle timer. */
    private _i;
    /** Lazy: a call or handler connects the closed client. */
    private _z;
    /**
     * Makes a client of the server at url (ws: or wss:). It does not connect
     * until {@link connect}. spec is for generated clients.
     */
    constructor(url: string, opts?: ClientOptions, spec?: ClientSpec<E>);
    /** The client's {@link State}. */
    get state(): State;
    /** The id of the current session (from the last welcome; a start-over changes it), until the client closes; it may be shown, unlike the resume token. */
    get session(): string | undefined;
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
    connect(): Promise<void>;
    /**
     * Closes the client (state "closed"): sends a close frame with code
     * (1000, or 3000–4999) and reason, never reconnects, and forgets the
     * session (a later connect starts a new one). Calls in flight or queued
     * reject with "disconnected" at once. Repeat calls are harmless.
     */
    close(code?: number, reason?: string): void;
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
    call(name: string, args?: object, opts?: CallOptions): Promise<unknown>;
    /**
     * Calls handler with the data of every event named event, in seq order,
     * each event once (a resumed session's replay included), until the
     * returned function is called. An exception in a handler does not stop
     * the others; it is rethrown asynchronously. A handler keeps an idle
     * connection open, and connects a lazy client.
     */
    on<K extends keyof E & string>(event: K, handler: (data: E[K]) => void): () => void;
    /** Calls fn with the new state on every change of {@link state}, until the returned function is called. */
    onState(fn: (state: State) => void): () => void;
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
    onStartOver(fn: (reason: string) => void): () => void;
    /** Calls fn when the client gives up reconnecting after {@link ClientOptions.maxAttempts} attempts (it is "closed" then; connect starts again, resuming the session if the server still holds it), until the returned function is called. */
    onGiveUp(fn: () => void): () => void;
    /**
     * Calls fn with how each connection ended when the client did not end it
     * itself ({@link close} reports nothing), once the client has decided to
     * reconnect or to close (the state change, if any, came first), until
     * the returned function is called.
     */
    onClose(fn: (e: CloseInfo) => void): () => void;
    private _set;
    /** Lazy: connects the closed client, unless close() or a terminal close code closed it. */
    private _wake;
    /** Arms the idle timer if the connection is open and no call or handler needs it; else disarms it. */
    private _idle;
    /** Reports whether a call may be sent now. */
    private _free;
    /** Sends queued calls while the connection is open and has room. */
    private _pump;
    /** Opens a new socket; ends the client if the WebSocket constructor throws. */
    private _dial;
    /**
     * Arms the liveness timer of ws: after idle ms (none when 0) send a
     * ping, then drop ws unless a frame comes within pingTimeout.
     */
    private _arm;
    private _recv;
    /** Processes an event of the current session, once: seqs at or below the last one processed are repeats. */
    private _event;
    /** Handles the loss of ws (closed by the server or the network, or dead): ends the client or reconnects. */
    private _lost;
    /** Forgets the lost ws and ends the client or schedules the reconnect. */
    private _drop;
    /** Ends the backoff wait and dials. */
    private _retry;
    /**
     * Closes the client: drops the socket and the timers, rejects every call
     * with err (or "disconnected") and connect's promise with err, and
     * forgets the session unless keep.
     */
    private _end;
}
