# Independent checks of the loop estimators, computed from the evidence the edge stored for a
# session: the tracking lag that best lines the pointer up with the target (by position), the
# estimator's own velocity correlation redone without the task's first second (the reach onto
# the dot), and the raw tap asynchronies against the nearest beat.
# Usage (to refresh records from a kept edge database): python evidence_check.py DB sessions.jsonl
import json
import sqlite3

import numpy as np


def velocity_lag_ms(target, pointer, grid_us=5000, max_lag_ms=1000, span_us=400_000):
    """The lag maximising the correlation of target and pointer velocities (displacements over
    400 ms) on a 5 ms grid over 0-1000 ms, as crates/core/src/estimators.rs computes it, on the
    samples given."""
    start_us, end_us = max(target[0, 0], pointer[0, 0]), min(target[-1, 0], pointer[-1, 0])
    times_us = np.arange(start_us, end_us, grid_us)
    resampled = lambda points: np.stack([np.interp(times_us, points[:, 0], points[:, 1]), np.interp(times_us, points[:, 0], points[:, 2])], axis=1)
    span = span_us // grid_us
    velocity = lambda points: points[span:] - points[:-span]
    target_v, pointer_v = velocity(resampled(target)), velocity(resampled(pointer))
    max_shift = max_lag_ms * 1000 // grid_us
    n = len(target_v) - max_shift
    if n <= max_shift:
        return None
    best = max(range(max_shift + 1), key=lambda shift: correlation(target_v[:n], pointer_v[shift : shift + n]))
    return best * grid_us // 1000


def correlation(a, b):
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def true_loop(rhythm, tracking, participant):
    """The loop the path really closed, measured by the harness rather than estimated: how old
    the picture of the dot on the participant's screen was, plus how long its taps took to reach
    the page, from the participant's and the page's own clocks.

    The two clocks differ by an unknown offset c. A tap sent at s (participant) lands at p
    (page) = s + c + input path, so the difference most tap pairs share is c + input path. A
    picture received at r (participant) that shows where the dot was drawn at d (page) is
    r + c - d old. Moving the received pictures onto the page clock by c + input path, the lag
    that best lines the pictures up with the drawn target is picture age + input path: the
    offset cancels, and no clock needs to be synchronised.

    Three readings. `true_loop_experienced_ms` replays the participant's own hand policy on the
    pictures it received (it aims where the dot was `lag` ago, interpolated between pictures it
    already has, holding the newest when it has none later) and subtracts its own lag: how much
    later this participant's hand moved because of the path, which is what its answers carry and
    what the estimator should find. It lies between the other two. `true_loop_ms` takes each
    picture's age on arrival (pictures interpolated between arrivals, as if whoever watched could
    always wait for the next one); `true_loop_held_ms` holds each picture until the next one arrives, as a viewer shows
    it, and so adds about half the interval between pictures: the loop an unpredictable event
    (rather than a steady beat or a smooth path) would see on a classic viewer."""
    sent_ms = np.array(participant.get("truth_taps_sent_s") or [], dtype=float) * 1000.0
    page_ms = np.array(rhythm.get("taps_at_us") or [], dtype=float) / 1000.0
    seen = np.array(participant.get("truth_seen") or [], dtype=float)
    if len(sent_ms) < 5 or len(page_ms) < 5 or len(seen) < 20 or not tracking:
        return None
    differences = (page_ms[:, None] - sent_ms[None, :]).ravel()
    support = [(np.abs(differences - d) <= 20).sum() for d in differences]
    mode = differences[int(np.argmax(support))]
    input_ms = float(np.median(differences[np.abs(differences - mode) <= 20]))
    target = np.array([tracking["target_at_us"], tracking["target_x_px"], tracking["target_y_px"]], dtype=float).T
    target[:, 0] /= 1000.0
    seen[:, 0] = seen[:, 0] * 1000.0 + input_ms
    grid_ms = 5.0
    times_ms = np.arange(target[0, 0] + 1000.0, target[-1, 0], grid_ms)
    drawn = np.stack([np.interp(times_ms, target[:, 0], target[:, 1]), np.interp(times_ms, target[:, 0], target[:, 2])], axis=1)
    # The picture on screen at each moment: interpolated between arrivals, or held.
    arrived = np.stack([np.interp(times_ms, seen[:, 0], seen[:, 1]), np.interp(times_ms, seen[:, 0], seen[:, 2])], axis=1)
    index = np.searchsorted(seen[:, 0], times_ms, side="right") - 1
    held = seen[np.clip(index, 0, len(seen) - 1), 1:]
    drawn_v = np.diff(drawn, axis=0)
    max_shift = int(1000 / grid_ms)
    n = len(drawn_v) - max_shift
    if n <= max_shift:
        return None

    def lag_ms(picture):
        picture_v = np.diff(picture, axis=0)
        return grid_ms * max(range(max_shift + 1), key=lambda shift: correlation(drawn_v[:n], picture_v[shift : shift + n]))

    # The participant's hand: where the dot was `lag` ago, from the pictures received by now.
    own_lag_ms = float(((participant.get("person") or {}).get("tracking_lag_ms")) or 0.0)
    aimed_at_ms = times_ms - own_lag_ms
    newest = seen[np.clip(index, 0, len(seen) - 1)]
    between = np.stack([np.interp(aimed_at_ms, seen[:, 0], seen[:, 1]), np.interp(aimed_at_ms, seen[:, 0], seen[:, 2])], axis=1)
    hand = np.where((aimed_at_ms >= newest[:, 0])[:, None], newest[:, 1:], between)
    return {
        "true_loop_ms": lag_ms(arrived),
        "true_loop_held_ms": lag_ms(held),
        "true_loop_experienced_ms": lag_ms(hand) - own_lag_ms,
        "true_tap_pairs": int((np.abs(differences - mode) <= 20).sum()),
    }


def check(db_path, session_id, participant=None):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM evidence_batches WHERE session_id = ? ORDER BY seq", (session_id,))]
    finally:
        db.close()
    result = {}
    moves = [(p["at_us"], p["x_px"], p["y_px"]) for b in bodies for p in b.get("pointer", []) if p.get("kind") == "move"]
    tracking = next((b["tracking"] for b in bodies if isinstance(b.get("tracking"), dict) and "target_at_us" in b["tracking"]), None)
    if tracking and moves:
        target = np.array([tracking["target_at_us"], tracking["target_x_px"], tracking["target_y_px"]], dtype=float).T
        pointer = np.array(moves, dtype=float)
        # Leave out the first second, while the hand reaches onto the dot.
        pointer = pointer[(pointer[:, 0] > target[0, 0] + 1e6) & (pointer[:, 0] < target[-1, 0])]
        if len(pointer) > 50:
            errors = []
            for lag_ms in range(0, 1005, 5):
                x = np.interp(pointer[:, 0] - lag_ms * 1000, target[:, 0], target[:, 1])
                y = np.interp(pointer[:, 0] - lag_ms * 1000, target[:, 0], target[:, 2])
                errors.append((float(np.hypot(pointer[:, 1] - x, pointer[:, 2] - y).mean()), lag_ms))
            error_px, lag_ms = min(errors)
            result["tracking_position_lag_ms"] = lag_ms
            result["tracking_position_error_px"] = round(error_px, 1)
            result["tracking_velocity_lag_after_1s_ms"] = velocity_lag_ms(target, pointer)
    rhythm = next((b["rhythm"] for b in bodies if isinstance(b.get("rhythm"), dict) and "beats_at_us" in b["rhythm"]), None)
    if rhythm and rhythm.get("taps_at_us"):
        beats = np.array(rhythm["beats_at_us"], dtype=float) / 1000.0
        taps = np.array(rhythm["taps_at_us"], dtype=float) / 1000.0
        nearest = [float(t - beats[np.argmin(np.abs(beats - t))]) for t in taps]
        result["taps"] = len(taps)
        result["tap_asynchrony_nearest_median_ms"] = round(float(np.median(nearest)), 1)
    if rhythm and tracking and participant:
        result.update(true_loop(rhythm, tracking, participant) or {})
    return result


if __name__ == "__main__":
    import sys

    db_path, records_path = sys.argv[1], sys.argv[2]
    records = [json.loads(line) for line in open(records_path)]
    for record in records:
        if record.get("session"):
            record["evidence_check"] = check(db_path, record["session"])
    with open(records_path, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
