// A scripted participant for the closed-loop challenges. It watches what the page has drawn
// (the canvas's data- attributes, which mirror the picture), behaves like a person (anticipates
// a steady beat, follows a moving target with a human lag, with human-sized random error), and
// answers through the DevTools protocol. A remote operator sees each frame half a loop late and
// its answers arrive half a loop later, with jitter in each direction: `loopMs` and `jitterMs`.
import { seeded } from "./replay.mjs";

/** A normal deviate from a uniform source (Box-Muller). */
function normal(random, mean, sd) {
  const u = Math.max(random(), 1e-12);
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * A person's own timing. Mean negative asynchrony about -30 ms with per-tap variability about
 * 20 ms (Repp 2005; Hove et al. 2013); tracking lag about 100 ms (McRuer & Jex 1967); these are the
 * local priors the estimators use, so a local participant is the population's typical person.
 */
export function person(seed) {
  const random = seeded(seed);
  return {
    random,
    asynchronyMs: normal(random, -30, 8),
    tapSdMs: 18,
    trackingLagMs: normal(random, 100, 10),
    tremorPx: 1.5,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A frame drawn at its animation-frame time reaches the screen about one 60 Hz frame later.
const PRESENT_MS = 1000 / 60;

/** Page time (ms since the page's time origin) to a DevTools timestamp (s since the epoch). */
async function clock(page) {
  const origin = await page.evaluate(() => performance.timeOrigin);
  return (pageMs) => (origin + pageMs) / 1000;
}

/** Delivery through the network to the page: one-way delay plus jitter, in order. */
function link(loopMs, jitterMs, random) {
  let last = -Infinity;
  return (sentMs) => {
    last = Math.max(sentMs + loopMs / 2 + random() * jitterMs, last + 0.05);
    return last;
  };
}

/** Taps the space bar along with the rhythm task until it ends. */
export async function tapAlong(page, cdp, who, { loopMs = 0, jitterMs = 0 } = {}) {
  const toTimestamp = await clock(page);
  const deliver = link(loopMs, jitterMs, who.random);
  const seen = [];
  let tapped = -1;
  for (;;) {
    const state = await page.evaluate(() => {
      const canvas = document.querySelector("[data-testid=rhythm]");
      return canvas && { beat: Number(canvas.dataset.beat ?? -1), atMs: Number(canvas.dataset.beatAtMs ?? NaN), now: performance.now() };
    });
    const readAt = performance.now();
    if (!state) return; // the task ended and the page moved on
    // The operator sees a frame half a loop after the page drew it.
    if (state.beat >= 0 && !seen[state.beat] && state.atMs + PRESENT_MS + loopMs / 2 + who.random() * jitterMs <= state.now) {
      seen[state.beat] = state.atMs + PRESENT_MS + loopMs / 2;
      const known = seen.map((t, k) => [k, t]).filter(([, t]) => t !== undefined);
      if (known.length >= 2 && state.beat > tapped) {
        // Anticipate the next beat from the last one and the period seen so far.
        const [k1, t1] = known.at(-2);
        const [k2, t2] = known.at(-1);
        const period = (t2 - t1) / (k2 - k1);
        const intended = t2 + period + normal(who.random, who.asynchronyMs, who.tapSdMs);
        const arrives = deliver(intended);
        tapped = state.beat;
        const timestamp = toTimestamp(arrives);
        // The key reaches the page when it arrives, not earlier with a later timestamp: the edge
        // times taps on arrival, so an early dispatch would be a tap from the future.
        const waitMs = Math.max(0, arrives - state.now - (performance.now() - readAt));
        const press = (type, delayMs, at) =>
          setTimeout(() => cdp.send("Input.dispatchKeyEvent", { type, key: " ", code: "Space", timestamp: at }).catch(() => {}), delayMs);
        press("keyDown", waitMs, timestamp);
        press("keyUp", waitMs + 90, timestamp + 0.09);
      }
    }
    await sleep(15);
  }
}

/** Follows the tracking task's target with the mouse until it ends. */
export async function follow(page, cdp, who, { loopMs = 0, jitterMs = 0 } = {}) {
  const toTimestamp = await clock(page);
  const deliver = link(loopMs, jitterMs, who.random);
  const target = new Map();
  let nextMs = null;
  for (;;) {
    // `null` once the task has ended and the page moved on; "" before the first frame is drawn.
    const trace = await page.evaluate(() => {
      const canvas = document.querySelector("[data-testid=tracking]");
      return canvas ? (canvas.dataset.trace ?? "") : null;
    });
    if (trace === null) return;
    for (const point of trace.split(";").filter(Boolean)) {
      const [t, x, y] = point.split(",").map(Number);
      target.set(t, [x, y]);
    }
    const times = [...target.keys()].sort((a, b) => a - b);
    if (times.length < 2) {
      await sleep(20);
      continue;
    }
    const at = (t) => {
      let i = times.findIndex((s) => s >= t);
      if (i <= 0) i = 1;
      const [t0, t1] = [times[i - 1], times[i]];
      const [a, b] = [target.get(t0), target.get(t1)];
      const s = Math.min(1, Math.max(0, (t - t0) / (t1 - t0 || 1)));
      return [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s];
    };
    const lagMs = who.trackingLagMs + loopMs + PRESENT_MS;
    nextMs ??= times[0] + lagMs;
    // The hand moves at 125 Hz, following what the operator saw `trackingLag` ago; the screen it
    // sees is half a loop old and its moves arrive half a loop later.
    const sends = [];
    while (nextMs - lagMs <= times.at(-1)) {
      const [x, y] = at(nextMs - lagMs);
      const arrives = deliver(nextMs - loopMs / 2);
      sends.push(
        cdp.send("Input.dispatchMouseEvent", {
          type: "mouseMoved",
          x: x + normal(who.random, 0, who.tremorPx),
          y: y + normal(who.random, 0, who.tremorPx),
          timestamp: toTimestamp(arrives),
        }),
      );
      nextMs += 8;
    }
    await Promise.all(sends);
    await sleep(30);
  }
}
