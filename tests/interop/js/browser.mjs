// Drives Debian's Chromium with playwright-core, for socketeer's browser tests.
//
// Usage: node browser.mjs [<options JSON>]
//   options: {"executable": "/usr/bin/chromium", "timeout": 10000}
// Chromium runs headless with a fresh profile (Playwright's launch() creates a new
// --user-data-dir in the temp directory and removes it at close). Every page gets its own
// browser context (its own storage). Requests to any host but 127.0.0.1 / localhost are
// aborted: the tests are loopback-only (the admin UI links Google Fonts and a CDN).
//
// Commands: one JSON object per line on stdin; each carries "ref" (a label chosen by the
// test) and gets exactly one answer, {"event": "result:<ref>", "ok": true, "value": ...}
// or {"event": "result:<ref>", "ok": false, "error": "..."}.
//   {"cmd":"open","page":"a","url":"...","viewport":{"width":1200,"height":760}}
//   {"cmd":"goto","page":"a","url":"..."}
//   {"cmd":"click","page":"a","selector":"..."}
//   {"cmd":"fill","page":"a","selector":"...","value":"..."}
//   {"cmd":"type","page":"a","selector":"...","keys":"..."}    keystrokes, one by one
//   {"cmd":"press","page":"a","selector":"...","key":"Enter"}
//   {"cmd":"wait","page":"a","selector":"...","text":"...","state":"visible","timeout":ms}
//        waits for the first element matching selector (and containing text, if given);
//        value: its innerText ("state": "hidden"/"detached" waits for it to go away)
//   {"cmd":"count","page":"a","selector":"..."}                value: how many match
//   {"cmd":"eval","page":"a","expression":"..."}               value: the result (JSON)
//   {"cmd":"wait_for_function","page":"a","expression":"...","timeout":ms}
//   {"cmd":"set_files","page":"a","selector":"...","name":"x.png","mime":"image/png",
//    "base64":"..."}
//   {"cmd":"screenshot","page":"a","path":"/abs/path.png","full_page":false}
//   {"cmd":"close_page","page":"a"}
// Events (no ref): <page>:websocket {url} when a page opens a WebSocket, <page>:ws_closed
// {url}, <page>:console {type, text} for console errors and warnings, <page>:pageerror
// {message}. End of stdin closes the browser and exits.

import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const options = JSON.parse(process.argv[2] || "{}");
const TIMEOUT = Number(options.timeout || 10000);
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function print(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

const browser = await chromium.launch({
  executablePath: options.executable || "/usr/bin/chromium",
  headless: true,
  args: ARGS,
  timeout: 30000,
});
const pages = new Map(); // label -> {context, page}

function isLocal(url) {
  if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return true;
  try {
    const host = new URL(url).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
  } catch {
    return false;
  }
}

async function open(command) {
  if (pages.has(command.page)) throw new Error(`page ${command.page} exists`);
  const context = await browser.newContext({
    viewport: command.viewport || { width: 1200, height: 760 },
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(TIMEOUT);
  await context.route("**/*", (route) =>
    isLocal(route.request().url()) ? route.continue() : route.abort("internetdisconnected"),
  );
  const page = await context.newPage();
  const label = command.page;
  page.on("websocket", (ws) => {
    print(`${label}:websocket`, { url: ws.url() });
    ws.on("close", () => print(`${label}:ws_closed`, { url: ws.url() }));
  });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      print(`${label}:console`, { type: message.type(), text: message.text() });
    }
  });
  page.on("pageerror", (error) => print(`${label}:pageerror`, { message: String(error) }));
  pages.set(label, { context, page });
  if (command.url) await page.goto(command.url);
  return null;
}

function pageOf(command) {
  const found = pages.get(command.page);
  if (!found) throw new Error(`no page ${JSON.stringify(command.page)}`);
  return found.page;
}

function locate(command) {
  let locator = pageOf(command).locator(command.selector);
  if (command.text !== undefined && command.text !== null) {
    locator = locator.filter({ hasText: command.text });
  }
  return locator.first();
}

async function run(command) {
  const timeout = command.timeout === undefined ? undefined : Number(command.timeout);
  switch (command.cmd) {
    case "open":
      return open(command);
    case "goto":
      await pageOf(command).goto(command.url);
      return null;
    case "click":
      await locate(command).click({ timeout });
      return null;
    case "fill":
      await locate(command).fill(String(command.value), { timeout });
      return null;
    case "type":
      await locate(command).pressSequentially(String(command.keys), { delay: 20, timeout });
      return null;
    case "press":
      await locate(command).press(command.key, { timeout });
      return null;
    case "wait": {
      const locator = locate(command);
      const state = command.state || "visible";
      await locator.waitFor({ state, timeout });
      return state === "visible" || state === "attached" ? await locator.innerText() : null;
    }
    case "count":
      return await pageOf(command).locator(command.selector).count();
    case "eval":
      return await pageOf(command).evaluate(command.expression);
    case "wait_for_function":
      await pageOf(command).waitForFunction(command.expression, null, { timeout });
      return null;
    case "set_files":
      await locate(command).setInputFiles({
        name: command.name,
        mimeType: command.mime,
        buffer: Buffer.from(command.base64, "base64"),
      });
      return null;
    case "screenshot":
      await pageOf(command).screenshot({ path: command.path, fullPage: Boolean(command.full_page) });
      return command.path;
    case "close_page": {
      const found = pages.get(command.page);
      pages.delete(command.page);
      if (found) await found.context.close();
      return null;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}

// Commands run one at a time, in order (a test awaits each answer anyway).
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    print("command_error", { message: String(error) });
    return;
  }
  queue = queue.then(async () => {
    try {
      const value = await run(command);
      print(`result:${command.ref}`, { ok: true, value: value === undefined ? null : value });
    } catch (error) {
      print(`result:${command.ref}`, { ok: false, error: String(error && error.message ? error.message : error) });
    }
  });
});
lines.on("close", () => {
  queue.then(() => browser.close()).finally(() => process.exit(0));
});
print("ready", { version: browser.version() });
