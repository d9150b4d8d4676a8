// The standalone probe on a host page, passively during a live interview: the page imports
// `dist/probe/onsite_probe.js`, attaches to its document, and the edge scores what it sends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useEdgeAndBrowser, latestVerdict, assertNoKeyIdentity } from "./harness.mjs";
import { loadSubjects, typingEvents, dispatch } from "./lib/replay.mjs";

const env = useEdgeAndBrowser();
const subjects = loadSubjects(new URL("../data/cmu-keystrokes-sample.csv", import.meta.url).pathname);

test("a host page attaches the standalone probe to its document and the edge scores it", async () => {
  const session = await env.edge.createSession();
  const { session: id, token } = Object.fromEntries(new URL(session.candidate_url).hash.slice(1).split("&").map((p) => p.split("=")));
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const sent = [];
  let echoes = 0;
  page.on("websocket", (ws) => {
    ws.on("framesent", ({ payload }) => typeof payload === "string" && sent.push(payload));
    // Edge probes start with 0x01; the browser's own come back as 0x02.
    ws.on("framereceived", ({ payload }) => typeof payload !== "string" && payload[0] === 1 && echoes++);
  });
  await page.goto(`${env.edge.url}/`);
  await page.evaluate(async ({ id, token }) => {
    const { default: init, Probe } = await import("/probe/onsite_probe.js");
    await init();
    window.probe = new Probe(`ws://${location.host}/api/v1/ws`, id, token);
    window.probe.attach(document);
  }, { id, token });
  await page.waitForFunction(() => window.probe.status().connected);

  const cdp = await context.newCDPSession(page);
  const events = typingEvents(subjects.get("s019").slice(0, 4)).filter((e) => !e.repeat && e.code !== "Space");
  await dispatch(cdp, events, Date.now() / 1000 + 0.2);
  await page.waitForFunction((n) => window.probe.status().keystrokes === n, 44);
  // `local` needs five round trips the edge timed itself (a probe every 250 ms at first).
  for (let waited = 0; echoes < 6 && waited < 10_000; waited += 100) await page.waitForTimeout(100);
  await page.evaluate(() => window.probe.finish());
  await page.waitForFunction(() => window.probe.status().finished, null, { timeout: 10_000 });
  const status = await page.evaluate(() => window.probe.status());
  assert.deepEqual([status.unackedBatches, status.problem], [0, null], JSON.stringify(status));
  await context.close();

  const { verdict } = await latestVerdict(env.browser, env.edge, session);
  assert.equal(verdict.keystrokes, 44);
  assert.equal(verdict.class, "local", JSON.stringify(verdict.reasons));
  const typedKeys = new Set(events.map((e) => e.key));
  const typedCodes = new Set(events.map((e) => e.code));
  assert.equal(assertNoKeyIdentity(sent, typedKeys, typedCodes), 44, "every press was sent, as timings");
});
