// Replays real typing from the CMU keystroke sample, and synthetic pointer movement, into a page
// through the DevTools protocol with explicit event timestamps, so the page sees the recorded
// rhythm exactly (to its timer resolution) however busy the machine is. Distortions model what a
// remote-desktop path does to the same input.
import { readFileSync } from "node:fs";

// The CMU password `.tie5Roanl` and Return; `Shift.r` is the press that types the R.
const KEYS = [
  ["period", ".", "Period"], ["t", "t", "KeyT"], ["i", "i", "KeyI"], ["e", "e", "KeyE"], ["five", "5", "Digit5"],
  ["Shift.r", "R", "KeyR"], ["o", "o", "KeyO"], ["a", "a", "KeyA"], ["n", "n", "KeyN"], ["l", "l", "KeyL"], ["Return", "Enter", "Enter"],
];

/** Every subject's repetitions, in file order. */
export function loadSubjects(path) {
  const [header, ...lines] = readFileSync(path, "utf8").trim().split("\n");
  const columns = header.split(",");
  const subjects = new Map();
  for (const line of lines) {
    const cells = line.split(",");
    const row = Object.fromEntries(columns.map((c, i) => [c, cells[i]]));
    if (!subjects.has(row.subject)) subjects.set(row.subject, []);
    subjects.get(row.subject).push(row);
  }
  return subjects;
}

/** Key events (ms from the start) for repetitions typed 1.5 s apart, then a 1.2 s hold of the
 *  space bar that auto-repeats every 33.3 ms after 500 ms, as an operating system does. */
export function typingEvents(reps) {
  const events = [];
  let start = 0;
  let press = 0;
  for (const row of reps) {
    let down = start;
    KEYS.forEach(([name, key, code], i) => {
      if (i > 0) down += Number(row[`DD.${KEYS[i - 1][0]}.${name}`]) * 1000;
      const hold = Number(row[`H.${name}`]) * 1000;
      events.push({ at: down, type: "keyDown", key, code, press });
      events.push({ at: down + hold, type: "keyUp", key, code, press });
      press += 1;
    });
    start = down + 1500;
  }
  const holdAt = start + 500;
  events.push({ at: holdAt, type: "keyDown", key: " ", code: "Space", press });
  for (let at = holdAt + 500; at < holdAt + 1200; at += 1000 / 30) {
    events.push({ at: at + (Math.random() - 0.5) * 0.4, type: "keyDown", key: " ", code: "Space", press, repeat: true });
  }
  events.push({ at: holdAt + 1200, type: "keyUp", key: " ", code: "Space", press });
  return events.sort((a, b) => a.at - b.at);
}

/** Pointer moves (ms from `from`): six reaches along curved, minimum-jerk paths sampled at
 *  125 Hz with a little tremor, the way a person moves a mouse to a target. */
export function pointerEvents(from, random = Math.random) {
  const events = [];
  let at = from;
  let [x, y] = [200, 200];
  for (let reach = 0; reach < 6; reach++) {
    const [tx, ty] = [150 + random() * 700, 150 + random() * 400];
    const duration = 500 + random() * 300;
    const bend = (random() - 0.5) * 120;
    for (let t = 0; t <= duration; t += 8) {
      const s = t / duration;
      const progress = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5;
      const arc = Math.sin(Math.PI * progress) * bend;
      const [dx, dy] = [tx - x, ty - y];
      const length = Math.hypot(dx, dy) || 1;
      events.push({
        at: at + t,
        type: "mouseMoved",
        x: x + dx * progress - (dy / length) * arc + (random() - 0.5) * 0.8,
        y: y + dy * progress + (dx / length) * arc + (random() - 0.5) * 0.8,
      });
    }
    [x, y] = [tx, ty];
    at += duration + 400;
  }
  return events;
}

/** A seeded random source, so a failing case can be replayed. */
export function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What remote-desktop paths do to input, applied where the input is injected. */
export const distortions = {
  /** Each event is delayed 0-J ms and delivered in order, as over TCP with jitter. */
  jitter: (jitterMs, random) => (events) => {
    let last = -Infinity;
    return events.map((e) => {
      const at = Math.max(e.at + random() * jitterMs, last + 0.02);
      last = at;
      return { ...e, at };
    });
  },
  /** Input is queued and released every 250 ms, 0.2 ms apart. */
  burst: (windowMs = 250) => (events) => {
    let last = -Infinity;
    return events.map((e) => {
      const at = Math.max(Math.ceil(e.at / windowMs) * windowMs, last + 0.2);
      last = at;
      return { ...e, at };
    });
  },
  /** The key-up is sent 0.3 ms after the key-down, whatever the real hold. */
  zeroDwell: () => (events) => {
    const downs = new Map();
    for (const e of events) if (e.type === "keyDown" && !e.repeat) downs.set(e.press, e.at);
    return events.filter((e) => !e.repeat).map((e) => (e.type === "keyUp" ? { ...e, at: downs.get(e.press) + 0.3 } : e)).sort((a, b) => a.at - b.at);
  },
  /** Pointer positions are sent at most 25 times a second. */
  pointerRate: (hz = 25) => (events) => {
    let next = -Infinity;
    return events.filter((e) => {
      if (e.type !== "mouseMoved") return true;
      if (e.at < next) return false;
      next = e.at + 1000 / hz;
      return true;
    });
  },
  /** Held keys do not auto-repeat while a VNC client drives the session. */
  noAutoRepeat: () => (events) => events.filter((e) => !e.repeat),
};

/** Dispatches events through the DevTools protocol with timestamps `baseS` + `at`. Commands are
 *  pipelined: the protocol handles one session's commands in order. */
export async function dispatch(cdp, events, baseS) {
  const sent = events.map((e) => {
    const timestamp = baseS + e.at / 1000;
    if (e.type === "mouseMoved") {
      return cdp.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: e.x, y: e.y, timestamp });
    }
    const text = e.type === "keyDown" && e.key.length === 1 ? e.key : e.key === "Enter" && e.type === "keyDown" ? "\r" : undefined;
    return cdp.send("Input.dispatchKeyEvent", { type: e.type, key: e.key, code: e.code, text, autoRepeat: Boolean(e.repeat), timestamp });
  });
  await Promise.all(sent);
}
