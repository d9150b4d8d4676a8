// Test harness for the browser end-to-end suite: starts the real edge on a free loopback port with
// its own data directory, and launches Debian's headless Chromium through playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const ONSITE_BIN = process.env.ONSITE_BIN ?? "target/debug/onsite";
export const ASSETS = process.env.ONSITE_ASSETS ?? "dist";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Flags that keep Chromium off the network it cannot reach here, and make it run as root.
const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
  "--disable-background-networking", "--disable-component-update",
];

/** Starts `onsite serve` (with extra `args`) and resolves once it prints its address. */
export async function startEdge(args = [], { dataDir, addr = "127.0.0.1:0", apiKey } = {}) {
  dataDir ??= mkdtempSync(join(tmpdir(), "onsite-e2e-"));
  apiKey ??= "e2e-api-key-" + Math.random().toString(36).slice(2);
  const child = spawn(ONSITE_BIN, ["serve", "--addr", addr, "--data-dir", dataDir, "--assets", ASSETS, ...args], {
    env: { ...process.env, ONSITE_API_KEY: apiKey, RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error("edge did not start in 20 s: " + seen)), 20_000);
    child.stdout.on("data", (chunk) => {
      seen += chunk;
      const match = seen.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`edge exited with ${code}: ${seen}`)));
  });
  const exited = () => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.on("exit", resolve)));
  return {
    url,
    apiKey,
    dataDir,
    pid: child.pid,
    async createSession(request = {}) {
      const response = await fetch(`${url}/api/v1/sessions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(request),
      });
      if (response.status !== 201) throw new Error(`session create answered ${response.status}: ${await response.text()}`);
      return response.json();
    },
    /** Kills the process outright (SIGKILL: no shutdown, no flush) and keeps its data. */
    async crash() {
      child.kill("SIGKILL");
      await exited();
    },
    /** Starts the same edge again: same address, data and API key. */
    restart(moreArgs = args) {
      return startEdge(moreArgs, { dataDir, addr: new URL(url).host, apiKey });
    },
    async stop({ keepData = false } = {}) {
      child.kill("SIGINT");
      await exited();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A session's stored evidence, exported as its interviewer would. */
export async function exportEvidence(edge, session) {
  const { session: id, token } = Object.fromEntries(new URL(session.interviewer_url).hash.slice(1).split("&").map((p) => p.split("=")));
  const response = await fetch(`${edge.url}/api/v1/sessions/${id}/evidence`, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`evidence export answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Launches headless Chromium. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** Runs the onsite CLI and returns its exit code and output. */
export function onsite(...args) {
  const result = spawnSync(ONSITE_BIN, args, { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Presses and releases each character with chosen hold and gap times; returns the presses made. */
export async function typeWithTimings(page, text, { holdMs, gapMs }) {
  let presses = 0;
  for (const [index, char] of [...text].entries()) {
    const key = char === " " ? " " : char;
    await page.keyboard.down(key);
    await page.waitForTimeout(holdMs(index));
    await page.keyboard.up(key);
    presses += 1;
    await page.waitForTimeout(gapMs(index));
  }
  return presses;
}

/**
 * Produces a signed verdict without the widget: a page on the edge's origin opens the candidate
 * and interviewer sockets itself, answers echo probes, sends `strokes` presses of steady typing,
 * and returns the newest token once it counts them all.
 */
export async function produceVerdict(browser, edge, strokes = 30) {
  const session = await edge.createSession();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${edge.url}/`);
  const token = await page.evaluate(async ({ session, strokes }) => {
    const capability = (url) => Object.fromEntries(new URL(url).hash.slice(1).split("&").map((p) => p.split("=")));
    const connect = (role, url, onMessage) =>
      new Promise((resolve, reject) => {
        const { session: id, token } = capability(url);
        const ws = new WebSocket(`ws://${location.host}/api/v1/ws`);
        ws.binaryType = "arraybuffer";
        ws.onopen = () => ws.send(JSON.stringify({ t: "hello", v: 1, role, session: id, token }));
        ws.onerror = () => reject(new Error(`${role} socket failed`));
        ws.onmessage = (event) => {
          if (typeof event.data !== "string") {
            ws.send(event.data);
            return onMessage({ t: "echo" });
          }
          const message = JSON.parse(event.data);
          if (message.t === "welcome") resolve(ws);
          onMessage(message);
        };
      });
    let latest = null;
    const done = new Promise((resolve) => {
      connect("interviewer", session.interviewer_url, (m) => {
        if (m.t === "verdict" && m.verdict.keystrokes === strokes) {
          latest = m.token;
          resolve();
        }
      });
    });
    // `local` needs five round trips the edge timed itself: answer its echoes for a while first.
    let echoes = 0;
    let echoed;
    const enough = new Promise((resolve) => (echoed = resolve));
    const candidate = await connect("candidate", session.candidate_url, (m) => m.t === "echo" && ++echoes >= 6 && echoed());
    await enough;
    const presses = Array.from({ length: strokes }, (_, i) => {
      const down_us = 1_000_000 + i * 180_000 + (i % 4) * 15_000;
      return { down_us, up_us: down_us + 70_000 + (i % 5) * 9_000, class: "letter", repeats: 0, trusted: true };
    });
    candidate.send(JSON.stringify({ t: "evidence", seq: 1, strokes: presses }));
    candidate.send(JSON.stringify({ t: "finish" }));
    await done;
    return latest;
  }, { session, strokes });
  await context.close();
  return { session, token };
}

/** Changes one claim of a token and keeps its signature: a forgery that must be refused. */
export function tamper(token, changes) {
  const [header, claims, signature] = token.split(".");
  const altered = { ...JSON.parse(Buffer.from(claims, "base64url")), ...changes };
  return `${header}.${Buffer.from(JSON.stringify(altered)).toString("base64url")}.${signature}`;
}

/** The newest verdict of a session, read as the interviewer would, over the interviewer's socket. */
export async function latestVerdict(browser, edge, session) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${edge.url}/`);
  const message = await page.evaluate(async (url) => {
    const { session: id, token } = Object.fromEntries(new URL(url).hash.slice(1).split("&").map((p) => p.split("=")));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${location.host}/api/v1/ws`);
      ws.onopen = () => ws.send(JSON.stringify({ t: "hello", v: 1, role: "interviewer", session: id, token }));
      ws.onerror = () => reject(new Error("interviewer socket failed"));
      ws.onmessage = (event) => {
        const m = JSON.parse(event.data);
        if (m.t === "verdict") {
          ws.close();
          resolve(m);
        }
      };
      setTimeout(() => reject(new Error("no verdict within 10 s")), 10_000);
    });
  }, session.interviewer_url);
  await context.close();
  return message;
}

/** Skips the rhythm and tracking tasks, as a person who prefers not to do them would. */
export async function skipChallenges(page) {
  for (const step of ["Step 2 of 4", "Step 3 of 4"]) {
    await page.getByTestId("step").filter({ hasText: step }).waitFor({ timeout: 10_000 });
    await page.getByTestId("skip-task").click();
  }
}

/** Starts one edge and one browser for a test file, and stops them after it. */
export function useEdgeAndBrowser() {
  const env = {};
  before(async () => {
    env.edge = await startEdge();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.edge?.stop();
  });
  return env;
}

/** Opens a new session's candidate link, consents, and waits until the probe is connected. */
export async function openCandidate(browser, edge) {
  const session = await edge.createSession();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(session.candidate_url);
  await page.getByTestId("consent").click();
  await page.getByTestId("typing-box").focus();
  await page.getByTestId("probe-status").filter({ hasText: "connected" }).waitFor({ timeout: 10_000 });
  return { session, context, page };
}

const FORBIDDEN_FIELDS = new Set(["key", "code", "char", "charCode", "keyCode", "which", "text", "data"]);

/** Every string and field name in a JSON value. */
function* walk(value, path = "$") {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* walk(item, `${path}[${i}]`);
  } else if (value && typeof value === "object") {
    for (const [name, item] of Object.entries(value)) {
      yield { kind: "field", name, path };
      yield* walk(item, `${path}.${name}`);
    }
  } else if (typeof value === "string") {
    yield { kind: "string", value, path };
  }
}

/**
 * Checks frames a page sent: binary frames are echo replies or probes, numbers only; no JSON field is named like a
 * key property; no string value is a typed character or key code (the session id and token aside).
 * Returns how many presses the evidence frames carried.
 */
export function assertNoKeyIdentity(frames, typedKeys, typedCodes) {
  let strokes = 0;
  for (const payload of frames) {
    if (typeof payload !== "string") {
      // Echo replies (tag 1, sequence, the page's clock) and the browser's own probes (tag 2,
      // sequence): numbers only.
      const expected = { 1: 13, 2: 5 }[payload[0]];
      assert.equal(payload.length, expected, `binary frame with tag ${payload[0]} and ${payload.length} bytes`);
      continue;
    }
    const message = JSON.parse(payload);
    if (message.t === "evidence") strokes += message.strokes.length;
    for (const item of walk(message)) {
      if (item.kind === "field") assert.ok(!FORBIDDEN_FIELDS.has(item.name), `field ${item.name} at ${item.path}`);
      if (item.kind === "string" && item.path !== "$.token" && item.path !== "$.session") {
        assert.ok(!typedKeys.has(item.value) && !typedCodes.has(item.value), `key identity ${item.value} at ${item.path}`);
      }
    }
  }
  return strokes;
}

/**
 * Lets the edge at `base` measure this page for `session`, as a browser opening its echo URL with
 * `nonce` (a session's edge gives the real one in `welcome`); returns the signed measurement.
 */
export async function measureAt(page, base, session, nonce = "not-the-sessions-nonce") {
  const url = `${base.replace(/^http/, "ws")}/api/v1/echo?nonce=${encodeURIComponent(nonce)}`;
  return page.evaluate(({ url, session }) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ t: "measure", v: 1, session }));
    ws.onerror = () => reject(new Error(`cannot reach ${url}`));
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return ws.send(e.data);
      const m = JSON.parse(e.data);
      if (m.t === "measurement") resolve(m.token);
      if (m.t === "error") reject(new Error(`${url}: ${m.message}`));
    };
  }), { url, session });
}
