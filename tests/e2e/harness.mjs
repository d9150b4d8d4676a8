// Test harness for the browser end-to-end suite: starts the real edge on a free loopback port with
// its own data directory, and launches Debian's headless Chromium through playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const ONSITE_BIN = process.env.ONSITE_BIN ?? "target/debug/onsite";
const ASSETS = process.env.ONSITE_ASSETS ?? "dist";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Flags that keep Chromium off the network it cannot reach here, and make it run as root.
const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
  "--disable-background-networking", "--disable-component-update",
];

/** Starts `onsite serve` and resolves once it prints its address. */
export async function startEdge() {
  const dataDir = mkdtempSync(join(tmpdir(), "onsite-e2e-"));
  const apiKey = "e2e-api-key-" + Math.random().toString(36).slice(2);
  const child = spawn(ONSITE_BIN, ["serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--assets", ASSETS], {
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
  return {
    url,
    apiKey,
    dataDir,
    async createSession() {
      const response = await fetch(`${url}/api/v1/sessions`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}` } });
      if (response.status !== 201) throw new Error(`session create answered ${response.status}: ${await response.text()}`);
      return response.json();
    },
    async stop() {
      child.kill("SIGINT");
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on("exit", resolve)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
