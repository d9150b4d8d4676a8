// Benchmark of the echo path. In headless Chromium: measuring edges behind delay proxies of 0,
// 20, 110 and 300 ms time the browser, and each round trip's error against the injected delay
// (beyond the path's own round trip) is reported. Then the edge's added latency against a bare
// tokio WebSocket echo server, and the sessions one edge holds (crates/edge/examples/bench_echo.rs).
// Ends with one `name: value unit` line per figure.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEdge, launchBrowser } from "../e2e/harness.mjs";
import { startDelayProxy } from "../e2e/lib/proxy.mjs";

const DELAYS_MS = [0, 20, 110, 300];
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];

const edges = [];
const proxies = [];
let home;
let browser;
try {
  for (const [i, rttMs] of DELAYS_MS.entries()) {
    const edge = await startEdge(["--edge-id", `d${rttMs}`, "--location", "New York"]);
    const proxy = await startDelayProxy({ rttMs, jitterMs: 0, seed: i + 1 });
    proxy.setTarget(Number(new URL(edge.url).port));
    edges.push({ rttMs, edge, proxy, keys: await (await fetch(`${edge.url}/.well-known/jwks.json`)).json() });
    proxies.push(proxy);
  }
  const file = join(mkdtempSync(join(tmpdir(), "onsite-bench-")), "edges.json");
  writeFileSync(file, JSON.stringify(edges.map((e) => ({ id: `d${e.rttMs}`, url: `ws://127.0.0.1:${e.proxy.port}/api/v1/echo`, location: "New York", keys: e.keys }))));
  home = await startEdge(["--edges", file]);
  browser = await launchBrowser();
  const session = await home.createSession();
  const page = await browser.newPage();
  const tokens = [];
  page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
    if (typeof payload === "string" && payload.includes('"t":"measured"')) tokens.push(JSON.parse(payload).token);
  }));
  await page.goto(session.candidate_url);
  await page.getByTestId("consent").click();
  for (let waited = 0; tokens.length < DELAYS_MS.length && waited < 30_000; waited += 250) await page.waitForTimeout(250);
  const samples = new Map(tokens.map((t) => {
    const claims = JSON.parse(Buffer.from(t.split(".")[1], "base64url"));
    return [Number(claims.iss.slice(1)), claims.rtt_us.map((us) => us / 1000)];
  }));
  const baseMs = quantile(samples.get(0), 0.5);
  console.log(`path round trip without added delay: median ${baseMs.toFixed(2)} ms`);
  for (const rttMs of DELAYS_MS) {
    const errors = (samples.get(rttMs) ?? []).map((ms) => Math.abs(ms - baseMs - rttMs));
    console.log(`echo_error_ms_p50_at_${rttMs}: ${quantile(errors, 0.5).toFixed(2)} ms`);
    console.log(`echo_error_ms_p95_at_${rttMs}: ${quantile(errors, 0.95).toFixed(2)} ms`);
  }
} finally {
  await browser?.close();
  for (const proxy of proxies) await proxy.close();
  for (const e of edges) await e.edge.stop();
  await home?.stop();
}

const server = spawnSync("cargo", ["run", "--quiet", "--release", "-p", "onsite-edge", "--example", "bench_echo"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
process.stdout.write(server.stdout);
process.exit(server.status ?? 1);
