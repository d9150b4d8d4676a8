# Turns the evaluation's session records into figures: ROC AUC, true-positive rate at 1 % false
# positives per delay, estimated against injected loop latency, time to verdict; writes the
# table and plots under docs/eval/ and prints one `name: value unit` line per figure.
import json
import re
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DELAYS_MS = [0, 20, 55, 100, 150]


def score(record):
    """The score the ROC is computed on: the verdict's own p_remote."""
    return record["verdict"]["p_remote"]


def loop_score(record):
    """The second score: the loop evidence alone, the verdict's loop_added_ms estimate (a
    session without one scores lowest: the loop said nothing)."""
    estimate = loop_estimate_ms(record)
    return -1e9 if estimate is None else estimate


def loop_estimate_ms(record):
    loop = record["verdict"].get("loop_added_ms")
    return loop["estimate"] if loop else None


def injected_loop_ms(record):
    """The loop the proxy adds: the delay both ways plus the mean of U(0, jitter) both ways."""
    return 2 * record["delay_ms"] + record["jitter_ms"] if record["path"] == "remote" else 0.0


def measured_loop_ms(record, reading="true_loop_experienced_ms"):
    """The loop the harness measured for the session from both clocks (evidence_check.true_loop),
    including what the display itself takes: by default as the participant's hand experienced
    it; `true_loop_ms` for the pictures' age on arrival, `true_loop_held_ms` for pictures held
    until the next."""
    return check(record, reading)


def measured_added_ms(record, local_baseline_ms):
    """The measured loop beyond the local sessions' median: what the path added."""
    loop = measured_loop_ms(record)
    return None if loop is None or local_baseline_ms is None else loop - local_baseline_ms


def reason(record, code):
    for r in record["verdict"]["reasons"]:
        if r["code"] == code:
            return r
    return None


def task_figure(record, code):
    """The rhythm asynchrony or tracking lag (ms) from the reason's sentence."""
    r = reason(record, code)
    if r is None:
        return None
    pattern = r"taps landed (\d+) ms (before|after)" if code == "rhythm" else r"followed the moving target (-?\d+) ms behind"
    match = re.search(pattern, r["text"])
    if not match:
        return None
    value = float(match.group(1))
    return -value if code == "rhythm" and match.group(2) == "before" else value


def check(record, name):
    return (record.get("evidence_check") or {}).get(name)


def auc(negatives, positives):
    """Mann-Whitney estimate of the area under the ROC curve (ties count half)."""
    if not negatives or not positives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(negatives) * len(positives))


def tpr_at_fpr(negatives, positives, max_fpr=0.01):
    """The largest true-positive rate with a threshold whose false-positive rate is at most
    `max_fpr`: flag scores strictly above the threshold."""
    candidates = sorted(set(negatives) | set(positives) | {max(negatives + positives) + 1})
    best = 0.0
    for threshold in candidates:
        fpr = sum(n >= threshold for n in negatives) / len(negatives)
        if fpr <= max_fpr:
            best = max(best, sum(p >= threshold for p in positives) / len(positives))
    return best


def roc_points(negatives, positives):
    thresholds = sorted(set(negatives) | set(positives), reverse=True)
    points = [(0.0, 0.0)]
    for t in thresholds:
        points.append((sum(n >= t for n in negatives) / len(negatives), sum(p >= t for p in positives) / len(positives)))
    points.append((1.0, 1.0))
    return points


def fpr_upper_95(flagged, sessions):
    """The one-sided 95 % upper confidence bound (Clopper-Pearson) on a false-positive rate
    after `flagged` of `sessions` local sessions were flagged: the rate p at which seeing so few
    would happen only 5 % of the time."""
    from math import comb

    def at_most(p):
        return sum(comb(sessions, i) * p**i * (1 - p) ** (sessions - i) for i in range(flagged + 1))

    low, high = flagged / sessions, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if at_most(middle) > 0.05 else (low, middle)
    return high


def extra_locals(out: Path):
    """Local sessions from a separate `scripts/eval --locals N` run (OUT/local/sessions.jsonl),
    which only the false-positive figures use."""
    path = out / "local" / "sessions.jsonl"
    if not path.exists():
        return []
    return valid([json.loads(line) for line in open(path)])


def valid(records):
    return [r for r in records if r.get("verdict") and "error" not in r]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def smoke(records, wall_s):
    """Asserts the smoke run: the remote session is flagged remote, the local one is not."""
    ok = True
    for record in records:
        verdict = record.get("verdict")
        if not verdict:
            print(f"smoke: {record['label']} has no verdict ({record.get('error')})")
            ok = False
            continue
        reasons = ", ".join(f"{r['code']} {r['weight']:+.2f}" for r in verdict["reasons"] if r["weight"])
        print(f"smoke: {record['label']}: class {verdict['class']}, p_remote {verdict['p_remote']}, "
              f"loop_added_ms {verdict.get('loop_added_ms')}, reasons {reasons}")
        seen = record.get("participant") or {}
        print(f"smoke: {record['label']}: participant saw {seen.get('rhythm_beats_seen')} beats and tapped "
              f"{seen.get('rhythm_taps')} times; evidence check {record.get('evidence_check')}")
        # A participant that could not see the beat measures nothing: that is a harness failure
        # (for example a page change its pixel reading does not understand), not a result.
        if (seen.get("rhythm_beats_seen") or 0) < 16 or (seen.get("rhythm_taps") or 0) < 8:
            print(f"smoke: FAILED: {record['label']}: the participant did not see the rhythm task's beats")
            ok = False
        if check(record, "true_loop_ms") is None:
            print(f"smoke: FAILED: {record['label']}: the harness could not measure the loop it closed")
            ok = False
        flagged = verdict["class"] == "remote"
        expected = record["path"] == "remote"
        if flagged != expected:
            print(f"smoke: FAILED: {record['label']} should {'' if expected else 'not '}be flagged remote")
            ok = False
    print(f"eval_smoke_time: {wall_s:.0f} s")
    print(f"eval_smoke_passed: {int(ok)} bool")
    return ok


def write(records, out: Path, wall_s, parallel):
    good = valid(records)
    failed = [r for r in records if r not in good]
    local = [r for r in good if r["path"] == "local"]
    remote = [r for r in good if r["path"] == "remote"]
    negatives = [score(r) for r in local]
    lines, figures = [], []

    def figure(name, value, unit):
        figures.append(f"{name}: {value} {unit}")

    # Per profile table.
    rows = []
    groups = {}
    for r in good:
        viewer = " (streaming viewer)" if r.get("client") == "streaming" else ""
        key = ("local", 0, "-") if r["path"] == "local" else ("remote", r["delay_ms"], r["vnc"] + viewer)
        groups.setdefault(key, []).append(r)
    local_baseline_ms = median([measured_loop_ms(r) for r in good if r["path"] == "local"])
    arrival_baseline_ms = median([measured_loop_ms(r, "true_loop_ms") for r in good if r["path"] == "local"])
    held_baseline_ms = median([measured_loop_ms(r, "true_loop_held_ms") for r in good if r["path"] == "local"])
    header = ("| path | one-way delay | x11vnc | jitter | sessions | flagged `remote` | p_remote median | loop_added_ms median "
              "| injected loop | error median | measured added loop (experienced; on arrival / held) | error against experienced median | rhythm asynchrony median (raw nearest beat) | tracking lag median: estimator / velocity after 1 s / by position / person's own "
              "| frames seen every |")
    rows.append(header)
    rows.append("|" + "---|" * 15)
    for key in sorted(groups, key=lambda k: (k[0] != "local", k[1], k[2])):
        group = groups[key]
        flagged = sum(r["verdict"]["class"] == "remote" for r in group)
        estimates = [loop_estimate_ms(r) for r in group]
        errors = [loop_estimate_ms(r) - injected_loop_ms(r) for r in group if loop_estimate_ms(r) is not None]
        measured = [measured_added_ms(r, local_baseline_ms) for r in group]
        measured_errors = [loop_estimate_ms(r) - m for r, m in zip(group, measured) if m is not None and loop_estimate_ms(r) is not None]
        arrival = [measured_loop_ms(r, "true_loop_ms") - arrival_baseline_ms for r in group
                   if measured_loop_ms(r, "true_loop_ms") is not None and arrival_baseline_ms is not None]
        held = [measured_loop_ms(r, "true_loop_held_ms") - held_baseline_ms for r in group
                if measured_loop_ms(r, "true_loop_held_ms") is not None and held_baseline_ms is not None]
        jitters = sorted({r["jitter_ms"] for r in group})
        rows.append(
            f"| {key[0]} | {key[1]} ms | {key[2]} | {'/'.join(str(j) for j in jitters)} ms | {len(group)} | {flagged}/{len(group)} "
            f"| {fmt(median([score(r) for r in group]), 3)} | {fmt(median(estimates))} ms "
            f"| {fmt(median([injected_loop_ms(r) for r in group]))} ms | {fmt(median(errors))} ms "
            f"| {fmt(median(measured))} ms ({fmt(median(arrival))} / {fmt(median(held))} ms) | {fmt(median(measured_errors))} ms "
            f"| {fmt(median([task_figure(r, 'rhythm') for r in group]))} ms ({fmt(median([check(r, 'tap_asynchrony_nearest_median_ms') for r in group]))} ms) "
            f"| {fmt(median([task_figure(r, 'tracking') for r in group]), 0)} / {fmt(median([check(r, 'tracking_velocity_lag_after_1s_ms') for r in group]), 0)} "
            f"/ {fmt(median([check(r, 'tracking_position_lag_ms') for r in group]), 0)} "
            f"/ {fmt(median([r['participant']['person']['tracking_lag_ms'] for r in group]), 0)} ms "
            f"| {fmt(median([r['participant'].get('frame_interval_seen_ms') for r in group]), 0)} ms |"
        )

    # Which reasons carried weight, and how often.
    weights = {}
    for r in good:
        for reason_ in r["verdict"]["reasons"]:
            if reason_["weight"]:
                weights.setdefault((r["path"], reason_["code"]), []).append(reason_["weight"])
    reason_rows = ["| path | reason | sessions | median weight |", "|---|---|---|---|"]
    for (path, code), values in sorted(weights.items()):
        count = len(local) if path == "local" else len(remote)
        reason_rows.append(f"| {path} | `{code}` | {len(values)}/{count} | {statistics.median(values):+.2f} |")

    # ROC figures: per delay on the classic viewer's sessions; the streaming ones separately.
    classic = [r for r in remote if r.get("client", "classic") == "classic"]
    streaming = [r for r in remote if r.get("client") == "streaming"]
    loop_negatives = [loop_score(r) for r in local]
    for name, scorer, negs in [("", score, negatives), ("loop_only_", loop_score, loop_negatives)]:
        figure(f"{name}roc_auc_all_remote", fmt(auc(negs, [scorer(r) for r in classic]), 3), "fraction")
        for delay_ms in DELAYS_MS:
            positives = [scorer(r) for r in classic if r["delay_ms"] == delay_ms]
            if positives and negs:
                figure(f"{name}roc_auc_at_{delay_ms}ms", fmt(auc(negs, positives), 3), "fraction")
        for delay_ms in DELAYS_MS:
            positives = [scorer(r) for r in classic if r["delay_ms"] == delay_ms]
            if positives and negs:
                figure(f"{name}tpr_at_1pct_fpr_at_{delay_ms}ms", fmt(100 * tpr_at_fpr(negs, positives), 0), "%")
        if streaming and negs:
            figure(f"{name}tpr_at_1pct_fpr_at_150ms_streaming_viewer", fmt(100 * tpr_at_fpr(negs, [scorer(r) for r in streaming]), 0), "%")
    for delay_ms in DELAYS_MS:
        group = [r for r in classic if r["delay_ms"] == delay_ms]
        if group:
            flagged = sum(r["verdict"]["class"] == "remote" for r in group)
            figure(f"flagged_remote_at_{delay_ms}ms", f"{flagged}/{len(group)}", "sessions")
    if streaming:
        figure("flagged_remote_at_150ms_streaming_viewer", f"{sum(r['verdict']['class'] == 'remote' for r in streaming)}/{len(streaming)}", "sessions")
    if local:
        figure("local_flagged_remote", f"{sum(r['verdict']['class'] == 'remote' for r in local)}/{len(local)}", "sessions")
        figure("local_flagged_remote_or_suspected", f"{sum(r['verdict']['class'] != 'local' for r in local)}/{len(local)}", "sessions")
        figure("local_p_remote_max", fmt(max(negatives), 3), "probability")
        figure("local_loop_added_max", fmt(max(loop_negatives), 1), "ms")

    # False positives over every local session there is: this run's and a separate local run's.
    more = extra_locals(out)
    everyone = local + more
    if everyone:
        for name, flagged in [("remote", lambda r: r["verdict"]["class"] == "remote"),
                              ("remote_or_suspected", lambda r: r["verdict"]["class"] != "local")]:
            k = sum(flagged(r) for r in everyone)
            figure(f"local_all_flagged_{name}", f"{k}/{len(everyone)}", "sessions")
            figure(f"local_all_fpr_{name}_upper_95", fmt(100 * fpr_upper_95(k, len(everyone)), 1), "%")
        figure("local_all_p_remote_max", fmt(max(score(r) for r in everyone), 3), "probability")
    if more:
        all_negatives = [score(r) for r in everyone]
        for delay_ms in DELAYS_MS:
            positives = [score(r) for r in classic if r["delay_ms"] == delay_ms]
            if positives:
                figure(f"tpr_at_1pct_fpr_at_{delay_ms}ms_against_{len(everyone)}_locals", fmt(100 * tpr_at_fpr(all_negatives, positives), 0), "%")

    # Loop latency.
    baseline = {}
    for vnc in ["default", "nonap"]:
        zero = [loop_estimate_ms(r) for r in remote if r["delay_ms"] == 0 and r["vnc"] == vnc and loop_estimate_ms(r) is not None]
        baseline[vnc] = median(zero)
    local_estimate = median([loop_estimate_ms(r) for r in local])
    figure("loop_added_local_median", fmt(local_estimate), "ms")
    for vnc in ["default", "nonap"]:
        figure(f"loop_added_vnc_{vnc}_at_0ms_median", fmt(baseline[vnc]), "ms")
    for delay_ms in DELAYS_MS[1:]:
        errors = [abs(loop_estimate_ms(r) - injected_loop_ms(r)) for r in classic if r["delay_ms"] == delay_ms and loop_estimate_ms(r) is not None]
        figure(f"loop_error_abs_median_at_{delay_ms}ms", fmt(median(errors)), "ms")
    for delay_ms in DELAYS_MS[1:]:
        errors = [abs(loop_estimate_ms(r) - injected_loop_ms(r) - (baseline[r["vnc"]] or 0)) for r in classic
                  if r["delay_ms"] == delay_ms and loop_estimate_ms(r) is not None]
        figure(f"loop_error_abs_median_beyond_vnc_at_{delay_ms}ms", fmt(median(errors)), "ms")
    if streaming:
        errors = [abs(loop_estimate_ms(r) - injected_loop_ms(r)) for r in streaming if loop_estimate_ms(r) is not None]
        figure("loop_error_abs_median_at_150ms_streaming_viewer", fmt(median(errors)), "ms")
    within = [abs(loop_estimate_ms(r) - injected_loop_ms(r)) <= 20 for r in remote if r["delay_ms"] > 0 and loop_estimate_ms(r) is not None]
    if within:
        figure("loop_estimate_within_20ms_of_injected", f"{sum(within)}/{len(within)}", "sessions")
    within = [abs(loop_estimate_ms(r) - injected_loop_ms(r) - (baseline[r["vnc"]] or 0)) <= 20 for r in classic
              if r["delay_ms"] > 0 and loop_estimate_ms(r) is not None]
    if within:
        figure("loop_estimate_within_20ms_beyond_vnc", f"{sum(within)}/{len(within)}", "sessions")

    # Against the loop the harness measured from both clocks, beyond the local sessions' median:
    # as the participant's hand experienced it (the reference for the ±20 ms target), and the
    # pictures' age on arrival and held, which bound it.
    for reading, name in [("true_loop_experienced_ms", "experienced"), ("true_loop_ms", "on_arrival"), ("true_loop_held_ms", "held_pictures")]:
        baseline_ms = median([measured_loop_ms(r, reading) for r in local])
        figure(f"loop_measured_{name}_local_median", fmt(baseline_ms), "ms")
        for delay_ms in DELAYS_MS:
            group = [r for r in classic if r["delay_ms"] == delay_ms]
            # Without local sessions in the run (`--only`) there is no baseline to subtract.
            measured = [None if measured_loop_ms(r, reading) is None or baseline_ms is None else measured_loop_ms(r, reading) - baseline_ms for r in group]
            if baseline_ms is not None and any(m is not None for m in measured):
                figure(f"loop_measured_{name}_added_median_at_{delay_ms}ms", fmt(median(measured)), "ms")
    for delay_ms in DELAYS_MS:
        group = [r for r in classic if r["delay_ms"] == delay_ms]
        errors = [abs(loop_estimate_ms(r) - measured_added_ms(r, local_baseline_ms)) for r in group
                  if measured_added_ms(r, local_baseline_ms) is not None and loop_estimate_ms(r) is not None]
        if errors:
            figure(f"loop_error_abs_median_vs_experienced_at_{delay_ms}ms", fmt(median(errors)), "ms")
    if streaming:
        errors = [abs(loop_estimate_ms(r) - measured_added_ms(r, local_baseline_ms)) for r in streaming
                  if loop_estimate_ms(r) is not None and measured_added_ms(r, local_baseline_ms) is not None]
        figure("loop_error_abs_median_vs_experienced_at_150ms_streaming_viewer", fmt(median(errors)), "ms")
    errors = [abs(loop_estimate_ms(r) - measured_added_ms(r, local_baseline_ms)) for r in local
              if loop_estimate_ms(r) is not None and measured_added_ms(r, local_baseline_ms) is not None]
    if errors:
        figure("loop_error_abs_median_vs_experienced_local", fmt(median(errors)), "ms")
    within = [abs(loop_estimate_ms(r) - measured_added_ms(r, local_baseline_ms)) <= 20 for r in good
              if loop_estimate_ms(r) is not None and measured_added_ms(r, local_baseline_ms) is not None]
    if within:
        figure("loop_estimate_within_20ms_of_experienced", f"{sum(within)}/{len(within)}", "sessions")
    within = [abs(loop_estimate_ms(r) - measured_added_ms(r, local_baseline_ms)) <= 20 for r in remote
              if r["delay_ms"] > 0 and loop_estimate_ms(r) is not None and measured_added_ms(r, local_baseline_ms) is not None]
    if within:
        figure("loop_estimate_within_20ms_of_experienced_vnc_delayed", f"{sum(within)}/{len(within)}", "sessions")

    # Time to verdict.
    figure("time_to_verdict_after_open_median", fmt(median([r.get("verdict_after_open_s") for r in good])), "s")
    figure("time_to_verdict_after_tasks_median", fmt(median([r.get("verdict_after_tasks_s") for r in good])), "s")
    figure("challenge_time_median", fmt(median([r["participant"].get("challenge_s") for r in good])), "s")
    figure("sessions_failed", f"{len(failed)}/{len(records)}", "sessions")
    figure("eval_wall_time", f"{wall_s:.0f}", "s")

    if remote:
        plot_roc(local, remote, out / "roc.png")
    plot_loop(local, remote, out / "loop-latency.png")
    plot_scores(local, remote, out / "p-remote.png")

    lines.append("<!-- Generated by tests/eval/report.py from sessions.jsonl; do not edit by hand. -->")
    lines.append(f"# Results ({len(good)} sessions with a verdict, {len(failed)} failed; {parallel} in parallel; {wall_s / 60:.1f} min)\n")
    lines += rows
    lines.append("\nReasons that carried weight (non-zero), by path:\n")
    lines += reason_rows
    lines.append("\nFigures:\n\n```")
    lines += figures
    lines.append("```")
    if failed:
        lines.append("\nFailed sessions:\n")
        lines += [f"- {r['label']} seed {r['seed']}: {r.get('error', 'no verdict')}" for r in failed]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(rows))
    print()
    print("\n".join(reason_rows))
    print()
    print("\n".join(figures))


def plot_roc(local, remote, path):
    classic = [r for r in remote if r.get("client", "classic") == "classic"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, scorer, title in [(axes[0], score, "score: verdict p_remote"), (axes[1], loop_score, "score: loop_added_ms alone")]:
        negatives = [scorer(r) for r in local]
        for delay_ms in DELAYS_MS:
            positives = [scorer(r) for r in classic if r["delay_ms"] == delay_ms]
            if positives and negatives:
                xs, ys = zip(*roc_points(negatives, positives))
                ax.step(xs, ys, where="post", label=f"{delay_ms} ms one-way (AUC {auc(negatives, positives):.2f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
        ax.set_xlabel("false-positive rate (local sessions flagged)")
        ax.set_ylabel("true-positive rate (VNC sessions flagged)")
        ax.set_title(f"{title}; {len(negatives)} local sessions", fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_loop(local, remote, path):
    """Estimate against the injected loop (left) and against the loop the harness measured
    (right), one point per session."""
    local_baseline_ms = median([measured_loop_ms(r) for r in local])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    colours = {"default": "#0072b2", "nonap": "#d55e00", "streaming": "#cc79a7"}
    kind = lambda r: "streaming" if r.get("client") == "streaming" else r["vnc"]
    for ax, reference, xlabel in [
        (axes[0], injected_loop_ms, "injected loop: 2 × one-way delay + mean jitter (ms)"),
        (axes[1], lambda r: measured_added_ms(r, local_baseline_ms), "measured added loop, as the participant's hand experienced it (ms)"),
    ]:
        points = [(reference(r), loop_estimate_ms(r)) for r in local]
        points = [p for p in points if None not in p]
        ax.scatter([p[0] for p in points], [p[1] for p in points], color="#009e73", label="local (XTest)", s=18)
        tops = [p[0] for p in points]
        for vnc, colour in colours.items():
            points = [(reference(r), loop_estimate_ms(r)) for r in remote if kind(r) == vnc]
            points = [p for p in points if None not in p]
            tops += [p[0] for p in points]
            label = "x11vnc default, streaming viewer" if vnc == "streaming" else f"x11vnc {vnc}"
            ax.scatter([p[0] for p in points], [p[1] for p in points], color=colour, label=label, s=18)
        top = max(tops + [1]) + 40
        ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--", label="estimate = reference")
        ax.fill_between([0, top], [-20, top - 20], [20, top + 20], color="grey", alpha=0.12, label="±20 ms")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("verdict loop_added_ms estimate (ms)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scores(local, remote, path):
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = ["local"] + [f"{d} ms" for d in DELAYS_MS]
    labels.append("150 ms\nstreaming")
    groups = [[score(r) for r in local]] + [[score(r) for r in remote if r["delay_ms"] == d and r.get("client", "classic") == "classic"] for d in DELAYS_MS]
    groups.append([score(r) for r in remote if r.get("client") == "streaming"])
    for i, values in enumerate(groups):
        ax.scatter([i + (k % 5 - 2) * 0.05 for k in range(len(values))], values, s=16,
                   color="#009e73" if i == 0 else "#0072b2")
    ax.axhline(0.9, color="#d55e00", lw=0.8, ls="--", label="class `remote` at 0.90")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("path (one-way delay for VNC)")
    ax.set_ylabel("verdict p_remote")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    # Re-renders from sessions.jsonl: python report.py docs/eval/sessions.jsonl WALL_S PARALLEL.
    records = [json.loads(line) for line in open(sys.argv[1])]
    write(records, Path(sys.argv[1]).parent, float(sys.argv[2]), int(sys.argv[3]))
