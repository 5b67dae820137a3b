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
    constructor(code, message) {
        super(message || code);
        this.code = code;
        this.name = "DuplexError";
    }
}
/** int64 and uint64: a decimal string on the wire, a bigint here. */
export const big = (v) => BigInt(v);
/** bytes: standard base64 on the wire. */
export const bytes = (v) => Uint8Array.from(atob(v), (c) => c.charCodeAt(0));
/** timestamp: RFC 3339 on the wire; a Date holds milliseconds, so finer digits are dropped. */
export const date = (v) => new Date(v);
/** A list whose elements need decoding. */
export const list = (d) => (v) => v.map((x) => d(x));
/** A map whose values need decoding. Decodes in place. */
export const dict = (d) => (v) => {
    const o = v;
    for (const k in o)
        o[k] = d(o[k]);
    return o;
};
/** A message some of whose fields need decoding; absent optional fields stay absent. Decodes in place. */
export const obj = (fields) => (v) => {
    const o = v;
    const f = fields;
    for (const k in f)
        if (o[k] != null && has.call(o, k))
            o[k] = f[k](o[k]);
    return v;
};
const has = {}.hasOwnProperty;
/** Encodes bigint as a decimal string and Uint8Array as base64; Date encodes itself (toJSON: RFC 3339). */
const encode = (_, v) => {
    if (typeof v == "bigint")
        return "" + v;
    if (v instanceof Uint8Array) {
        let s = "";
        for (const b of v)
            s += String.fromCharCode(b);
        return btoa(s);
    }
    return v;
};
/**
 * A connection to a duplex server: calls and events over one WebSocket.
 * Generated clients extend it; `E` maps event names to their data.
 *
 * Every method may be called at any time, in any state, and none blocks.
 * A client makes one connection at a time; after it closes, connect makes a
 * new one (a new session: event seq starts over).
 */
export class Client {
    /**
     * Makes a client of the server at url (ws: or wss:). It does not connect
     * until {@link connect}. spec is for generated clients.
     */
    constructor(url, opts = {}, spec = {}) {
        /** Calls waiting for an answer on the current socket, by id. */
        this._p = new Map();
        this._h = new Map();
        this._id = 0;
        /** The last event seq seen this session. */
        this._seq = 0;
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
    connect() {
        if (this._c)
            return this._c;
        let ws;
        try {
            ws = new (this._W || globalThis.WebSocket)(this._url, PROTOCOL);
        }
        catch (err) {
            return Promise.reject(err); // no WebSocket class, or a bad url
        }
        const pending = (this._p = new Map());
        this._ws = ws;
        this._seq = 0;
        return (this._c = new Promise((resolve, reject) => {
            ws.onopen = () => resolve();
            ws.onmessage = (e) => this._recv(e.data, pending);
            ws.onclose = (e) => {
                const err = new DuplexError("disconnected", `connection closed (${e.code}${e.reason ? " " + e.reason : ""})`);
                if (this._ws == ws)
                    this._ws = this._c = undefined;
                reject(err);
                pending.forEach((done) => done(err));
            };
        }));
    }
    /**
     * Closes the connection with code (1000, or 3000-4999) and reason. Calls
     * still waiting reject with "disconnected" once the socket has closed.
     */
    close(code = 1000, reason) {
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
    call(name, args = {}, opts = {}) {
        return new Promise((resolve, reject) => {
            const ws = this._ws;
            const pending = this._p;
            const signal = opts.signal;
            const ms = opts.timeout ?? this._t;
            const id = ++this._id;
            let timer;
            const abort = () => done(new DuplexError("canceled", name + " canceled"), undefined, true);
            const done = (err, result, cancel) => {
                clearTimeout(timer);
                signal?.removeEventListener("abort", abort);
                pending.delete(id);
                if (cancel && ws.readyState == OPEN)
                    ws.send(`{"cancel":${id}}`);
                err ? reject(err) : resolve(result);
            };
            if (ws?.readyState != OPEN)
                return reject(new DuplexError("disconnected", "not connected"));
            if (signal?.aborted)
                return reject(new DuplexError("canceled", name + " canceled"));
            const data = JSON.stringify({ id, call: name, args }, encode);
            pending.set(id, done);
            signal?.addEventListener("abort", abort);
            if (ms > 0)
                timer = setTimeout(() => done(new DuplexError("timeout", `${name} timed out after ${ms} ms`), undefined, true), Math.min(ms, 2 ** 31 - 1));
            ws.send(data);
        });
    }
    /**
     * Calls handler with the data of every event named event, in seq order,
     * until the returned function is called. An exception in a handler does
     * not stop the others; it is rethrown asynchronously.
     */
    on(event, handler) {
        let hs = this._h.get(event);
        if (!hs)
            this._h.set(event, (hs = new Set()));
        const h = handler;
        hs.add(h);
        return () => {
            hs.delete(h);
        };
    }
    _recv(text, pending) {
        let m;
        try {
            m = JSON.parse(text, (_, v) => v ?? undefined);
        }
        catch {
            return;
        }
        if (m?.id != null) {
            const e = m.error;
            pending.get(m.id)?.(e && new (this._er.get(e.code) || DuplexError)(e.code, e.message), m.result);
        }
        else if (m?.event != null && m.seq > this._seq) {
            this._seq = m.seq;
            const hs = this._h.get(m.event);
            if (hs && hs.size) {
                const dec = this._ev.get(m.event);
                const data = dec ? dec(m.data) : m.data;
                for (const h of [...hs])
                    try {
                        h(data);
                    }
                    catch (err) {
                        setTimeout(() => {
                            throw err;
                        });
                    }
            }
        }
    }
}
