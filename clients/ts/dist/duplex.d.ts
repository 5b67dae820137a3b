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
export declare class DuplexError extends Error {
    /** The wire code, e.g. "name_taken" or "timeout". */
    readonly code: string;
    constructor(code: string, message?: string);
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
    events?: {
        [K in keyof E]?: Decoder<E[K]>;
    };
    /** Error classes by wire code. */
    errors?: Record<string, new (code: string, message?: string) => DuplexError>;
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
 * A connection to a duplex server: calls and events over one WebSocket.
 * Generated clients extend it; `E` maps event names to their data.
 *
 * Every method may be called at any time, in any state, and none blocks.
 * A client makes one connection at a time; after it closes, connect makes a
 * new one (a new session: event seq starts over).
 */
export declare class Client<E extends object = Record<string, unknown>> {
    private _url;
    private _W?;
    private _t;
    private _ev;
    private _er;
    private _ws?;
    private _c?;
    /** Calls waiting for an answer on the current socket, by id. */
    private _p;
    private _h;
    private _id;
    /** The last event seq seen this session. */
    private _seq;
    /**
     * Makes a client of the server at url (ws: or wss:). It does not connect
     * until {@link connect}. spec is for generated clients.
     */
    constructor(url: string, opts?: ClientOptions, spec?: ClientSpec<E>);
    /**
     * Opens the WebSocket, asking for subprotocol duplex.v1+json. Resolves
     * when it is open; rejects with "disconnected" if it closes first.
     * While a connection is open or opening, returns that connection's
     * promise. Rejects with the WebSocket constructor's error when there is
     * no WebSocket class or url is invalid.
     */
    connect(): Promise<void>;
    /**
     * Closes the connection with code (1000, or 3000-4999) and reason. Calls
     * still waiting reject with "disconnected" once the socket has closed.
     */
    close(code?: number, reason?: string): void;
    /**
     * Calls the command name with args and resolves with its result as it
     * came off the wire (generated methods type and decode it). Rejects with
     * a {@link DuplexError}: the server's, or "disconnected", "timeout",
     * "canceled". Arguments encode bigint as a decimal string, Uint8Array as
     * base64 and Date as RFC 3339.
     */
    call(name: string, args?: object, opts?: CallOptions): Promise<unknown>;
    /**
     * Calls handler with the data of every event named event, in seq order,
     * until the returned function is called. An exception in a handler does
     * not stop the others; it is rethrown asynchronously.
     */
    on<K extends keyof E & string>(event: K, handler: (data: E[K]) => void): () => void;
    private _recv;
}
