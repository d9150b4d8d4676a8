// The walking skeleton end to end: a candidate types in the real widget in headless Chromium, the
// real edge scores and signs, and the interviewer page in a second browser context shows the
// verdict live with its signature verified in the browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { useEdgeAndBrowser, onsite, typeWithTimings, skipChallenges, assertNoKeyIdentity } from "./harness.mjs";

/** The physical key (`KeyboardEvent.code`) of a character on a US layout. */
function codeOf(char) {
  if (char === " ") return "Space";
  if (char === ".") return "Period";
  return "Key" + char.toUpperCase();
}

// Screenshots of each step, for people to look at (docs/screenshots/ holds a copy).
const SHOTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
const shot = (name) => join(SHOTS, name);

const env = useEdgeAndBrowser();

test("a candidate's typing reaches the interviewer as a live, verified verdict, and no key identity leaves the page", async () => {
  const session = await env.edge.createSession();
  assert.match(session.candidate_url, /\/candidate#session=[\w-]+&token=[\w-]{40,}$/);

  // The interviewer watches from a separate browser context.
  const interviewerContext = await env.browser.newContext();
  const interviewer = await interviewerContext.newPage();
  const tokens = [];
  interviewer.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => {
    if (typeof payload === "string" && payload.includes('"t":"verdict"')) tokens.push(JSON.parse(payload).token);
  }));
  await interviewer.goto(session.interviewer_url);
  await interviewer.getByTestId("link").filter({ hasText: "live" }).waitFor({ timeout: 15_000 });

  const candidateContext = await env.browser.newContext();
  const candidate = await candidateContext.newPage();
  const sentFrames = [];
  candidate.on("websocket", (ws) => ws.on("framesent", ({ payload }) => sentFrames.push(payload)));
  const consoleErrors = [];
  candidate.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));
  await candidate.goto(session.candidate_url);
  assert.equal(await candidate.evaluate(() => crossOriginIsolated), true, "the candidate page is cross-origin isolated");
  await candidate.screenshot({ path: shot("candidate-consent.png"), fullPage: true });
  await candidate.getByTestId("consent").click();
  await candidate.getByTestId("typing-box").click();
  await candidate.getByTestId("probe-status").filter({ hasText: "connected" }).waitFor({ timeout: 10_000 });

  // Type the sentence the widget shows; its characters and key names must never leave the page.
  const SENTENCE = (await candidate.locator(".sentence").textContent()).trim();
  const TYPED_KEYS = new Set([...SENTENCE]);
  const TYPED_CODES = new Set([...SENTENCE].map(codeOf));
  const presses = await typeWithTimings(candidate, SENTENCE, {
    holdMs: (i) => 60 + ((i * 37) % 50),
    gapMs: (i) => 70 + ((i * 53) % 90),
  });
  assert.equal(await candidate.getByTestId("typing-box").inputValue(), SENTENCE, "the text stays in the page");
  await candidate.screenshot({ path: shot("candidate-typing.png"), fullPage: true });
  await candidate.getByTestId("finish").click();
  await skipChallenges(candidate);
  await candidate.getByTestId("done").waitFor({ timeout: 15_000 });

  // The verdict arrives live, counts exactly the presses injected, and verifies in the browser.
  await interviewer.getByTestId("keystrokes").filter({ hasText: new RegExp(`^${presses}$`) }).waitFor({ timeout: 15_000 });
  await interviewer.getByTestId("signature").filter({ hasText: /^signature verified$/ }).waitFor({ timeout: 10_000 });
  await interviewer.screenshot({ path: shot("interviewer-verdict.png"), fullPage: true });
  const verdictClass = await interviewer.getByTestId("verdict-class").getAttribute("data-class");
  // Enough presses for a verdict were typed, so a person typing locally is `local`, not merely
  // not flagged.
  assert.equal(verdictClass, "local", `a person typing locally is local (got ${verdictClass}: ${await interviewer.locator(".reasons").textContent()})`);
  const rttMinMs = Number(await interviewer.getByTestId("rtt-min").getAttribute("data-ms"));
  const rttMedianMs = Number(await interviewer.getByTestId("rtt-median").getAttribute("data-ms"));
  assert.ok(rttMinMs > 0 && rttMinMs < 20, `loopback minimum round trip ${rttMinMs} ms`);
  assert.ok(rttMedianMs >= rttMinMs && rttMedianMs < 100, `loopback median round trip ${rttMedianMs} ms`);

  // The newest token verifies with the CLI against the live key set; an altered one does not.
  const token = tokens.at(-1);
  assert.ok(token, "the interviewer received a token");
  const verified = onsite("verify", "--jwks", `${env.edge.url}/.well-known/jwks.json`, token);
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal(JSON.parse(verified.stdout).verdict.keystrokes, presses);
  const [header, claims, signature] = token.split(".");
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims, "base64url")), sub: "another" })).toString("base64url");
  const tampered = onsite("verify", "--jwks", `${env.edge.url}/.well-known/jwks.json`, `${header}.${forged}.${signature}`);
  assert.equal(tampered.code, 3, tampered.stderr);
  assert.match(tampered.stderr, /signature does not verify/);

  // Privacy: no frame the candidate page sent names a key, and no stored byte holds the text.
  assert.ok(sentFrames.length > 5, "frames were captured");
  const strokesSeen = assertNoKeyIdentity(sentFrames, TYPED_KEYS, TYPED_CODES);
  for (const payload of sentFrames.filter((p) => typeof p === "string")) {
    for (const word of SENTENCE.split(" ").filter((w) => w.length >= 3)) assert.ok(!payload.includes(word), `frame holds "${word}"`);
  }
  assert.equal(strokesSeen, presses, "every press was sent, as timings");
  for (const file of readdirSync(env.edge.dataDir)) {
    const bytes = readFileSync(join(env.edge.dataDir, file)).toString("latin1");
    for (const needle of ["quick", "brown", "lazy", "wizards", "KeyQ", "KeyZ", "Period"]) assert.ok(!bytes.includes(needle), `${file} holds ${needle}`);
  }
  assert.deepEqual(consoleErrors, [], "the candidate page logged no errors");
  await candidateContext.close();
  await interviewerContext.close();
});

test("a link with a wrong token is refused with a sentence, and the edge keeps serving", async () => {
  const session = await env.edge.createSession();
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(session.interviewer_url.replace(/token=[\w-]+/, "token=wrong"));
  await page.getByTestId("link").filter({ hasText: "not valid" }).waitFor({ timeout: 10_000 });
  const incomplete = await context.newPage();
  await incomplete.goto(`${env.edge.url}/candidate`);
  await incomplete.getByRole("alert").filter({ hasText: "This link is incomplete" }).waitFor();
  const health = await fetch(`${env.edge.url}/healthz`);
  assert.equal(health.status, 200);
  await context.close();
});
