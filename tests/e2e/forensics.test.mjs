// Input forensics through the real browser: every subject of the CMU keystroke sample is replayed
// into the real candidate widget with its recorded rhythm, plus pointer movement; no one may be
// flagged remote. The same replays passed through what remote-desktop paths do to input must be
// flagged, with the right reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useEdgeAndBrowser, latestVerdict, openCandidate, skipChallenges } from "./harness.mjs";
import { loadSubjects, typingEvents, pointerEvents, seeded, distortions, dispatch } from "./lib/replay.mjs";

const subjects = loadSubjects(new URL("../data/cmu-keystrokes-sample.csv", import.meta.url).pathname);
// Pages replayed at once: timestamps are explicit, so running several does not change timings.
const PARALLEL = 3;
const DISTORTED_SUBJECTS = ["s002", "s017", "s031", "s044", "s055"];
// Repetitions of the password replayed per subject (each is 11 presses, about 3 s of typing).
const REPS = 12;
const PROFILES = [
  { name: "jitter 5 ms", reason: "repeat_jitter", apply: (r) => distortions.jitter(5, r) },
  { name: "jitter 10 ms", reason: "repeat_jitter", apply: (r) => distortions.jitter(10, r) },
  { name: "jitter 20 ms", reason: "repeat_jitter", apply: (r) => distortions.jitter(20, r) },
  { name: "250 ms burst release", reason: "burst_release", apply: () => distortions.burst(250) },
  { name: "zero-dwell pairs", reason: "zero_dwell", apply: () => distortions.zeroDwell() },
  { name: "25 Hz pointer", reason: "pointer_rate", apply: () => distortions.pointerRate(25) },
  { name: "suppressed auto-repeat", reason: "auto_repeat", apply: () => distortions.noAutoRepeat() },
];

const env = useEdgeAndBrowser();

/** Replays one subject into the widget, optionally distorted; returns the final verdict and what the page saw. */
async function replay(subject, distort) {
  const { session, context, page } = await openCandidate(env.browser, env.edge);

  const random = seeded([...subject].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
  const typing = typingEvents(subjects.get(subject).slice(0, REPS));
  const typedUntil = typing.at(-1).at;
  let events = [...typing, ...pointerEvents(typedUntil + 1000, random)].sort((a, b) => a.at - b.at);
  if (distort) events = distort(events);
  const duration = events.at(-1).at;
  // Timestamps start just after now (a page clamps earlier ones to its own start); the click on
  // "I'm done" is sent the same way, after the last event.
  const baseS = Date.now() / 1000 + 0.5;
  const cdp = await context.newCDPSession(page);
  const box = await page.getByTestId("finish").boundingBox();
  const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
  await dispatch(cdp, events, baseS);
  const presses = new Set(events.filter((e) => e.type === "keyDown").map((e) => e.press)).size;
  await page.getByTestId("probe-status").filter({ hasText: new RegExp(`^${presses} key presses`) }).waitFor({ timeout: 10_000 });
  for (const [type, offsetMs] of [["mousePressed", 1000], ["mouseReleased", 1080]]) {
    await cdp.send("Input.dispatchMouseEvent", { type, x, y, button: "left", clickCount: 1, timestamp: baseS + (duration + offsetMs) / 1000 });
  }
  await skipChallenges(page);
  await page.getByTestId("done").waitFor({ timeout: 15_000 });
  await context.close();
  const { verdict } = await latestVerdict(env.browser, env.edge, session);
  assert.equal(verdict.keystrokes, presses, `${subject}: every press was scored`);
  return verdict;
}

async function inParallel(jobs) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < jobs.length) {
        const index = next++;
        results[index] = await jobs[index]();
      }
    }),
  );
  return results;
}

const weightOf = (verdict, code) => verdict.reasons.find((r) => r.code === code)?.weight ?? 0;

// Headless Chromium reports automation and a software renderer, which push every verdict here
// towards remote. This is the probability without those reasons: input evidence alone.
const ENVIRONMENT = new Set(["webdriver", "software_renderer", "small_screen"]);
const PRIOR_LOG_ODDS = Math.log(0.05 / 0.95);
function pWithoutEnvironment(verdict) {
  const logOdds = PRIOR_LOG_ODDS + verdict.reasons.filter((r) => !ENVIRONMENT.has(r.code)).reduce((sum, r) => sum + r.weight, 0);
  return 1 / (1 + Math.exp(-logOdds));
}

test("no subject of the CMU sample, replayed in Chromium, is flagged remote", async () => {
  const names = [...subjects.keys()];
  const verdicts = await inParallel(names.map((name) => () => replay(name)));
  const flagged = verdicts.filter((v) => v.class === "remote" || v.class === "remote_suspected").length;
  console.log("subject  class         p_remote  presses  dwell_ms  flight_ms  strongest reason");
  names.forEach((name, i) => {
    const v = verdicts[i];
    const strongest = v.reasons[0];
    console.log(
      `${name.padEnd(8)} ${v.class.padEnd(13)} ${v.p_remote.toFixed(3).padStart(8)} ${String(v.keystrokes).padStart(8)} ` +
        `${String(v.dwell_median_ms).padStart(9)} ${String(v.flight_median_ms).padStart(10)}  ${strongest.code} ${strongest.weight}`,
    );
  });
  const maxP = Math.max(...verdicts.map((v) => v.p_remote));
  console.log(`forensics_subjects: ${names.length} subjects`);
  console.log(`forensics_false_positive_rate: ${((100 * flagged) / names.length).toFixed(1)} %`);
  console.log(`forensics_max_p_remote_local: ${maxP.toFixed(3)} probability`);
  assert.equal(names.length, 23);
  assert.equal(flagged, 0, "a local person was flagged");
  console.log(`forensics_max_p_remote_local_input_alone: ${Math.max(...verdicts.map(pWithoutEnvironment)).toFixed(3)} probability`);
  for (const v of verdicts) {
    assert.equal(v.class, "local");
    assert.ok(weightOf(v, "auto_repeat") < 0, "the held key auto-repeated locally");
    assert.ok(weightOf(v, "pointer_rate") < 0, "a local mouse rate was seen");
  }
});

test("remote-desktop distortions of the same replays are flagged with the right reason", async () => {
  const cases = DISTORTED_SUBJECTS.flatMap((subject) => PROFILES.map((profile) => ({ subject, profile })));
  const verdicts = await inParallel(
    cases.map(({ subject, profile }) => () => replay(subject, profile.apply(seeded(subject.length * 7919 + profile.name.length)))),
  );
  const rows = new Map(PROFILES.map((p) => [p.name, { flagged: 0, inputAlone: 0, total: 0 }]));
  cases.forEach(({ subject, profile }, i) => {
    const v = verdicts[i];
    const row = rows.get(profile.name);
    row.total += 1;
    if (v.class === "remote" || v.class === "remote_suspected") row.flagged += 1;
    if (pWithoutEnvironment(v) >= 0.5) row.inputAlone += 1;
    console.log(
      `${subject} ${profile.name.padEnd(24)} ${v.class.padEnd(17)} p=${v.p_remote.toFixed(3)} ` +
        `p_input_alone=${pWithoutEnvironment(v).toFixed(3)} ${profile.reason}=${weightOf(v, profile.reason)}`,
    );
  });
  for (const [name, row] of rows) {
    const key = name.replace(/[^a-z0-9]+/gi, "_").toLowerCase().replace(/_$/, "");
    console.log(`forensics_detected_${key}: ${row.flagged}/${row.total} sessions`);
    console.log(`forensics_detected_input_alone_${key}: ${row.inputAlone}/${row.total} sessions`);
  }
  cases.forEach(({ subject, profile }, i) => {
    const v = verdicts[i];
    // Repeat jitter is weighed at most 2.5, below the prior's distance to remote_suspected: a
    // busy machine scatters repeats too, so a held key's jitter alone flags no one and counts
    // only with another sign. Every other distortion is caught by the input evidence alone.
    if (profile.reason !== "repeat_jitter") {
      assert.ok(["remote", "remote_suspected"].includes(v.class), `${subject} with ${profile.name}: ${v.class} (p ${v.p_remote})`);
      assert.ok(pWithoutEnvironment(v) >= 0.5, `${subject} with ${profile.name}: input alone gives p ${pWithoutEnvironment(v)}`);
    }
    // Jitter of 5 ms is within what a loaded machine does to repeats (docs/forensics.md): it no
    // longer counts.
    if (profile.name !== "jitter 5 ms") {
      assert.ok(weightOf(v, profile.reason) > 0, `${subject} with ${profile.name}: no ${profile.reason} reason in ${JSON.stringify(v.reasons.map((r) => r.code))}`);
    }
  });
});
