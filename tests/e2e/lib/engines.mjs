// One small page interface over three engines, for the cross-browser flow test: Chromium through
// playwright-core, Firefox ESR through puppeteer-core (WebDriver BiDi), and WebKitGTK through
// WebKitWebDriver (classic WebDriver over HTTP, a handful of fetch calls) under Xvfb. Driver
// input is used for the flow only: its timing is the driver's, not a person's.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FIREFOX = process.env.FIREFOX ?? "/usr/bin/firefox-esr";
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? "/usr/bin/WebKitWebDriver";
const MINIBROWSER = process.env.MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/** Resolves after `ms`: the pause between a key's down and up, or between presses. */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` (async, truthy when done) every 100 ms until `timeoutMs`. */
async function until(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(100);
  }
}

/** A free loopback port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Reads page state with a function of no arguments, the same way in every engine. */
const READ = {
  text: (testid) => `return document.querySelector('[data-testid="${testid}"]')?.textContent ?? null;`,
  attribute: (testid, name) => `return document.querySelector('[data-testid="${testid}"]')?.getAttribute('${name}') ?? null;`,
};

/** Methods every engine's page shares, built on `run(script)` (a function body returning a value). */
function common(page) {
  return {
    ...page,
    text: (testid) => page.run(READ.text(testid)),
    attribute: (testid, name) => page.run(READ.attribute(testid, name)),
    waitFor: (testid, pattern = /./, timeoutMs) =>
      until(`${testid} to read ${pattern}`, async () => {
        const text = await page.run(READ.text(testid));
        return text !== null && pattern.test(text) ? text : null;
      }, timeoutMs),
    /** Types `text` key by key with chosen hold and gap times (ms). */
    async type(text, { holdMs, gapMs }) {
      for (const [index, char] of [...text].entries()) {
        await page.keyDown(char);
        await pause(holdMs(index));
        await page.keyUp(char);
        await pause(gapMs(index));
      }
      return [...text].length;
    },
  };
}

/**
 * Chromium through playwright-core; `initScript` runs before the page's own scripts. With
 * `display` it runs in a window on that X display (for real XTest input), else headless.
 */
export async function chromiumEngine({ initScript, display } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !display,
    env: display ? { ...process.env, DISPLAY: display } : process.env,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync", "--disable-background-networking",
      "--disable-component-update", "--window-position=0,0", "--window-size=1024,800",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  return common({
    name: "chromium",
    version: browser.version(),
    goto: (url) => page.goto(url),
    run: (body) => page.evaluate(new Function(body)),
    click: (testid) => page.getByTestId(testid).click(),
    focus: (testid) => page.getByTestId(testid).focus(),
    keyDown: (char) => page.keyboard.down(char),
    keyUp: (char) => page.keyboard.up(char),
    moveMouse: async (x, y, steps) => page.mouse.move(x, y, { steps }),
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    close: () => browser.close(),
  });
}

/**
 * Firefox ESR through puppeteer-core over WebDriver BiDi; `prefs` are Firefox preferences. With
 * `display` it runs in a window on that X display (for real XTest input), else headless.
 */
export async function firefoxEngine({ prefs = {}, display } = {}) {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: !display,
    env: display ? { ...process.env, DISPLAY: display } : process.env,
    args: display ? ["--width=1024", "--height=800"] : [],
    defaultViewport: { width: 1024, height: 800 },
    extraPrefsFirefox: prefs,
  });
  const page = await browser.newPage();
  const selector = (testid) => `[data-testid="${testid}"]`;
  return common({
    name: "firefox",
    version: await browser.version(),
    goto: (url) => page.goto(url),
    run: (body) => page.evaluate(new Function(body)),
    click: (testid) => page.click(selector(testid)),
    focus: (testid) => page.focus(selector(testid)),
    keyDown: (char) => page.keyboard.down(char),
    keyUp: (char) => page.keyboard.up(char),
    moveMouse: async (x, y, steps) => page.mouse.move(x, y, { steps }),
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    close: () => browser.close(),
  });
}

/** WebDriver key values for the characters typed (printable ones are themselves). */
const WEBDRIVER_KEY = { " ": " " };

/**
 * WebKitGTK's MiniBrowser through WebKitWebDriver, on its own Xvfb display. Classic WebDriver:
 * a session, navigation, script, element clicks, key actions and screenshots over HTTP.
 */
export async function webkitEngine() {
  const display = `:${40 + Math.floor(Math.random() * 50)}`;
  const xvfb = spawn("Xvfb", [display, "-screen", "0", "1280x1000x24", "-nolisten", "tcp"], { stdio: "ignore" });
  const port = await freePort();
  const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], { env: { ...process.env, DISPLAY: display }, stdio: "ignore" });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const json = await response.json();
    if (json.value?.error) throw new Error(`WebDriver ${method} ${path}: ${json.value.error}: ${json.value.message}`);
    return json.value;
  };
  const stop = () => {
    driver.kill("SIGTERM");
    xvfb.kill("SIGTERM");
  };
  let session;
  try {
    await until("WebKitWebDriver to listen", () => call("GET", "/status").then((s) => s?.ready !== undefined, () => false), 10_000);
    session = await call("POST", "/session", {
      capabilities: { alwaysMatch: { "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] } } },
    });
  } catch (error) {
    stop();
    throw error;
  }
  const id = session.sessionId;
  const at = (path) => `/session/${id}${path}`;
  await call("POST", at("/window/rect"), { width: 1024, height: 900 }).catch(() => {});
  const element = async (testid) => {
    const found = await call("POST", at("/element"), { using: "css selector", value: `[data-testid="${testid}"]` });
    return Object.values(found)[0];
  };
  const key = (type, char) =>
    call("POST", at("/actions"), { actions: [{ type: "key", id: "keyboard", actions: [{ type, value: WEBDRIVER_KEY[char] ?? char }] }] });
  return common({
    name: "webkit",
    version: session.capabilities.browserVersion,
    goto: (url) => call("POST", at("/url"), { url }),
    run: (body) => call("POST", at("/execute/sync"), { script: body, args: [] }),
    click: async (testid) => call("POST", at(`/element/${await element(testid)}/click`), {}),
    focus: async (testid) => call("POST", at("/execute/sync"), { script: `document.querySelector('[data-testid="${testid}"]').focus();`, args: [] }),
    keyDown: (char) => key("keyDown", char),
    keyUp: (char) => key("keyUp", char),
    moveMouse: null,
    screenshot: async (path) => writeFileSync(path, Buffer.from(await call("GET", at("/screenshot")), "base64")),
    close: async () => {
      await call("DELETE", at("")).catch(() => {});
      stop();
    },
  });
}
