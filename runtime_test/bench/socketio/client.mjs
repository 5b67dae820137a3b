// The Socket.IO 4 peer's load client: the load task of wsbench's Go
// clients (cmd/wsbench/client.go) with socket.io-client, websocket
// transport only. It opens -conns sockets, says {"ready":true}, and on
// "start" keeps -window acknowledged "echo" emits in flight on each for
// -warmup + -duration; it reports the calls answered within -duration
// after the warm-up and their latencies in wsbench's histogram (hist.go:
// exact below 128 ns, 64 buckets per power of two above).

import { io } from 'socket.io-client';
import { commands, durationMs, emit, fail, flags } from './lines.mjs';

const f = flags(process.argv.slice(2));
if ((f.task ?? 'load') !== 'load') fail(new Error(`socketio client: task ${f.task} is not supported (load only)`));
const conns = Number(f.conns ?? 1);
const window = Number(f.window ?? 1);
const payload = Number(f.payload ?? 16);
const warmup = durationMs(f.warmup ?? '1s');
const duration = durationMs(f.duration ?? '5s');
const ioTimeout = durationMs(f['io-timeout'] ?? '10s');

// payloadText is wsbench's payloadText.
function payloadText(n) {
  const unit = 'the quick brown fox jumps over the lazy dog ';
  let s = '';
  for (let i = 0; i < n; i++) s += unit[i % unit.length];
  return s;
}

// hist is hist.go's log-linear histogram, counts by bucket index.
class Hist {
  constructor() {
    this.counts = new Map();
    this.n = 0;
    this.min = 0;
    this.max = 0;
    this.sum = 0;
  }
  static index(v) {
    if (v < 128) return Math.max(v, 0);
    const len = v.toString(2).length; // bits.Len64
    const shift = len - 6 - 1;
    return shift * 64 + Math.floor(v / 2 ** shift);
  }
  record(ns) {
    const v = Math.round(ns);
    if (this.n === 0 || v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.n++;
    this.sum += v;
    const i = Hist.index(v);
    this.counts.set(i, (this.counts.get(i) ?? 0) + 1);
  }
  wire() {
    const buckets = [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
    return { buckets, min: this.min, max: this.max, sum: this.sum };
  }
}

const sockets = [];
function open(i) {
  return new Promise((resolve, reject) => {
    const s = io(`ws://${f.addr}`, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: ioTimeout });
    const t = setTimeout(() => reject(new Error(`connection ${i + 1}: not connected within ${ioTimeout} ms`)), ioTimeout);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('connect_error', (err) => {
      clearTimeout(t);
      reject(new Error(`connection ${i + 1}: ${err.message}`));
    });
  });
}

const dialConc = Number(f['dial-conc'] ?? 64);
let next = 0;
async function opener() {
  while (next < conns) {
    const i = next++;
    sockets[i] = await open(i);
  }
}
try {
  await Promise.all(Array.from({ length: Math.min(dialConc, conns) }, opener));
} catch (err) {
  fail(err);
}
let started = false;
for (const [i, s] of sockets.entries()) {
  s.on('disconnect', (reason) => {
    if (!finished) fail(new Error(`connection ${i + 1}: disconnected: ${reason}`));
  });
}
let finished = false;
emit({ ready: true, conns: sockets.length });

commands((cmd) => {
  if (cmd.op !== 'start' || started) return;
  started = true;
  run();
});

function run() {
  const text = payloadText(payload);
  const h = new Hist();
  let calls = 0;
  const start = performance.now();
  const warmEnd = start + warmup;
  const end = warmEnd + duration;
  let loops = sockets.length * window;
  const done = () => {
    if (--loops > 0) return;
    finished = true;
    // Like the Go clients, it exits after its report.
    for (const s of sockets) s.disconnect();
    process.stdout.write(JSON.stringify({ ops: calls, seconds: duration / 1000, hist: h.wire() }) + '\n', () => process.exit(0));
  };
  for (const [i, s] of sockets.entries()) {
    for (let w = 0; w < window; w++) {
      const call = () => {
        const t0 = performance.now();
        s.timeout(ioTimeout).emit('echo', { text }, (err, reply) => {
          const now = performance.now();
          if (err) fail(new Error(`connection ${i + 1}: no acknowledgement within ${ioTimeout} ms`));
          if (!reply || reply.text !== text) fail(new Error(`connection ${i + 1}: acknowledged with ${JSON.stringify(reply)}`));
          if (now >= warmEnd && now < end) {
            calls++;
            h.record((now - t0) * 1e6);
          }
          if (now < end) call();
          else done();
        });
      };
      call();
    }
  }
}
