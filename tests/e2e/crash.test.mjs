// Nothing acknowledged is lost: the edge is killed with SIGKILL in the middle of a session while
// the candidate types, restarted on the same address and data, and the probe reconnects and
// resends what was not acknowledged. Every acknowledged batch is then stored exactly once, with
// the content the page sent.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startEdge, launchBrowser, typeWithTimings, exportEvidence } from "./harness.mjs";

const running = {};
after(async () => {
  await running.browser?.close();
  await running.edge?.stop();
});

test("an edge killed with SIGKILL mid-session loses no acknowledged batch and the session continues", async () => {
  running.edge = await startEdge();
  running.browser = await launchBrowser();
  const session = await running.edge.createSession();
  // The interviewer watches; their page must reconnect by itself too.
  const interviewer = await (await running.browser.newContext()).newPage();
  await interviewer.goto(session.interviewer_url);
  await interviewer.getByTestId("link").filter({ hasText: "live" }).waitFor({ timeout: 15_000 });
  const page = await (await running.browser.newContext()).newPage();
  const sent = new Map(); // seq -> the last text sent for it
  const acked = new Set();
  let sockets = 0;
  page.on("websocket", (ws) => {
    if (!ws.url().endsWith("/api/v1/ws")) return;
    sockets += 1;
    ws.on("framesent", ({ payload }) => {
      if (typeof payload !== "string") return;
      const message = JSON.parse(payload);
      if (message.t === "evidence") sent.set(message.seq, message);
    });
    ws.on("framereceived", ({ payload }) => {
      if (typeof payload !== "string") return;
      const message = JSON.parse(payload);
      if (message.t === "ack") acked.add(message.seq);
    });
  });
  await page.goto(session.candidate_url);
  await page.getByTestId("consent").click();
  await page.getByTestId("typing-box").focus();
  await page.getByTestId("probe-status").filter({ hasText: "connected" }).waitFor({ timeout: 10_000 });
  const steady = { holdMs: () => 90, gapMs: () => 110 };
  await typeWithTimings(page, "the quick brown fox", steady);
  const ackedBeforeCrash = acked.size;
  assert.ok(ackedBeforeCrash >= 3, `batches acknowledged before the crash: ${ackedBeforeCrash}`);

  await running.edge.crash();
  // Typing goes on while the edge is down; those batches wait in the page.
  await typeWithTimings(page, "jumps over", steady);
  await page.getByTestId("problem").filter({ hasText: "reconnecting" }).waitFor({ timeout: 5_000 });
  await interviewer.getByTestId("link").filter({ hasText: "reconnecting" }).waitFor({ timeout: 5_000 });
  running.edge = await running.edge.restart();
  await page.getByTestId("probe-status").filter({ hasText: "connected" }).waitFor({ timeout: 15_000 });
  await typeWithTimings(page, "the lazy dog", steady);
  const typed = "the quick brown fox".length + "jumps over".length + "the lazy dog".length;
  // The last presses go out with the next flush (every 500 ms); then every batch must be acknowledged.
  const sentPresses = () => [...sent.values()].reduce((sum, m) => sum + m.strokes.length, 0);
  for (let waited = 0; sentPresses() < typed && waited < 5_000; waited += 100) await page.waitForTimeout(100);
  assert.equal(sentPresses(), typed, "every press typed went out in a batch");
  for (let waited = 0; [...sent.keys()].some((seq) => !acked.has(seq)) && waited < 10_000; waited += 100) await page.waitForTimeout(100);

  const unacked = [...sent.keys()].filter((seq) => !acked.has(seq));
  assert.deepEqual(unacked, [], "every batch was acknowledged in the end");
  assert.ok(sockets >= 2, `the probe reconnected (${sockets} sockets)`);
  // The export is the session's version-1 evidence: every press of every batch sent, each
  // stored exactly once (a batch stored twice or lost would add or drop its presses).
  const stored = await exportEvidence(running.edge, session);
  const key = (s) => `${s.down_us}:${s.up_us}:${s.class}`;
  const sentStrokes = [...sent.values()].flatMap((m) => m.strokes).map(key).sort();
  assert.deepEqual(stored.strokes.map(key).sort(), sentStrokes, "exactly the presses sent, each once");
  const strokes = stored.strokes.length;
  assert.equal(strokes, typed, "every press typed is stored once");
  // The interviewer's page is live again and shows every press.
  await interviewer.getByTestId("link").filter({ hasText: /^live$/ }).waitFor({ timeout: 15_000 });
  await interviewer.getByTestId("keystrokes").filter({ hasText: new RegExp(`^${typed}$`) }).waitFor({ timeout: 10_000 });
  console.log(`crash: ${ackedBeforeCrash} batches acknowledged before SIGKILL, ${sent.size} in all, ${sockets} sockets, ${strokes} presses stored`);
});
