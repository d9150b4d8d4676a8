# Independent checks of the loop estimators, computed from the evidence the edge stored for a
# session: the tracking lag that best lines the pointer up with the target (by position), the
# estimator's own velocity correlation redone without the task's first second (the reach onto
# the dot), and the raw tap asynchronies against the nearest beat.
# Usage (to refresh records from a kept edge database): python evidence_check.py DB sessions.jsonl
import json
import sqlite3

import numpy as np


def velocity_lag_ms(target, pointer, grid_us=5000, max_lag_ms=600):
    """The lag maximising the correlation of target and pointer velocities on a 5 ms grid over
    0-600 ms, as crates/core/src/challenge.rs computes it, on the samples given."""
    start_us, end_us = max(target[0, 0], pointer[0, 0]), min(target[-1, 0], pointer[-1, 0])
    times_us = np.arange(start_us, end_us, grid_us)
    resampled = lambda points: np.stack([np.interp(times_us, points[:, 0], points[:, 1]), np.interp(times_us, points[:, 0], points[:, 2])], axis=1)
    target_v, pointer_v = np.diff(resampled(target), axis=0), np.diff(resampled(pointer), axis=0)
    max_shift = max_lag_ms * 1000 // grid_us
    n = len(target_v) - max_shift
    if n <= max_shift:
        return None
    best = max(range(max_shift + 1), key=lambda shift: correlation(target_v[:n], pointer_v[shift : shift + n]))
    return best * grid_us // 1000


def correlation(a, b):
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def check(db_path, session_id):
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
            for lag_ms in range(0, 705, 5):
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
