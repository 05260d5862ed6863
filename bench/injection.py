"""Prompt-injection benchmark: quality per data set and language, signatures alone vs. signatures +
model, out of the box and after feedback, and the CPU cost of one scan.

Data: :mod:`bench.injection_data` (public sets from ``/work/shared/data/injection`` and from PyPI
packages, and the project's own set). Every quality figure is on the **report** split, which the
shipped model never saw (without the calibration split, the half of its benign texts that chose the
per-language bias: ``bench/injection_calibrate.py``); "after feedback" feeds the **train** split of the
same set (or language) to a fresh scanner with :meth:`InjectionScanner.learn_many`, as ``tracewatch feedback`` does, and
"forgetting" is the largest accuracy drop that feedback causes on the report split of the *other*
sets.

Run: ``.venv/bin/python -m bench.injection`` (``make bench`` runs it); ``--markdown`` prints the
table for README.md and docs/injection.md.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.injection_data import FORTUNES_FILE, LANGUAGES, NOT_FITTED, load_rows  # noqa: E402
from detectors.injection import InjectionScanner  # noqa: E402
from detectors.injection.model import HashedLinearModel  # noqa: E402

PROMPT_2KB = (
    "You are a support assistant for Acme Cloud. Answer the customer's question using the context. "
    "Context: Acme Cloud bills compute per second with a one-minute minimum; storage is billed per "
    "GB-month; egress to the internet costs 0.08 USD per GB after the first 100 GB. Support plans: "
    "Basic (email, 2 business days), Pro (chat, 4 hours), Enterprise (phone, 30 minutes, named TAM). "
) * 8
PUBLIC_SETS = ("deepset", "gpteacher", "pallms", "jailbreak_wild", "extraction", "promptinject", "bastion",
               "payload_lists", "probe_lists", "spikee", "prompts_chat", "chatterbot", "django", "wagtail", "sphinx",
               "ovos", "fortunes")


def quality(scanner: InjectionScanner, rows: list[dict]) -> dict:
    tp = fp = tn = fn = 0
    for row in rows:
        predicted = scanner.scan(row["text"]).verdict == "injection"
        actual = row["label"] == 1
        tp += predicted and actual
        fp += predicted and not actual
        tn += not predicted and not actual
        fn += not predicted and actual
    n = len(rows)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return {"n": n, "accuracy": (tp + tn) / n if n else None, "precision": precision, "recall": recall,
            "fpr": fp / (fp + tn) if fp + tn else None, "f1": f1, "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def groups(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for name in PUBLIC_SETS + ("own",):
        out[name] = [r for r in rows if r["set"] == name]
    for lang in LANGUAGES:
        out[f"lang:{lang}"] = [r for r in rows if r["lang"] == lang]
    out["all public"] = [r for r in rows if r["set"] in PUBLIC_SETS]
    out["all"] = list(rows)
    return {k: v for k, v in out.items() if v}


def scan_cost(scanner: InjectionScanner, texts: list[str], rounds: int = 5) -> dict:
    """CPU µs per scan of each 2 KB text (``thread_time``), over ``rounds`` passes: p50 and p99."""
    for t in texts:  # one pass first: RE2 builds its DFA states lazily (a long-running worker has them)
        scanner.scan(t)
    samples = []
    clock = time.thread_time_ns
    for _ in range(rounds):
        for t in texts:
            start = clock()
            scanner.scan(t)
            samples.append((clock() - start) / 1000)
    samples.sort()
    return {"p50_us": statistics.median(samples), "p99_us": samples[int(0.99 * (len(samples) - 1))],
            "n": len(samples)}


def scan_cost_min(scanner: InjectionScanner, texts: list[str], rounds: int = 7) -> dict:
    """CPU µs per scan, the minimum of ``rounds`` scans of each text (what the text itself costs,
    with most of a shared machine's noise removed): p50, p90 and p99 over the texts."""
    for t in texts:
        scanner.scan(t)
    clock = time.thread_time_ns
    mins = []
    for t in texts:
        best = None
        for _ in range(rounds):
            start = clock()
            scanner.scan(t)
            took = clock() - start
            best = took if best is None else min(best, took)
        mins.append(best / 1000)
    mins.sort()
    n = len(mins)
    return {"p50_us": mins[n // 2], "p90_us": mins[int(0.9 * n)], "p99_us": mins[int(0.99 * (n - 1))], "n": n}


def texts_2kb(rows: list[dict]) -> list[str]:
    """Report-split texts cut or padded (with a benign support prompt) to 2048 characters."""
    out = []
    for r in rows[:400]:
        t = r["text"]
        t = (t + "\n\n" + PROMPT_2KB)[:2048] if len(t) < 2048 else t[:2048]
        out.append(t)
    return out


def model_memory() -> dict:
    tracemalloc.start()
    model = HashedLinearModel.load()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"weights_bytes": int(model.weights.nbytes), "load_traced_bytes": int(current), "load_peak_bytes": int(peak)}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``k / n``.

    >>> [round(x, 3) for x in wilson(0, 300)]
    [0.0, 0.013]
    """
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--new-user", nargs="+", metavar="SET", default=[],
                    help="only: feedback as a new user (model trained without SET; see new_user)")
    ap.add_argument("--feedback", nargs="+", metavar="SET", default=[],
                    help="only: the table's after-feedback and forgetting cells of SET (a set or lang:xx), "
                         "and which set forgot")
    args = ap.parse_args(argv if argv is not None else [])
    rows = load_rows()
    if args.feedback:
        return feedback_rows(rows, args.feedback)
    if args.new_user:
        out = [new_user(rows, name) for name in args.new_user]
        print("| set (report split) | trained without it | after feedback with its train split | forgetting |")
        print("| --- | --- | --- | --- |")
        for r in out:
            cells = [f"{_fmt(q['accuracy'])} / {_fmt(q['precision'])} / {_fmt(q['recall'])} / {_fmt(q['fpr'])}"
                     for q in (r["before"], r["after"])]
            print(f"| {r['set']} | {cells[0]} | {cells[1]} ({r['feedback_rows']} rows) "
                  f"| {r['forgetting'] * 100:+.1f} pt ({r['forgetting_set']}) |")
        return {"new_user": out}
    report = [r for r in rows if r["split"] == "report"]
    train = [r for r in rows if r["split"] == "train"]
    report_groups, train_groups = groups(report), groups(train)
    base = InjectionScanner.load()
    sig_only = InjectionScanner(base.library, base.classifier, use_model=False)
    set_names = [k for k in report_groups if k in PUBLIC_SETS or k == "own"]
    table = {}
    oob_acc = {name: None for name in set_names}
    for name, group in report_groups.items():
        table[name] = {"signatures": quality(sig_only, group), "out_of_the_box": quality(base, group)}
        if name in oob_acc:
            oob_acc[name] = table[name]["out_of_the_box"]["accuracy"]
    for name, group in report_groups.items():
        fb = train_groups.get(name, [])
        if not fb or name in ("all", "all public"):
            continue
        scanner = InjectionScanner.load()
        scanner.learn_many([(r["text"], r["label"]) for r in fb])
        table[name]["after_feedback"] = quality(scanner, group)
        table[name]["feedback_rows"] = len(fb)
        drops = {}
        fed = {id(r) for r in group}
        for other in set_names:
            if other == name:
                continue
            others = [r for r in report_groups[other] if id(r) not in fed]
            if not others:
                continue
            acc = quality(scanner, others)["accuracy"]
            before = quality(base, others)["accuracy"] if name.startswith("lang:") else oob_acc[other]
            drops[other] = before - acc
        table[name]["forgetting"] = max(drops.values()) if drops else 0.0
    benign_per_language = {}
    for lang in LANGUAGES:
        benign = [r for r in report if r["lang"] == lang and r["label"] == 0]
        if benign:
            fp = sum(base.scan(r["text"]).verdict == "injection" for r in benign)
            benign_per_language[lang] = (len(benign), sum(r["set"] in PUBLIC_SETS for r in benign), fp)
    cost = scan_cost(base, texts_2kb(report))
    cost_min = scan_cost_min(base, texts_2kb(report))
    fixed = PROMPT_2KB[:2048]
    cost_fixed = scan_cost(base, [fixed] * 200)
    result = {
        "train_rows": len(train), "fitted_rows": sum(r["set"] not in NOT_FITTED for r in train),
        "report_rows": len(report), "calibration_rows": sum(r["split"] == "calibration" for r in rows),
        "table": table, "benign_per_language": benign_per_language,
        "scan_2kb": cost, "scan_2kb_min_per_text": cost_min, "scan_2kb_fixed_prompt": cost_fixed, "model_memory": model_memory(),
        # the keys bench/__main__.py prints
        "before_feedback": table["all"]["out_of_the_box"], "after_feedback": table["all"]["out_of_the_box"],
        "scan_2kb_benign_us": cost_fixed["p50_us"], "scan_2kb_attack_us": cost["p99_us"],
    }
    print(markdown(result) if args.markdown else markdown(result))
    if not FORTUNES_FILE.exists():
        print(f"\nfortunes not measured: {FORTUNES_FILE} is made locally (GPL-2+, kept out of git): "
              "apt-get download fortunes-de fortunes-es fortunes-min, dpkg-deb -x each into DIR, then "
              "python -m bench.injection_data extract-fortunes DIR")
    return result


def feedback_rows(rows: list[dict], names: list[str]) -> dict:
    """The table's "after feedback" and "forgetting" cells of ``names`` alone (as :func:`main` computes
    them), with the set that forgot and how many of its texts feedback turned wrong."""
    report_groups = groups([r for r in rows if r["split"] == "report"])
    train_groups = groups([r for r in rows if r["split"] == "train"])
    base = InjectionScanner.load()
    set_names = [k for k in report_groups if k in PUBLIC_SETS or k == "own"]
    before = {k: {id(r): base.scan(r["text"]).verdict == "injection" for r in report_groups[k]} for k in set_names}
    out = {}
    print("| set (report split) | out of the box | after feedback | forgetting |")
    print("| --- | --- | --- | --- |")
    for name in names:
        scanner = InjectionScanner.load()
        scanner.learn_many([(r["text"], r["label"]) for r in train_groups[name]])
        fed = {id(r) for r in report_groups[name]}
        drops, lost = {}, {}
        for other in set_names:
            others = [r for r in report_groups[other] if id(r) not in fed]
            if other == name or not others:
                continue
            after = {id(r): scanner.scan(r["text"]).verdict == "injection" for r in others}
            right0 = sum(before[other][id(r)] == bool(r["label"]) for r in others)
            right1 = sum(after[id(r)] == bool(r["label"]) for r in others)
            drops[other] = (right0 - right1) / len(others)
            lost[other] = sum(before[other][id(r)] == bool(r["label"]) != after[id(r)] for r in others)
        worst = max(drops, key=drops.get)
        q0, q1 = quality(base, report_groups[name]), quality(scanner, report_groups[name])
        cells = [f"{_fmt(q['accuracy'])} / {_fmt(q['precision'])} / {_fmt(q['recall'])} / {_fmt(q['fpr'])}"
                 for q in (q0, q1)]
        print(f"| {name} | {cells[0]} | {cells[1]} | {drops[worst] * 100:+.1f} pt ({worst}: {lost[worst]} of "
              f"{len(report_groups[worst])} turned wrong) |", flush=True)
        out[name] = {"out_of_the_box": q0, "after_feedback": q1, "forgetting": drops[worst], "forgetting_set": worst}
    return out


def new_user(rows: list[dict], set_name: str) -> dict:
    """Feedback as a new user gives it: a model trained on every train split *except* ``set_name``'s
    (with its own replay sample), then ``learn_many`` with ``set_name``'s train split; quality on
    ``set_name``'s report split before and after, and the largest accuracy drop on another set's
    report split. Trains a model (about a minute)."""
    from bench.train_injection import REPLAY_PER_GROUP, _stratified, train, words_form  # noqa: PLC0415
    from detectors.injection.signatures import SignatureLibrary  # noqa: PLC0415

    base_rows = [r for r in rows if r["split"] == "train" and r["set"] != set_name]
    replay = [(words_form(r["text"])[:1024], r["label"]) for r in _stratified(base_rows, REPLAY_PER_GROUP)]
    scanner = InjectionScanner(SignatureLibrary.load(), train(base_rows))
    report = groups([r for r in rows if r["split"] == "report"])
    others = [k for k in report if k != set_name and k in PUBLIC_SETS + ("own",)]
    before = {k: quality(scanner, report[k]) for k in [set_name] + others}
    feedback = [(r["text"], r["label"]) for r in rows if r["split"] == "train" and r["set"] == set_name]
    scanner.learn_many(feedback, replay=replay)
    after = {k: quality(scanner, report[k]) for k in [set_name] + others}
    drops = {k: before[k]["accuracy"] - after[k]["accuracy"] for k in others}
    worst = max(drops, key=drops.get)
    return {"set": set_name, "feedback_rows": len(feedback), "before": before[set_name],
            "after": after[set_name], "forgetting": drops[worst], "forgetting_set": worst}


def markdown(result: dict) -> str:
    lines = [
        f"Report split only ({result['report_rows']} texts; the calibration split's "
        f"{result.get('calibration_rows', 0)} benign texts, which chose the per-language bias, left out; "
        f"train split {result['train_rows']} texts; the shipped "
        f"model, as of its last retraining, is fitted on {result['fitted_rows']} of them, not on "
        f"{' or '.join(NOT_FITTED)}, which tune the signatures only). acc / P / R / FPR; after feedback = "
        "`learn_many` with the same set's (language's) train split; "
        "forgetting = the largest accuracy drop on another set's report split.",
        "",
        "| set (report split) | n | signatures alone | signatures + model (out of the box) | after feedback | forgetting |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    def cell(q: dict | None) -> str:
        if not q:
            return "–"
        return f"{_fmt(q['accuracy'])} / {_fmt(q['precision'])} / {_fmt(q['recall'])} / {_fmt(q['fpr'])}"

    for name, row in result["table"].items():
        q = row["out_of_the_box"]
        forget = row.get("forgetting")
        lines.append(f"| {name} | {q['n']} | {cell(row['signatures'])} | {cell(q)} | {cell(row.get('after_feedback'))} "
                     f"| {'–' if forget is None else f'{forget * 100:+.1f} pt' if forget else '0'} |")
    lines += ["", "Benign texts per language behind each FPR (report split; 95 % Wilson interval; own = written "
              "for the project):", "", "| language | benign texts (of them public) | false positives | FPR (95 % interval) |",
              "| --- | --- | --- | --- |"]
    for lang, (n, public, fp) in result.get("benign_per_language", {}).items():
        low, high = wilson(fp, n)
        lines.append(f"| {lang} | {n:,} ({public:,}) | {fp} | {fp / n:.3f} ({low:.3f}–{high:.3f}) |")
    c, f, m = result["scan_2kb"], result["scan_2kb_fixed_prompt"], result["model_memory"]
    lines += ["", f"CPU per scan of a 2 KB text (thread time, {c['n']} scans of report texts cut or padded to 2 KB): "
              f"p50 {c['p50_us']:.0f} µs, p99 {c['p99_us']:.0f} µs; the fixed 2 KB support prompt: p50 "
              f"{f['p50_us']:.0f} µs, p99 {f['p99_us']:.0f} µs; per text, the minimum of 7 scans (most of the "
              f"machine's noise removed), over the {result['scan_2kb_min_per_text']['n']} texts: p50 "
              f"{result['scan_2kb_min_per_text']['p50_us']:.0f} µs, p90 {result['scan_2kb_min_per_text']['p90_us']:.0f} µs, "
              f"p99 {result['scan_2kb_min_per_text']['p99_us']:.0f} µs. Model weights in memory: "
              f"{m['weights_bytes'] / 2 ** 20:.1f} MiB (peak while loading {m['load_peak_bytes'] / 2 ** 20:.1f} MiB)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
