// Page-side harness, loaded by the blank page the tests serve. It keeps the
// WebSocket objects inside the page and exposes small, serialisable
// operations to the Node test through page.evaluate.
(() => {
  'use strict';
  const conns = new Map();
  let nextId = 1;

  // textPayload returns a string whose UTF-8 encoding is exactly n bytes and
  // mixes 1-, 2-, 3- and 4-byte characters (same idea as the Go tests).
  const textUnit = 'duplex héllo wörld ✓ 𝄞 ∑ ';
  const textUnitBytes = new TextEncoder().encode(textUnit).length;
  const textCache = new Map();
  function textPayload(n) {
    if (textCache.has(n)) return textCache.get(n);
    const whole = Math.floor(n / textUnitBytes);
    let s = textUnit.repeat(whole);
    let bytes = whole * textUnitBytes;
    const enc = new TextEncoder();
    for (const ch of textUnit) {
      const w = enc.encode(ch).length;
      if (bytes + w > n) break;
      s += ch;
      bytes += w;
    }
    s += 'x'.repeat(n - bytes);
    textCache.set(n, s);
    return s;
  }

  function binaryPayload(n, seed) {
    const b = new Uint8Array(n);
    let x = (seed ^ 0x9e3779b9 ^ n) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      b[i] = x & 0xff;
    }
    return b;
  }

  function payload(kind, size) {
    return kind === 'text' ? textPayload(size) : binaryPayload(size, 7);
  }

  function get(id) {
    const c = conns.get(id);
    if (!c) throw new Error(`no connection ${id}`);
    return c;
  }

  function summary(ev) {
    if (ev.type === 'message') {
      const kind = typeof ev.data === 'string' ? 'text' : 'binary';
      const size = kind === 'text' ? new TextEncoder().encode(ev.data).length : ev.data.byteLength;
      return { type: 'message', kind, size };
    }
    return ev;
  }

  function nextRaw(c, timeoutMs) {
    if (c.events.length) return Promise.resolve(c.events.shift());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = c.waiters.indexOf(w);
        if (i >= 0) c.waiters.splice(i, 1);
        resolve({ type: 'timeout', readyState: c.ws.readyState });
      }, timeoutMs);
      const w = (ev) => { clearTimeout(timer); resolve(ev); };
      c.waiters.push(w);
    });
  }

  window.peer = {
    // open resolves when the socket opens, closes or times out.
    open(url, protocols, timeoutMs = 5000) {
      return new Promise((resolve) => {
        const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
        ws.binaryType = 'arraybuffer';
        const id = nextId++;
        const c = { ws, events: [], waiters: [], errored: false, openedAt: 0 };
        conns.set(id, c);
        const push = (ev) => {
          if (c.waiters.length) c.waiters.shift()(ev);
          else c.events.push(ev);
        };
        const timer = setTimeout(() => resolve({ id, state: 'timeout', readyState: ws.readyState }), timeoutMs);
        ws.onopen = () => {
          clearTimeout(timer);
          c.openedAt = performance.now();
          resolve({ id, state: 'open', protocol: ws.protocol, extensions: ws.extensions });
        };
        ws.onmessage = (e) => push({ type: 'message', data: e.data });
        ws.onerror = () => { c.errored = true; };
        ws.onclose = (e) => {
          clearTimeout(timer);
          const ev = {
            type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean,
            errorEvent: c.errored, at: performance.now(),
          };
          resolve({ id, state: 'closed', ...ev });
          push(ev);
        };
      });
    },

    // echo sends a generated message and checks the next event is its echo.
    async echo(id, kind, size, timeoutMs = 10000) {
      const c = get(id);
      const want = payload(kind, size);
      c.ws.send(kind === 'text' ? want : want.buffer);
      const ev = await nextRaw(c, timeoutMs);
      if (ev.type !== 'message') return { ok: false, why: 'no echo', event: summary(ev) };
      const got = summary(ev);
      if (got.kind !== kind) return { ok: false, why: `echo is ${got.kind}`, event: got };
      if (kind === 'text') {
        if (ev.data !== want) {
          let i = 0;
          while (i < want.length && ev.data[i] === want[i]) i++;
          return { ok: false, why: `text differs at UTF-16 index ${i}`, event: got };
        }
      } else {
        const b = new Uint8Array(ev.data);
        if (b.length !== want.length) return { ok: false, why: 'length differs', event: got };
        for (let i = 0; i < b.length; i++) {
          if (b[i] !== want[i]) return { ok: false, why: `byte ${i} differs`, event: got };
        }
      }
      return { ok: true, event: got };
    },

    send(id, kind, size) {
      const p = payload(kind, size);
      get(id).ws.send(kind === 'text' ? p : p.buffer);
    },

    close(id, code, reason) {
      const c = get(id);
      c.closeCalledAt = performance.now();
      if (code === undefined) c.ws.close();
      else if (reason === undefined) c.ws.close(code);
      else c.ws.close(code, reason);
    },

    // next returns a summary of the next message or close event, or a
    // timeout marker. Close events carry ms since close() was called.
    async next(id, timeoutMs = 5000) {
      const c = get(id);
      const ev = summary(await nextRaw(c, timeoutMs));
      if (ev.type === 'close' && c.closeCalledAt !== undefined) {
        ev.msSinceClose = Math.round(ev.at - c.closeCalledAt);
      }
      return ev;
    },

    state(id) {
      const ws = get(id).ws;
      return { readyState: ws.readyState, protocol: ws.protocol, extensions: ws.extensions };
    },
  };
})();
