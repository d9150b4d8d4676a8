// Benchmark of the closed-loop estimators: several scripted participants at each added loop
// delay (with 10 ms jitter each way) through the real widget in headless Chromium. Prints the
// error table, then one `name: value unit` line per figure.
import { startEdge, launchBrowser } from "../e2e/harness.mjs";
import { runLoopSession } from "../e2e/lib/loop.mjs";

const DELAYS_MS = [0, 50, 110, 200];
const PARTICIPANTS = Number(process.env.ONSITE_LOOP_PARTICIPANTS ?? 3);
const JITTER_MS = 10;

const edge = await startEdge();
const browser = await launchBrowser();
try {
  const rows = [];
  for (let p = 0; p < PARTICIPANTS; p++) {
    // Four sessions at a time, one per delay; the pages run in real time.
    rows.push(...(await Promise.all(DELAYS_MS.map((loopMs, i) => runLoopSession(browser, edge, { loopMs, jitterMs: JITTER_MS, seed: 7000 + p * 10 + i })))));
  }
  console.log("loop_ms  participant  added_ms  interval_ms          error_ms  class");
  const byDelay = new Map(DELAYS_MS.map((d) => [d, []]));
  rows.forEach((row, i) => {
    const a = row.verdict.loop_added_ms;
    const error = a.estimate - row.loopMs;
    byDelay.get(row.loopMs).push({ error, flagged: ["remote", "remote_suspected"].includes(row.verdict.class), seconds: row.seconds });
    console.log(
      `${String(row.loopMs).padStart(7)}  ${String(Math.floor(i / DELAYS_MS.length)).padStart(11)}  ${a.estimate.toFixed(1).padStart(8)}  ` +
        `[${a.low.toFixed(1)}, ${a.high.toFixed(1)}]`.padEnd(20) + `${error.toFixed(1).padStart(8)}  ${row.verdict.class}`,
    );
  });
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  for (const [loopMs, results] of byDelay) {
    console.log(`loop_error_ms_at_${loopMs}: ${median(results.map((r) => Math.abs(r.error))).toFixed(1)} ms`);
    console.log(`loop_flagged_at_${loopMs}: ${results.filter((r) => r.flagged).length}/${results.length} sessions`);
  }
  console.log(`loop_challenge_time_s: ${median(rows.map((r) => r.seconds)).toFixed(1)} s`);
} finally {
  await browser.close();
  await edge.stop();
}
