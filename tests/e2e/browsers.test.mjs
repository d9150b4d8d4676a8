// Every browser: the consent, the widget and the interviewer page in Chromium, Firefox ESR and
// WebKitGTK, from Debian's packages, against the real edge. Per engine and setting (default,
// privacy.resistFingerprinting, CPU busy, no getCoalescedEvents) the flow completes, presses are
// captured, echoes come back, the probe reports the clock step it saw, and a person typing
// locally is `local` or `inconclusive`, never `remote_suspected` or `remote`.
//
// Driver input drives the flow only. Its timing is the driver's (WebKitWebDriver drops repeats
// and moves the pointer ~21 times a second; chromedriver sends repeats with repeat=false;
// Firefox BiDi scatters pauses by 1-2 ms), so nothing here holds a key or sweeps the pointer
// through a driver, and no timing feature's figure is asserted from driver input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startEdge, exportEvidence } from "./harness.mjs";
import { chromiumEngine, firefoxEngine, webkitEngine } from "./lib/engines.mjs";

const SHOTS = new URL("./artifacts/", import.meta.url).pathname;
const DOCS_SHOTS = new URL("../../docs/screenshots/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
// Presses typed per run: more than the 20 a verdict needs, a few seconds of typing.
const TYPED = "The quick brown fox jumps over the";
const TIMING = { holdMs: (i) => 60 + ((i * 37) % 50), gapMs: (i) => 70 + ((i * 53) % 90) };

let edge;
before(async () => {
  edge = await startEdge();
});
after(async () => {
  await edge?.stop();
});

/** Two busy loops (one per core of the test machine) for the duration of `work`. */
async function withBusyCpu(work) {
  const loops = [0, 1].map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  try {
    return await work();
  } finally {
    for (const loop of loops) loop.kill("SIGKILL");
  }
}

/**
 * The main flow in one engine: consent, typing, both tasks skipped, done; then the interviewer
 * page of the same session in the same engine. Returns what the page and the edge saw.
 */
async function flow(engine, setting, { shots = false, pointer = false, deleteCoalesced = false } = {}) {
  const started = Date.now();
  const session = await edge.createSession();
  const shot = async (page) => {
    if (!shots) return;
    const name = `browser-${engine.name}-${page}.png`;
    await engine.screenshot(join(SHOTS, name));
    copyFileSync(join(SHOTS, name), join(DOCS_SHOTS, name));
  };
  await engine.goto(session.candidate_url);
  await engine.waitFor("consent", /./);
  if (deleteCoalesced) {
    // Capture starts at consent and looks the method up on every event.
    await engine.run("delete PointerEvent.prototype.getCoalescedEvents; return null;");
  }
  const isolated = await engine.run("return self.crossOriginIsolated === true;");
  const coalescedApi = await engine.run("return typeof PointerEvent.prototype.getCoalescedEvents === 'function';");
  await shot("consent");
  await engine.click("consent");
  await engine.focus("typing-box");
  await engine.waitFor("probe-status", /connected/);
  if (pointer && engine.moveMouse) {
    // Pointer events for the recorder without getCoalescedEvents; their rate is the driver's.
    await engine.moveMouse(300, 300, 20);
    await engine.moveMouse(500, 420, 20);
  }
  const presses = await engine.type(TYPED, TIMING);
  await engine.waitFor("probe-status", new RegExp(`^${presses} key presses`));
  const pageResolutionUs = Number(await engine.attribute("probe-status", "data-timer-resolution-us"));
  await shot("widget");
  await engine.click("finish");
  for (const step of ["Step 2 of 4", "Step 3 of 4"]) {
    await engine.waitFor("step", new RegExp(step));
    await engine.click("skip-task");
  }
  await engine.waitFor("done", /complete/);
  const flowS = (Date.now() - started) / 1000;

  await engine.goto(session.interviewer_url);
  await engine.waitFor("keystrokes", new RegExp(`^${presses}$`));
  await engine.waitFor("signature", /^signature verified$/);
  const verdictClass = await engine.attribute("verdict-class", "data-class");
  const reasons = await engine.run("return document.querySelector('.reasons')?.textContent ?? '';");
  await shot("interviewer");

  // The export is the session's version-1 evidence: presses, pointer samples, the round trips
  // the edge timed and the clock step the probe saw.
  const exported = await exportEvidence(edge, session);
  const evidence = {
    strokes: exported.strokes ?? [],
    pointer: exported.pointer ?? [],
    rtt_us: exported.rtt_us ?? [],
    timer_resolution_us: exported.timer_resolution_us,
  };
  const figures = {
    engine: `${engine.name} ${engine.version}`,
    setting,
    isolated,
    get_coalesced_events: coalescedApi,
    flow_s: flowS,
    presses,
    stored_presses: evidence.strokes.length,
    pointer_samples: evidence.pointer?.length ?? 0,
    echo_round_trips: evidence.rtt_us.length,
    timer_resolution_us_page: pageResolutionUs,
    timer_resolution_us_stored: evidence.timer_resolution_us ?? null,
    renderer: exported.environment?.renderer ?? null,
    class: verdictClass,
  };
  const key = `browsers_${engine.name}_${setting.replace(/\W+/g, "_")}`;
  for (const [name, value] of Object.entries(figures)) console.log(`${key}_${name}: ${value}`);
  assert.equal(evidence.strokes.length, presses, `${key}: every press was stored`);
  assert.ok(evidence.rtt_us.length >= 5, `${key}: echo probes came back (${evidence.rtt_us.length})`);
  assert.ok(pageResolutionUs > 0, `${key}: the probe reported a clock step`);
  assert.equal(evidence.timer_resolution_us, pageResolutionUs, `${key}: the step reached the edge`);
  assert.ok(["local", "inconclusive"].includes(verdictClass), `${key}: a local typist is ${verdictClass}: ${reasons}`);
  return { ...figures, reasons };
}

test("Chromium, without PointerEvent.getCoalescedEvents: presses and pointer samples are still captured", async () => {
  const engine = await chromiumEngine({ initScript: "delete PointerEvent.prototype.getCoalescedEvents;" });
  try {
    const seen = await flow(engine, "no getCoalescedEvents", { shots: true, pointer: true });
    assert.ok(seen.pointer_samples >= 20, `pointer samples kept: ${seen.pointer_samples}`);
    assert.ok(seen.timer_resolution_us_page <= 100, `Chromium's isolated clock: ${seen.timer_resolution_us_page} µs`);
  } finally {
    await engine.close();
  }
});

test("Firefox ESR: the whole flow, and the interviewer page; then without getCoalescedEvents", async () => {
  const engine = await firefoxEngine();
  try {
    const seen = await flow(engine, "default", { shots: true, pointer: true });
    assert.ok(seen.timer_resolution_us_page <= 1_000, `Firefox's clock: ${seen.timer_resolution_us_page} µs`);
    const without = await flow(engine, "no getCoalescedEvents", { pointer: true, deleteCoalesced: true });
    assert.equal(without.get_coalesced_events, false);
    assert.ok(without.pointer_samples >= 20, `pointer samples kept: ${without.pointer_samples}`);
  } finally {
    await engine.close();
  }
});

test("Firefox ESR with privacy.resistFingerprinting: a 16.7 ms clock is seen and held against no one", async () => {
  const engine = await firefoxEngine({ prefs: { "privacy.resistFingerprinting": true } });
  try {
    const seen = await flow(engine, "resistFingerprinting");
    assert.ok(
      seen.timer_resolution_us_page >= 16_000 && seen.timer_resolution_us_page <= 17_000,
      `the probe saw ${seen.timer_resolution_us_page} µs`,
    );
    assert.match(seen.reasons, /clock that steps by 16\.7 ms/);
    assert.match(seen.reasons, /not measured: this browser's clock steps by 16\.7 ms/);
  } finally {
    await engine.close();
  }
});

test("Firefox ESR on a busy CPU: the flow completes and a local typist is not flagged", async () => {
  await withBusyCpu(async () => {
    const engine = await firefoxEngine();
    try {
      await flow(engine, "CPU busy");
    } finally {
      await engine.close();
    }
  });
});

test("WebKitGTK through WebKitWebDriver: the whole flow, and the interviewer page; then without getCoalescedEvents, and on a busy CPU", async () => {
  const engine = await webkitEngine();
  try {
    const seen = await flow(engine, "default", { shots: true });
    assert.ok(seen.timer_resolution_us_page <= 1_000, `WebKit's clock: ${seen.timer_resolution_us_page} µs`);
    // WebKit names every GPU "Apple GPU": the renderer is not measured there, and says so.
    assert.equal(seen.renderer, "unknown");
    assert.match(seen.reasons, /not measured: the browser does not say what draws its graphics/);
    // No pointer sweep through this driver (its ~21 moves a second would read as a remote
    // desktop's rate); the clicks' pointer events are the samples.
    const without = await flow(engine, "no getCoalescedEvents", { deleteCoalesced: true });
    assert.equal(without.get_coalesced_events, false);
    assert.ok(without.pointer_samples >= 4, `pointer samples kept: ${without.pointer_samples}`);
    await withBusyCpu(() => flow(engine, "CPU busy"));
  } finally {
    await engine.close();
  }
});
