// The children's protocol of wsbench (cmd/wsbench/proc.go): JSON lines
// out on stdout, JSON-line commands in on stdin; the process exits when
// its stdin closes (the harness is done, or died).

import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';

export function emit(v) {
  process.stdout.write(JSON.stringify(v) + '\n');
}

// fail reports err as the harness reads a child's failure, and exits.
export function fail(err) {
  emit({ error: String(err && err.message ? err.message : err) });
  process.stderr.write(`wsbench socketio: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

// commands calls onCommand with each command; stdin's end exits.
export function commands(onCommand) {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      return;
    }
    onCommand(cmd);
  });
  rl.on('close', () => process.exit(0));
}

// flags parses Go-style "-name value" arguments.
export function flags(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    out[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
  }
  return out;
}

// durationMs parses a Go duration ("1.5s", "100ms", "10m0s") into ms.
export function durationMs(s) {
  const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let ms = 0;
  let rest = String(s);
  if (rest === '0') return 0;
  while (rest.length > 0) {
    const m = /^([0-9.]+)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`bad duration ${s}`);
    ms += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return ms;
}

// rss is VmRSS of this process in bytes.
export function rss() {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}
