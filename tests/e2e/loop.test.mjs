// The closed-loop challenges against a scripted participant in headless Chromium: it watches what
// the widget draws and answers like a person, after an added loop delay of 0, 50, 110 or 200 ms
// with jitter. The estimated added latency must be within ±20 ms of the injected delay from
// 110 ms up, and the participant with no added delay must never be flagged remote.
import { test } from "node:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { useEdgeAndBrowser } from "./harness.mjs";
import { runLoopSession } from "./lib/loop.mjs";

const DELAYS_MS = [0, 50, 110, 200];
const SHOTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
const JITTER_MS = 10;

const env = useEdgeAndBrowser();

test("the added loop latency is measured from what the participant saw and answered", async () => {
  // One session at a time: four real-time canvases at once on two cores starve one another.
  const results = [];
  for (const [i, loopMs] of DELAYS_MS.entries()) {
    results.push(await runLoopSession(env.browser, env.edge, { loopMs, jitterMs: JITTER_MS, seed: 1000 + i, shot: i === 0 ? (name) => join(SHOTS, name) : null }));
  }
  for (const { loopMs, verdict, seconds } of results) {
    const added = verdict.loop_added_ms;
    const reasons = Object.fromEntries(verdict.reasons.map((r) => [r.code, r]));
    console.log(
      `loop ${String(loopMs).padStart(3)} ms: added ${added?.estimate} ms [${added?.low}, ${added?.high}], class ${verdict.class}, ` +
        `p ${verdict.p_remote}, challenges took ${seconds.toFixed(1)} s\n  ${reasons.rhythm?.text}\n  ${reasons.tracking?.text}`,
    );
    assert.ok(added, `loop ${loopMs} ms: no estimate; reasons ${JSON.stringify(verdict.reasons.map((r) => r.code))}`);
    assert.ok(reasons.rhythm && reasons.tracking, `loop ${loopMs} ms: both tasks measured: ${JSON.stringify(verdict.reasons.map((r) => r.code))}`);
    // The edge ran the rhythm task itself, so the loop is on its own clock.
    assert.match(reasons.loop_latency.text, /^on the edge's own clock/, `loop ${loopMs} ms: ${reasons.loop_latency.text}`);
    if (loopMs >= 110) assert.ok(Math.abs(added.estimate - loopMs) <= 20, `loop ${loopMs} ms estimated as ${added.estimate} ms`);
    if (loopMs === 0) {
      assert.ok(!["remote", "remote_suspected"].includes(verdict.class), `a local participant was flagged: ${verdict.class}`);
      assert.ok(reasons.loop_latency.weight <= 0, `a local loop counted towards remote: ${reasons.loop_latency.weight}`);
    }
    if (loopMs >= 110) assert.ok(reasons.loop_latency.weight >= 3, `a ${loopMs} ms loop weighed only ${reasons.loop_latency.weight}`);
  }
});
