// The chat page (examples/chat/web) as the browser tests drive and read
// it: open it, log in, say things, and wait for what it shows.

import assert from 'node:assert/strict';

/**
 * Opens the chat page at url in a fresh browser context. The init script
 * records every WebSocket the page opens and the browser's own CloseEvent
 * of each (code, wasClean), beside what the page shows.
 */
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 900, height: 620 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err));
  await page.addInitScript(() => {
    window.__sockets = 0;
    window.__closes = [];
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets++;
        this.addEventListener('close', (e) => window.__closes.push({ code: e.code, reason: e.reason, wasClean: e.wasClean }));
      }
    };
  });
  await page.goto(url);
  await waitState(page, 'open');
  return page;
}

export async function closePage(page) {
  assert.deepEqual(page.errors, [], 'errors thrown in the page');
  await page.context().close().catch(() => {});
}

export const text = (page, sel) => page.locator(sel).textContent();

export async function waitState(page, state, timeout = 10_000) {
  try {
    await page.waitForFunction((s) => document.getElementById('state').dataset.state === s, state, { timeout });
  } catch {
    assert.fail(`page state ${await text(page, '#state')} (${await text(page, '#detail')}), want ${state} within ${timeout} ms`);
  }
}

/** Waits until the log has a line of kind whose text is want. */
export async function waitLog(page, kind, want, timeout = 10_000) {
  try {
    await page.waitForFunction(
      ([k, w]) => [...document.querySelectorAll(`#log li.${k}`)].some((li) => li.textContent === w),
      [kind, want],
      { timeout },
    );
  } catch {
    assert.fail(`no ${kind} line ${JSON.stringify(want)} in the log within ${timeout} ms; log:\n${await logText(page)}`);
  }
}

export const logText = (page) => page.evaluate(() => [...document.querySelectorAll('#log li')].map((li) => `[${li.className}] ${li.textContent}`).join('\n'));
export const logLines = (page, kind) => page.evaluate((k) => [...document.querySelectorAll(`#log li.${k}`)].map((li) => li.textContent), kind);
export const users = (page) => page.evaluate(() => [...document.querySelectorAll('#users li')].map((li) => li.textContent));

export async function waitUsers(page, want, timeout = 10_000) {
  try {
    await page.waitForFunction(
      (w) => JSON.stringify([...document.querySelectorAll('#users li')].map((li) => li.textContent)) === w,
      JSON.stringify(want),
      { timeout },
    );
  } catch {
    assert.fail(`online ${JSON.stringify(await users(page))}, want ${JSON.stringify(want)}`);
  }
}

export async function login(page, name) {
  await page.fill('#name', name);
  await page.click('#login');
  try {
    await page.waitForFunction((n) => document.getElementById('me').textContent === `logged in as ${n}`, name, { timeout: 10_000 });
  } catch {
    assert.fail(`${name} did not log in; log:\n${await logText(page)}`);
  }
}

export async function say(page, content) {
  await page.fill('#message', content);
  await page.click('#send');
}
