// What the browser tests share: headless Chromium with the flags CI
// allows, Go servers built from this repository, and their processes.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = '/usr/bin/chromium';

/** Launches Debian's Chromium headless; fails (never skips) when it is missing. */
export function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Chromium (apt-get install -y chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
    ],
    timeout: 30_000,
  });
}

/**
 * Builds the Go main package pkg (such as ./examples/chat) of this
 * repository into dir, unless the environment variable env names a
 * prebuilt binary; returns the binary's path.
 */
export async function goBuild(pkg, dir, env) {
  if (process.env[env]) return process.env[env];
  const bin = path.join(dir, path.basename(pkg));
  try {
    await promisify(execFile)('go', ['build', '-o', bin, pkg], { cwd: repoRoot, timeout: 180_000 });
  } catch (err) {
    throw new Error(`go build ${pkg} failed: ${err.message}\n${err.stderr ?? ''}`);
  }
  return bin;
}

/** The server processes started by startServer and still running. */
export const running = new Set();

/**
 * Starts bin with args and waits (10 s) for its "listening on ADDR" line.
 * Returns { proc, addr, stderr, exited } where exited resolves to
 * { code, signal }.
 */
export async function startServer(bin, args) {
  const name = `${path.basename(bin)} ${args.join(' ')}`;
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, stderr: '' };
  running.add(s);
  s.exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(s);
      resolve({ code, signal });
    });
  });
  proc.stderr.on('data', (d) => { s.stderr += d; });
  const lines = createInterface({ input: proc.stdout });
  s.addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening on" line within 10s`)), 10_000);
    lines.on('line', (line) => {
      const m = /listening on ([^\s:]+:\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    s.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal}):\n${s.stderr}`));
    });
  });
  return s;
}

/** Kills every server still running (SIGKILL). */
export function killAll() {
  for (const s of running) s.proc.kill('SIGKILL');
}

/** Waits up to ms for s to exit; resolves to { code, signal }, or null on timeout. */
export function waitExit(s, ms) {
  const t = new Promise((resolve) => setTimeout(() => resolve(null), ms));
  return Promise.race([s.exited, t]);
}
