// The product flows end to end in headless Chromium: an interviewer creates a session on the
// dashboard; a candidate completes the widget framed in a host page on another origin, which
// hears its progress by postMessage; the interviewer's page updates live with charts; the token
// and the evidence are exported; and the onboarding gate says ship or hold under a policy. The
// probe package runs on the host page too. Screenshots go to tests/e2e/artifacts/ (copied to
// docs/screenshots/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { startEdge, launchBrowser, typeWithTimings, ASSETS } from "./harness.mjs";

const SHOTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
const shot = (name) => join(SHOTS, name);

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json", ".ts": "text/plain" };

/** Every request path the host page's server saw, to show no capability ever reaches it. */
const hostRequests = [];

/** A host page on its own origin: serves the example portal and the probe package from dist/. */
function startHost() {
  const server = createServer((request, response) => {
    hostRequests.push(request.url);
    const path = normalize(new URL(request.url, "http://host").pathname).replace(/^\/+/, "");
    const file = join(ASSETS, path || "embed.html");
    if (!file.startsWith(normalize(ASSETS)) || !existsSync(file)) {
      response.writeHead(404).end("not found");
      return;
    }
    response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${server.address().port}` })));
}

const env = {};
before(async () => {
  env.host = await startHost();
  env.edge = await startEdge(["--allow-origin", env.host.origin]);
  env.browser = await launchBrowser();
});
after(async () => {
  await env.browser?.close();
  await env.edge?.stop();
  env.host?.server.close();
});

const steady = { holdMs: (i) => 80 + (i % 5) * 9, gapMs: (i) => 95 + (i % 7) * 17 };

test("create on the dashboard, complete in a framed widget, watch live with charts, export, and pass the gate", async () => {
  // 1. The interviewer creates a session on the dashboard.
  const dashboard = await (await env.browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  await dashboard.goto(`${env.edge.url}/dashboard`);
  await dashboard.getByTestId("api-key").fill("not-the-key");
  await dashboard.getByTestId("save-key").click();
  await dashboard.getByTestId("dashboard-problem").filter({ hasText: "API key is wrong" }).waitFor();
  await dashboard.getByTestId("api-key").fill(env.edge.apiKey);
  await dashboard.getByTestId("save-key").click();
  await dashboard.getByTestId("claimed-location").fill("Chicago");
  await dashboard.getByTestId("create-session").click();
  await dashboard.getByTestId("created").waitFor();
  const candidateLink = await dashboard.getByTestId("candidate-link").inputValue();
  const interviewerLink = await dashboard.getByTestId("interviewer-link").inputValue();
  assert.match(candidateLink, /\/candidate#session=[\w-]+&token=[\w-]{40,}$/);
  assert.match(interviewerLink, /\/interviewer#session=[\w-]+&token=[\w-]{40,}$/);
  await dashboard.getByTestId("sessions").waitFor();
  await dashboard.screenshot({ path: shot("dashboard.png"), fullPage: true });

  // 2. The interviewer's page waits, live.
  const interviewer = await (await env.browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  await interviewer.goto(interviewerLink);
  await interviewer.getByTestId("link").filter({ hasText: "live" }).waitFor({ timeout: 15_000 });

  // 3. The candidate completes the widget framed in the host page, on another origin.
  const hostPage = await (await env.browser.newContext({ viewport: { width: 1200, height: 1000 } })).newPage();
  await hostPage.goto(`${env.host.origin}/embed.html#candidate=${encodeURIComponent(candidateLink)}`);
  const widget = hostPage.frameLocator("[data-testid=widget-frame]");
  await hostPage.locator("[data-type='onsite:ready']").waitFor({ timeout: 15_000 });
  await widget.getByTestId("consent").click();
  await widget.getByTestId("typing-box").click();
  await widget.getByTestId("probe-status").filter({ hasText: "connected" }).waitFor({ timeout: 10_000 });
  await typeWithTimings(hostPage, "the quick brown fox jumps over the lazy dog while five wizards box", steady);
  await hostPage.screenshot({ path: shot("embedded-widget.png"), fullPage: true });
  await widget.getByTestId("finish").click();
  for (const step of ["Step 2 of 4", "Step 3 of 4"]) {
    await widget.getByTestId("step").filter({ hasText: step }).waitFor({ timeout: 10_000 });
    await widget.getByTestId("skip-task").click();
  }
  await widget.getByTestId("done").waitFor({ timeout: 15_000 });
  await hostPage.locator("[data-type='onsite:done']").waitFor({ timeout: 5_000 });
  const received = await hostPage.locator("#events li").evaluateAll((items) => items.map((li) => li.dataset.type));
  for (const type of ["onsite:ready", "onsite:consented", "onsite:step", "onsite:progress", "onsite:done"]) {
    assert.ok(received.includes(type), `the host page heard ${type}: ${received.join(", ")}`);
  }
  const steps = await hostPage.locator("[data-type='onsite:step']").allTextContents();
  assert.deepEqual(steps.map((t) => JSON.parse(t.slice(t.indexOf("{"))).name), ["consent", "typing", "rhythm", "tracking", "finishing"]);
  assert.match(await hostPage.getByTestId("host-progress").textContent(), /complete/);
  const candidateToken = candidateLink.slice(candidateLink.lastIndexOf("token=") + 6);
  assert.ok(hostRequests.length > 0 && !hostRequests.some((url) => url.includes(candidateToken) || url.includes("token")), `the host's server never saw the capability: ${hostRequests.join(" ")}`);
  assert.equal(await hostPage.evaluate(() => location.href.includes("token")), false, "the link is out of the address bar once read");

  // 4. The interviewer's page has updated live: verdict, charts, history.
  await interviewer.getByTestId("keystrokes").filter({ hasText: /^(6\d)$/ }).waitFor({ timeout: 15_000 });
  await interviewer.getByTestId("signature").filter({ hasText: "signature verified" }).waitFor();
  const charts = interviewer.getByTestId("charts");
  await charts.getByTestId("chart-dwell").locator("svg").waitFor({ timeout: 10_000 });
  for (const id of ["chart-rtt", "chart-flight", "chart-history"]) await charts.getByTestId(id).locator("svg").waitFor();
  const dwellDescription = await charts.getByTestId("chart-dwell").locator("desc").textContent();
  assert.match(dwellDescription, /^6\d values; \d+ of them \(\d+%\) inside the local human band of 51 to 141 ms\.$/, dwellDescription);
  assert.match(await charts.getByTestId("chart-taps").textContent(), /Not measured yet/, "the rhythm task was skipped");
  await interviewer.screenshot({ path: shot("interviewer-dashboard.png"), fullPage: true });

  // 5. Export: the signed token and the evidence.
  const tokenHref = await interviewer.getByTestId("export-token").getAttribute("href");
  const token = decodeURIComponent(tokenHref.slice(tokenHref.indexOf(",") + 1));
  assert.match(token, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  const evidenceHref = await interviewer.getByTestId("export-evidence").getAttribute("href");
  const evidence = JSON.parse(decodeURIComponent(evidenceHref.slice(evidenceHref.indexOf(",") + 1)));
  const strokes = evidence.strokes.length;
  // The download is version-1 evidence, which `onsite score` re-scores (the edge test checks it
  // is, byte for byte, what the final token commits to).
  assert.equal(evidence.v, 1, "version-1 evidence");
  assert.ok(strokes >= 60, `the exported evidence has the presses: ${strokes}`);
  assert.equal(JSON.stringify(evidence).match(/.{60}"(key|code|text|char)":.{60}/)?.[0], undefined, "no field of the export names a key, a code or text");

  // 6. The gate: ship under a policy the verdict passes, hold under one it does not, and hold
  // for a tampered token.
  const gate = await (await env.browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
  await gate.goto(`${env.edge.url}/gate`);
  await gate.getByTestId("gate-token").fill(token);
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
  // Without the session the portal expects, nothing is checked: any verdict would do.
  await gate.getByTestId("gate-check").click();
  await gate.getByTestId("gate-problem").filter({ hasText: "Enter the session" }).waitFor();
  // A genuine verdict about another session holds.
  await gate.getByTestId("gate-session").fill("another-session");
  await gate.getByTestId("gate-check").click();
  await gate.locator("[data-decision=hold]").waitFor();
  assert.match(await gate.getByTestId("gate-reasons").textContent(), /is about session/);
  // With no class ticked, nothing can ship: the page says so rather than asking for "anything".
  await gate.getByTestId("allow-local").uncheck();
  await gate.getByTestId("gate-check").click();
  await gate.getByTestId("gate-problem").filter({ hasText: "Tick at least one verdict" }).waitFor();
  await gate.getByTestId("allow-local").check();
  await gate.getByTestId("gate-session").fill(claims.sub);
  for (const name of ["inconclusive", "remote_suspected", "remote"]) await gate.getByTestId(`allow-${name}`).check();
  await gate.getByTestId("gate-check").click();
  await gate.getByTestId("decision").waitFor();
  assert.equal(await gate.getByTestId("decision").getAttribute("data-decision"), "ship");
  await gate.screenshot({ path: shot("gate-ship.png"), fullPage: true });
  for (const name of ["local", "inconclusive", "remote_suspected"]) await gate.getByTestId(`allow-${name}`).uncheck();
  if (claims.verdict.class === "remote") await gate.getByTestId("allow-local").check();
  await gate.getByTestId("gate-check").click();
  await gate.locator("[data-decision=hold]").waitFor();
  assert.match(await gate.getByTestId("gate-reasons").textContent(), /class|not allowed|policy/i);
  await gate.getByTestId("gate-token").fill(token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA"));
  await gate.getByTestId("gate-check").click();
  await gate.getByTestId("gate-valid").filter({ hasText: "not verified" }).waitFor();
  await gate.screenshot({ path: shot("gate-hold.png"), fullPage: true });

  // 7. The dashboard's list has caught up with the verdict.
  await dashboard.locator(`tr[data-session] [data-testid=row-class]`).filter({ hasNotText: "waiting" }).first().waitFor({ timeout: 15_000 });

  // 8. The dashboard remembers an interviewer link for a day, not forever.
  const created = JSON.parse(await dashboard.evaluate(() => localStorage.getItem("onsite-interviewer-links")));
  const sessionId = Object.keys(created)[0];
  assert.match(created[sessionId].url, /\/interviewer#session=/);
  assert.ok(Math.abs(created[sessionId].saved_at_s - Date.now() / 1000) < 600, JSON.stringify(created));
  await dashboard.locator(`tr[data-session="${sessionId}"] a`).filter({ hasText: "Open" }).waitFor();
  await dashboard.evaluate(([id, url]) => {
    const dayAndAMinuteAgo = Math.floor(Date.now() / 1000) - 24 * 3600 - 60;
    localStorage.setItem("onsite-interviewer-links", JSON.stringify({ [id]: { url, saved_at_s: dayAndAMinuteAgo } }));
  }, [sessionId, created[sessionId].url]);
  await dashboard.reload();
  await dashboard.getByTestId("api-key").fill(env.edge.apiKey);
  await dashboard.getByTestId("save-key").click();
  await dashboard.locator(`tr[data-session="${sessionId}"]`).filter({ hasText: "link elsewhere" }).waitFor({ timeout: 10_000 });
  assert.equal(await dashboard.evaluate(() => localStorage.getItem("onsite-interviewer-links")), "{}", "the expired link is gone from storage");
});

test("the widget tells only the origin it was given, and the probe package streams from the host page", async () => {
  const first = await env.edge.createSession();
  const live = await env.edge.createSession();
  const page = await (await env.browser.newContext()).newPage();
  // The host page asks for messages; a listener on a page of another origin would hear nothing,
  // because the widget posts to `host=` only. Here the frame is given a wrong host on purpose.
  // A link in the query string, where servers and proxies would log it, is refused.
  await page.goto(`${env.host.origin}/embed.html?candidate=${encodeURIComponent(first.candidate_url)}`);
  await page.getByTestId("host-progress").filter({ hasText: "never after a ?" }).waitFor();
  assert.equal(await page.locator("#widget").getAttribute("src"), null, "nothing is framed from a query-string link");
  await page.goto(`${env.host.origin}/embed.html#live=${encodeURIComponent(live.candidate_url)}`);
  await page.evaluate((link) => {
    const frame = document.getElementById("widget");
    frame.src = `${link}&host=${encodeURIComponent("http://127.0.0.1:9")}`;
  }, first.candidate_url);
  const widget = page.frameLocator("[data-testid=widget-frame]");
  await widget.getByTestId("consent").waitFor({ timeout: 15_000 });
  await widget.getByTestId("consent").click();
  // By the time the framed probe says it is connected, the widget has posted `onsite:consented`
  // and `onsite:step` (the first test sees them arrive when the host is named): none came here.
  await widget.getByTestId("probe-status").filter({ hasText: "connected" }).waitFor({ timeout: 15_000 });
  await widget.getByTestId("typing-box").waitFor({ timeout: 5_000 });
  assert.equal(await page.locator("#events li").count(), 0, "no message reaches a page whose origin was not named");

  // The package: typing in the host page's own notes field, with its own session.
  await page.getByTestId("live-status").filter({ hasText: "connected" }).waitFor({ timeout: 15_000 });
  await page.getByTestId("notes").click();
  await typeWithTimings(page, "notes taken during the interview", steady);
  await page.getByTestId("live-finish").click();
  await page.locator("[data-testid=live-status][data-done=true]").waitFor({ timeout: 10_000 });
  assert.match(await page.getByTestId("live-status").textContent(), /32 key presses/);
});
