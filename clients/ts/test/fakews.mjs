// An in-memory WebSocket for tests: the client side behaves like the
// browser's (readyState, send, close, on* handlers); the test plays the
// server through open, receive, welcome and serverClose. Every instance is
// kept in the class's `sockets`, so each test makes its own class with
// fakeWebSocket().

/** Returns a fresh fake WebSocket class. */
export function fakeWebSocket() {
  return class FakeWebSocket {
    static sockets = [];
    static get last() {
      return FakeWebSocket.sockets[FakeWebSocket.sockets.length - 1];
    }

    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0; // CONNECTING
      this.sent = []; // frames the client sent, parsed
      this.closedWith = undefined; // [code, reason] of the client's close()
      this.onopen = this.onmessage = this.onclose = null;
      FakeWebSocket.sockets.push(this);
    }

    send(data) {
      if (typeof data !== "string") throw new TypeError("the client sent a binary frame");
      if (this.readyState === 0) throw new Error("InvalidStateError: send while connecting");
      if (this.readyState !== 1) return; // browsers discard frames sent while closing
      this.sent.push(JSON.parse(data));
    }

    close(code, reason) {
      if (this.readyState >= 2) return;
      this.closedWith = [code, reason];
      this.readyState = 2; // CLOSING: the server answers on a later task
      setImmediate(() => this.serverClose(code ?? 1005, reason ?? ""));
    }

    // The server's side.

    open() {
      this.readyState = 1;
      this.onopen?.({ type: "open" });
    }

    /** Delivers a frame: an object is sent as its JSON, a string as is. */
    receive(frame) {
      if (this.readyState !== 1) return; // browsers drop messages unless OPEN
      this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    }

    /**
     * Opens the socket if it is connecting and answers the client's hello
     * with a welcome (docs/protocol.md), w's members over the defaults of a
     * fresh session: session "s1", resume token "t1", resumed false,
     * heartbeat 25000.
     */
    welcome(w = {}) {
      if (this.readyState === 0) this.open();
      this.receive({ welcome: { session: "s1", resume: "t1", resumed: false, heartbeat: 25000, ...w } });
    }

    serverClose(code = 1000, reason = "") {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: code !== 1006 });
    }
  };
}

/** Waits until the pending promise callbacks have run. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));
