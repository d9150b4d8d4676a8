# The scripted participant of the evaluation: it goes through the candidate widget seeing only
# pixels (local: the X screen; remote: the VNC framebuffer), types real CMU rhythms, taps along
# with the rhythm task and follows the tracking task's dot like a person, with human timing drawn
# from published distributions. Run by run.py, one process per session; prints a JSON summary.
#
# Human timing and its sources:
# - Tapping to a beat: people tap before the beat (negative mean asynchrony), -20 to -50 ms for
#   non-musicians at inter-onset intervals near 600 ms, with a per-tap standard deviation of
#   about 4-5 % of the interval (Repp 2005, "Sensorimotor synchronization: a review of the tapping
#   literature", Psychon. Bull. Rev. 12(6):969-992). Per person: mean ~ N(-35, 15) ms, per-tap
#   SD ~ U(15, 30) ms, and 3 % of beats missed.
# - Phase correction: after an unannounced phase shift people re-synchronise within a few beats
#   (Repp 2005, section 4); this participant re-anchors on the last beat it saw, the fast end.
# - Tracking: the human operator behaves like a crossover-model controller with an effective
#   delay of about 100-200 ms (McRuer & Jex 1967, "A review of quasi-linear pilot models", IEEE
#   Trans. Hum. Factors Electron. 8(3):231-249); predictable, smooth targets allow the short end
#   (Miall, Weir & Stein 1993, J. Motor Behav. 25(1)). Per person: lag ~ N(110, 20) ms, clipped to
#   60-180 ms, with 1 px of hand tremor per 125 Hz mouse report.
# - Typing: key holds and key-down to key-down gaps from the CMU keystroke-dynamics benchmark
#   (Killourhy & Maxion 2009), replayed as recorded.
import argparse
import csv
import heapq
import json
import math
import random
import sys
import threading
import time

import numpy as np

from senses import LocalIo, RemoteIo

# Okabe-Ito colours the widget draws with (www/style.css, crates/probe/src/tasks.rs).
PRIMARY_RGB = (0, 114, 178)
TARGET_RGB = (213, 94, 0)
# The CMU password and Return, with the key each CSV column names.
CMU_KEYS = [("period", "."), ("t", "t"), ("i", "i"), ("e", "e"), ("five", "5"), ("Shift.r", "r"),
            ("o", "o"), ("a", "a"), ("n", "n"), ("l", "l"), ("Return", "Return")]
HAND_REPORT_S = 0.008  # A USB mouse reports at 125 Hz.
DOT_MIN_PX, DOT_MAX_PX = 16, 44  # The drawn disc is 28 px across, scaled with the canvas.
TRACKING_LIMIT_S = 40.0  # The task lasts 15 s; a dot still there after 40 s means the page is stuck.


def log(message):
    print(f"[participant {time.monotonic():.3f}] {message}", file=sys.stderr, flush=True)


class Person:
    """One simulated person's timing, drawn once from the distributions above."""

    def __init__(self, seed):
        self.random = random.Random(seed)
        r = self.random
        self.asynchrony_ms = r.gauss(-35.0, 15.0)
        self.tap_sd_ms = r.uniform(15.0, 30.0)
        self.miss_rate = 0.03
        self.tracking_lag_ms = min(max(r.gauss(110.0, 20.0), 60.0), 180.0)
        self.tremor_px = 1.0

    def summary(self):
        return {"asynchrony_ms": round(self.asynchrony_ms, 1), "tap_sd_ms": round(self.tap_sd_ms, 1),
                "tracking_lag_ms": round(self.tracking_lag_ms, 1)}


class Hands:
    """Runs timed actions (key presses, pointer moves) on a thread at their due times."""

    def __init__(self, io):
        self.io = io
        self.queue = []
        self.count = 0
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def at(self, due_s, action):
        with self.lock:
            self.count += 1
            heapq.heappush(self.queue, (due_s, self.count, action))
            self.lock.notify()

    def _run(self):
        while True:
            with self.lock:
                while not self.queue:
                    self.lock.wait()
                due_s, _, action = self.queue[0]
                wait_s = due_s - time.monotonic()
                if wait_s > 0.002:
                    self.lock.wait(timeout=wait_s - 0.0015)
                    continue
                heapq.heappop(self.queue)
            while time.monotonic() < due_s:
                pass
            action()

    def idle(self):
        with self.lock:
            return not self.queue


def colour_mask(rgb, colour, tolerance):
    return np.all(np.abs(rgb.astype(np.int16) - np.array(colour, dtype=np.int16)) <= tolerance, axis=2)


def runs(flags):
    """(start, end) of each run of True in a 1-D boolean array, end exclusive."""
    padded = np.concatenate(([False], flags, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2]))


def primary_buttons(rgb):
    """Bounding boxes (x, y, w, h) of filled primary-coloured buttons on the screen."""
    mask = colour_mask(rgb, PRIMARY_RGB, 6)
    boxes = []
    for top_px, bottom in runs(mask.any(axis=1)):
        band = mask[top_px:bottom]
        for left, right in runs(band.any(axis=0)):
            block = band[:, left:right]
            rows = np.flatnonzero(block.any(axis=1))
            y0, y1 = top_px + rows[0], top_px + rows[-1] + 1
            w, h = right - left, y1 - y0
            if w >= 40 and h >= 25 and block.sum() >= 0.5 * w * h:
                boxes.append((int(left), int(y0), int(w), int(h)))
    return boxes


class Participant:
    def __init__(self, io, person, subject_rows):
        self.io = io
        self.person = person
        self.rows = subject_rows
        self.hands = Hands(io)
        self.pointer_px = (io.width_px / 2, io.height_px / 2)
        self.record = {"path": io.path, "person": person.summary()}

    # Navigation.

    def screen(self):
        rgb, _, _ = self.io.look(0, 0, self.io.width_px, self.io.height_px)
        return rgb

    def wait_button(self, timeout_s=60.0):
        deadline = time.monotonic() + timeout_s
        scroll_at_s = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            boxes = primary_buttons(self.screen())
            # A button cut off by the bottom of the screen is scrolled into view first.
            whole = [b for b in boxes if b[1] + b[3] < self.io.height_px - 24]
            if whole:
                return max(whole, key=lambda b: b[2] * b[3])
            if boxes and time.monotonic() < scroll_at_s:
                scroll_at_s = time.monotonic()
            if time.monotonic() >= scroll_at_s:
                # A person scrolls to find a button below the fold (a long consent page).
                scroll_at_s = time.monotonic() + 3.0
                self.io.key("End", True)
                self.io.key("End", False)
            time.sleep(0.1)
        raise RuntimeError("no button appeared")

    def reach(self, x_px, y_px, duration_s=0.45):
        """A curved minimum-jerk reach sampled at 125 Hz, as a hand moves a mouse to a target."""
        x0, y0 = self.pointer_px
        bend = self.random_between(-40, 40)
        dx, dy = x_px - x0, y_px - y0
        length = math.hypot(dx, dy) or 1.0
        steps = max(int(duration_s / HAND_REPORT_S), 1)
        start_s = time.monotonic() + 0.02
        for i in range(1, steps + 1):
            s = i / steps
            progress = 10 * s**3 - 15 * s**4 + 6 * s**5
            arc = math.sin(math.pi * progress) * bend
            x = x0 + dx * progress - dy / length * arc + self.person.random.gauss(0, 0.4)
            y = y0 + dy * progress + dx / length * arc + self.person.random.gauss(0, 0.4)
            self.hands.at(start_s + i * HAND_REPORT_S, lambda x=x, y=y: self.io.pointer(x, y))
        self.pointer_px = (x_px, y_px)
        self.hands.at(start_s + (steps + 1) * HAND_REPORT_S, lambda: self.io.pointer(x_px, y_px))
        self.wait_hands()

    def random_between(self, low, high):
        return self.person.random.uniform(low, high)

    def wait_hands(self):
        while not self.hands.idle():
            time.sleep(0.005)
        time.sleep(0.01)

    def click(self, box):
        x, y, w, h = box
        cx, cy = x + w / 2 + self.random_between(-w / 6, w / 6), y + h / 2 + self.random_between(-h / 6, h / 6)
        self.reach(cx, cy)
        time.sleep(0.08)
        self.io.button(True, cx, cy)
        time.sleep(self.random_between(0.07, 0.12))
        self.io.button(False, cx, cy)

    # Typing.

    def type_cmu(self, repetitions=3):
        """Types the CMU password `repetitions` times with one subject's recorded holds and gaps."""
        start_s = time.monotonic() + 0.3
        presses = 0
        for row in self.rows[:repetitions]:
            down_s = start_s
            for i, (name, key) in enumerate(CMU_KEYS):
                if i > 0:
                    down_s += float(row[f"DD.{CMU_KEYS[i - 1][0]}.{name}"])
                hold_s = float(row[f"H.{name}"])
                if name == "Shift.r":
                    # The CMU "Shift.r" press typed the R: shift goes down just before it.
                    self.hands.at(down_s - 0.06, lambda: self.io.key("Shift", True))
                    self.hands.at(down_s + hold_s + 0.02, lambda: self.io.key("Shift", False))
                    presses += 1
                self.hands.at(down_s, lambda key=key: self.io.key(key, True))
                self.hands.at(down_s + hold_s, lambda key=key: self.io.key(key, False))
                presses += 1
            start_s = down_s + 1.5
        self.wait_hands()
        self.record["typed_presses"] = presses

    # Rhythm task.

    def rhythm(self, start_box):
        """Taps the space bar along with the pulsing circle until it disappears."""
        top_px = max(start_box[1] - 8, 1)
        deadline = time.monotonic() + 10
        while True:
            rgb, _, _ = self.io.look(0, 0, self.io.width_px, top_px)
            circle = self.circle_mask(rgb)
            # The circle is the tallest band of blue rows (at rest it is dozens of pixels across);
            # thinner blue things above it, such as the page's progress bar, are not the circle.
            bands = runs(circle.any(axis=1))
            top_row, bottom_row = max(bands, key=lambda band: band[1] - band[0]) if bands else (0, 0)
            if bottom_row - top_row >= 30 and circle[top_row:bottom_row].sum() > 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the rhythm circle did not appear")
            time.sleep(0.02)
        ys, xs = np.nonzero(circle[top_row:bottom_row])
        ys = ys + top_row
        cx, cy = int(round(xs.mean())), int(round(ys.mean()))
        half_px = min(320, cx, self.io.width_px - cx - 1)
        self.record["rhythm_centre_px"] = [cx, cy]
        peaks_s, taps = [], []
        rest_px, threshold_px = None, None
        above, up_at_s, last = False, None, (None, None)
        running = [True]
        beat = [None]
        tapping = threading.Thread(target=self.tapper, args=(beat, taps, running), daemon=True)
        tapping.start()
        token = None
        checked_s = time.monotonic()
        while running[0]:
            row, seen_at_s, token = self.io.look(cx - half_px, cy, 2 * half_px, 1, after=token if token is not None else 0)
            radius_px = self.circle_mask(row).sum() / 2.0
            if time.monotonic() - checked_s > 0.15:
                # The task is over when the Start button is enabled again (drawn solid).
                checked_s = time.monotonic()
                running[0] = not self.button_near(start_box)
            if rest_px is None or radius_px < rest_px and radius_px > 3:
                # The circle's resting radius is 0.12 of the canvas height and its peak 0.34; a
                # person perceives the peak as the middle of the swell.
                rest_px = radius_px if radius_px > 3 else rest_px
                threshold_px = rest_px * (0.12 + 0.11) / 0.12 if rest_px else None
            if threshold_px is None or last[0] is None or seen_at_s == last[0]:
                last = (seen_at_s, radius_px)
                continue
            t0, r0 = last
            crossing = lambda: t0 + (seen_at_s - t0) * (threshold_px - r0) / ((radius_px - r0) or 1e-9)
            if not above and radius_px >= threshold_px > r0:
                above, up_at_s = True, crossing()
                largest = (radius_px, seen_at_s)
            elif above and radius_px >= threshold_px:
                largest = max(largest, (radius_px, seen_at_s), key=lambda seen: seen[0])
            elif above and radius_px < threshold_px <= r0:
                above = False
                # A person takes the beat to be where the circle looked largest: the middle of a
                # swell, the onset of a flash (the edge's beats flash, since the page cannot
                # swell towards a beat it has not yet received).
                peak_s = largest[1] if largest[0] > threshold_px * 1.05 else (up_at_s + crossing()) / 2.0
                peaks_s.append(peak_s)
                beat[0] = self.tempo(peaks_s) or beat[0]
            last = (seen_at_s, radius_px)
        tapping.join(timeout=2)
        self.record["rhythm_beats_seen"] = len(peaks_s)
        self.record["rhythm_taps"] = len(taps)
        # For the harness's own measurement of the loop (evidence_check.true_loop_ms): when each
        # tap left the participant, on this machine's monotonic clock. Never sent to the page.
        self.record["truth_taps_sent_s"] = [round(t, 6) for t in taps]
        self.wait_hands()

    def button_near(self, box):
        """Whether a solid primary button shows within 60 px above or below `box`."""
        y0 = max(box[1] - 60, 0)
        y1 = min(box[1] + box[3] + 60, self.io.height_px)
        rgb, _, _ = self.io.look(0, y0, self.io.width_px, y1 - y0)
        return bool(primary_buttons(rgb))

    @staticmethod
    def circle_mask(rgb):
        # The circle is the primary blue at 35-100 % opacity over the canvas's light grey.
        rgb = rgb.astype(np.int16)
        return (rgb[..., 2] - rgb[..., 0] > 40) & (rgb[..., 0] < 200)

    def tempo(self, peaks_s):
        """The beat (last peak seen, period) a person would keep tapping to: the period is the
        median of recent intervals, each divided by the beats it spans, so a beat missed on a
        slow screen does not double it."""
        if len(peaks_s) < 2:
            return None
        intervals = np.diff(peaks_s[-6:])
        shortest = min((i for i in intervals if i >= 0.4), default=None)
        if shortest is None:
            return None
        per_beat = [i / max(round(i / shortest), 1) for i in intervals if i >= 0.4]
        period_s = float(np.median(per_beat))
        if not 0.4 < period_s < 0.9:
            return None
        return peaks_s[-1], period_s

    def tapper(self, beat, taps, running):
        """Taps on every predicted beat, re-anchored whenever a new beat is seen (`beat` holds
        the latest (last peak, period)); a person keeps tapping through beats they missed."""
        last_tap_beat_s = -1.0
        while running[0]:
            current = beat[0]
            if current is None:
                time.sleep(0.01)
                continue
            anchor_s, period_s = current
            offset_ms = self.person.random.gauss(self.person.asynchrony_ms, self.person.tap_sd_ms)
            # The next beat whose tap still lies ahead, and not one already tapped.
            n = 1
            while anchor_s + n * period_s + offset_ms / 1000.0 < time.monotonic() + 0.02 or anchor_s + n * period_s < last_tap_beat_s + period_s / 2:
                n += 1
            beat_s = anchor_s + n * period_s
            due_s = beat_s + offset_ms / 1000.0
            while time.monotonic() < due_s - 0.002 and beat[0] == current and running[0]:
                time.sleep(0.001)
            if beat[0] != current or not running[0]:
                continue  # A new beat was seen: re-plan from it.
            while time.monotonic() < due_s:
                pass
            last_tap_beat_s = beat_s
            if self.person.random.random() < self.person.miss_rate:
                continue
            self.io.key("space", True)
            taps.append(due_s)
            time.sleep(self.person.random.uniform(0.07, 0.11))
            self.io.key("space", False)

    # Tracking task.

    def track(self, start_box):
        """Keeps the pointer on the orange dot, `tracking_lag_ms` behind what it saw."""
        top_px = max(start_box[1] - 8, 1)
        deadline = time.monotonic() + 10
        while True:
            rgb, seen_at_s, token = self.io.look(0, 0, self.io.width_px, top_px)
            found = self.dot(rgb, 0, 0)
            if found:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the tracking dot did not appear")
            time.sleep(0.01)
        seen = [(seen_at_s, *found)]
        lock = threading.Lock()
        running = [True]

        def watch():
            nonlocal token
            window_px = 90
            last_seen_s = seen_at_s
            while running[0]:
                _, x, y = seen[-1]
                x0 = int(min(max(x - window_px, 0), self.io.width_px - 2 * window_px))
                y0 = int(min(max(y - window_px, 0), top_px - 2 * window_px))
                rgb, at_s, token = self.io.look(x0, y0, 2 * window_px, 2 * window_px, after=token)
                found = self.dot(rgb, x0, y0)
                if found is None:
                    rgb, at_s, token = self.io.look(0, 0, self.io.width_px, top_px)
                    found = self.dot(rgb, 0, 0)
                if found is None:
                    if time.monotonic() - last_seen_s > 0.6:
                        running[0] = False
                    continue
                last_seen_s = at_s
                if at_s > seen[-1][0]:
                    with lock:
                        seen.append((at_s, *found))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        lag_s = self.person.tracking_lag_ms / 1000.0
        start_s = time.monotonic()
        from_px = self.pointer_px
        moves = 0
        next_s = start_s
        while running[0]:
            if time.monotonic() - start_s > TRACKING_LIMIT_S:
                running[0] = False
                watcher.join(timeout=2)
                raise RuntimeError(f"the tracking dot was still on screen after {TRACKING_LIMIT_S:.0f} s")
            next_s += HAND_REPORT_S
            while time.monotonic() < next_s:
                time.sleep(0.0005)
            with lock:
                x, y = interpolate(seen, time.monotonic() - lag_s)
            # The first 300 ms are the reach from the Start button onto the dot.
            blend = min((time.monotonic() - start_s) / 0.3, 1.0)
            x = from_px[0] + (x - from_px[0]) * blend + self.person.random.gauss(0, self.person.tremor_px)
            y = from_px[1] + (y - from_px[1]) * blend + self.person.random.gauss(0, self.person.tremor_px)
            self.io.pointer(x, y)
            self.pointer_px = (x, y)
            moves += 1
        watcher.join(timeout=2)
        self.record["tracking_frames_seen"] = len(seen)
        # Every picture of the dot the participant received, and when, for the same measurement.
        self.record["truth_seen"] = [[round(t, 6), round(x, 1), round(y, 1)] for t, x, y in seen]
        self.record["tracking_moves"] = moves
        span_s = seen[-1][0] - seen[0][0]
        self.record["frame_interval_seen_ms"] = round(1000 * span_s / max(len(seen) - 1, 1), 1)

    @staticmethod
    def dot(rgb, x0, y0):
        """Centre of the orange dot's bounding box (robust to the pointer drawn over it)."""
        mask = colour_mask(rgb, TARGET_RGB, 40)
        if mask.sum() < 40:
            return None
        ys, xs = np.nonzero(mask)
        width_px, height_px = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        # The dot is a 28 px disc; anything else in its colour (an alert's border) is not it.
        if not (DOT_MIN_PX <= width_px <= DOT_MAX_PX and DOT_MIN_PX <= height_px <= DOT_MAX_PX):
            return None
        return x0 + (xs.min() + xs.max()) / 2.0, y0 + (ys.min() + ys.max()) / 2.0

    # The whole session.

    def run(self):
        started_s = time.monotonic()
        consent = self.wait_button()
        log(f"consent button at {consent}")
        self.click(consent)
        time.sleep(1.0)
        self.type_cmu()
        time.sleep(0.8)
        self.click(self.wait_button())
        time.sleep(1.0)
        start = self.wait_button()
        log(f"rhythm start at {start}")
        self.click(start)
        challenges_s = time.monotonic()
        self.rhythm(start)
        log("rhythm done")
        start = self.wait_button(timeout_s=10)
        self.click(start)
        self.track(start)
        log("tracking done")
        self.record["challenge_s"] = round(time.monotonic() - challenges_s, 1)
        self.record["session_s"] = round(time.monotonic() - started_s, 1)
        return self.record


def interpolate(seen, at_s):
    """Where the dot was seen at `at_s`, between the frames seen around it."""
    if at_s <= seen[0][0]:
        return seen[0][1], seen[0][2]
    for i in range(len(seen) - 1, 0, -1):
        if seen[i - 1][0] <= at_s:
            t0, x0, y0 = seen[i - 1]
            t1, x1, y1 = seen[i]
            if at_s >= t1:
                return x1, y1
            s = (at_s - t0) / (t1 - t0)
            return x0 + (x1 - x0) * s, y0 + (y1 - y0) * s
    return seen[-1][1], seen[-1][2]


def load_subject(path, index):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    subjects = sorted({r["subject"] for r in rows})
    name = subjects[index % len(subjects)]
    return name, [r for r in rows if r["subject"] == name]


def save_screen(io, path):
    """Saves the whole screen as the participant last saw it, so a failed session explains itself."""
    try:
        from PIL import Image

        rgb, _, _ = io.look(0, 0, io.width_px, io.height_px)
        Image.fromarray(rgb.astype(np.uint8)).save(path)
        log(f"screen saved to {path}")
    except Exception as error:  # The screenshot is a courtesy; the original failure matters more.
        log(f"could not save the screen: {error}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=["local", "remote"], required=True)
    parser.add_argument("--display")
    parser.add_argument("--vnc-port", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client", choices=["classic", "streaming"], default="classic",
                        help="classic: one update request per update received; streaming: a request every 40 ms as well")
    parser.add_argument("--keystrokes", required=True)
    parser.add_argument("--screenshot", help="where to save what the participant saw if the session fails")
    args = parser.parse_args()
    io = LocalIo(args.display) if args.path == "local" else RemoteIo("127.0.0.1", args.vnc_port, 0.04 if args.client == "streaming" else None)
    subject, rows = load_subject(args.keystrokes, args.seed)
    participant = Participant(io, Person(args.seed), rows)
    participant.record["subject"] = subject
    try:
        record = participant.run()
    except Exception:
        if args.screenshot:
            save_screen(io, args.screenshot)
        raise
    finally:
        io.close()
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
