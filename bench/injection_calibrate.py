"""Choose the per-language bias on the **calibration** split and write ``detectors/injection/language_bias.json``.

``python -m bench.injection_calibrate`` scores the calibration split (half the benign texts of the report
split, :func:`bench.injection_data.in_calibration`; never trained on, no longer reported) with the shipped
scanner without a bias, chooses one bias per language by the rule below, writes the file (with the digest
of the model it was chosen for) and prints the calibration figures. ``--report`` prints, once the file is
written, the report split's figures per language without and with it (the report split is never read to
choose anything). ``--dry-run`` writes nothing.

The rule (fixed before the report split was scored with a bias): for each language L of en, de, fr, es,
the bias is the largest b of 0, 0.01, …, ``MAX_BIAS`` such that, for every b' ≤ b, adding b' to the texts the
scanner guesses as L (:mod:`detectors.injection.language`; the other languages unbiased)

(a) flags, among the calibration texts of each labelled language M, at most max(what it flagged without
    a bias, floor(``RATE`` × their number)) — ``RATE`` is 0.5 %, half the 1 % target, as the margin for
    a report split of the same size; and
(b) flags, among the calibration texts of each set and language with at least ``MIN_SET`` of them, at most
    max(what it flagged without a bias, floor(1 % × their number)): no one kind of text pays for the rest.

Then the four biases together are checked against (a) and (b) once more (a text guessed as another
language than its label's gets that language's bias).

``--report`` checks the one thing the report split may still decide: a bias that raises its language's
report FPR above 1 % is not shipped (``VETOED``: the bias of that language is 0, whatever the rule gives).
German was vetoed so in the round that introduced the bias: 0.40 took its report FPR from 0.0051 to 0.0104
(German fortunes of files the calibration split does not hold); its recall was 0.862 without a bias.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.injection_data import FORTUNES_FILE, load_rows  # noqa: E402
from detectors.injection import InjectionScanner  # noqa: E402
from detectors.injection.language import LANGUAGES, guess  # noqa: E402
from detectors.injection.normalize import normal_bytes, words_bytes  # noqa: E402
from detectors.injection.scanner import (LANGUAGE_BIAS_FILE, LANGUAGE_BIAS_FORMAT,  # noqa: E402
                                         LANGUAGE_BIAS_VERSION)

RATE = 0.005
SET_RATE = 0.01
MIN_SET = 100
MAX_BIAS = 1.5
STEP = 0.01
REPORT_FPR_LIMIT = 0.01
VETOED = {"de": "0.40 raised the report split's German FPR from 0.0051 to 0.0104 (84 -> 171 of 16,368)",
          "en": "0.11 caught a spikee attack by 0.004 log-odds that feedback with any other set's train split "
                "undid: forgetting 1.6 points (1 of 64), above the 1-point limit"}


def scored(scanner: InjectionScanner, rows: list[dict]) -> list[dict]:
    """Each row with ``z`` (the scanner's log-odds without a language bias) and ``guess`` (its language)."""
    out = []
    for r in rows:
        score = scanner.assess(r["text"])[0]
        score = min(max(score, 1e-15), 1 - 1e-15)
        words = words_bytes(normal_bytes(r["text"])[0])
        out.append({**r, "z": math.log(score / (1 - score)), "guess": guess(words, r["text"])})
    return out


def flagged(rows: list[dict], bias: dict[str, float]) -> list[bool]:
    return [r["z"] + bias.get(r["guess"], 0.0) >= 0 for r in rows]


def counts(rows: list[dict], bias: dict[str, float]) -> dict[tuple, list[int]]:
    """(labelled language,) and (set, labelled language) -> [flagged, texts] among ``rows`` (benign)."""
    out: dict[tuple, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r, hit in zip(rows, flagged(rows, bias)):
        for key in ((r["lang"],), (r["set"], r["lang"])):
            out[key][0] += hit
            out[key][1] += 1
    return out


def admissible(rows: list[dict], bias: dict[str, float], zero: dict[tuple, list[int]]) -> bool:
    for key, (k, n) in counts(rows, bias).items():
        k0 = zero[key][0]
        if len(key) == 1 and key[0] in LANGUAGES and k > max(k0, math.floor(RATE * n)):
            return False
        if len(key) == 2 and n >= MIN_SET and k > max(k0, math.floor(SET_RATE * n)):
            return False
    return True


def choose(rows: list[dict]) -> dict[str, float]:
    zero = counts(rows, {})
    chosen = {}
    for lang in LANGUAGES:
        best = 0.0
        for i in range(1, round(MAX_BIAS / STEP) + 1):
            b = round(i * STEP, 2)
            if not admissible(rows, {lang: b}, zero):
                break
            best = b
        chosen[lang] = best
    return chosen


def shipped(chosen: dict[str, float]) -> dict[str, float]:
    """The chosen biases with the vetoed languages' set to 0."""
    return {lang: 0.0 if lang in VETOED else b for lang, b in chosen.items()}


def per_language(rows: list[dict], bias: dict[str, float]) -> dict[str, dict]:
    """Per labelled language: texts, attacks caught, benign flagged; accuracy, recall, FPR."""
    out = {}
    hits = flagged(rows, bias)
    for lang in LANGUAGES:
        pairs = [(r["label"], h) for r, h in zip(rows, hits) if r["lang"] == lang]
        attacks = sum(1 for y, _ in pairs if y == 1)
        benign = len(pairs) - attacks
        tp = sum(1 for y, h in pairs if y == 1 and h)
        fp = sum(1 for y, h in pairs if y == 0 and h)
        out[lang] = {"n": len(pairs), "attacks": attacks, "tp": tp, "benign": benign, "fp": fp,
                     "accuracy": (tp + benign - fp) / len(pairs) if pairs else None,
                     "recall": tp / attacks if attacks else None, "fpr": fp / benign if benign else None}
    return out


def _cell(q: dict) -> str:
    f = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    return (f"{f(q['accuracy'])} / {f(q['recall'])} ({q['tp']} of {q['attacks']}) / "
            f"{f(q['fpr'])} ({q['fp']} of {q['benign']})")


def table(title: str, rows: list[dict], bias: dict[str, float]) -> str:
    before, after = per_language(rows, {}), per_language(rows, bias)
    lines = [f"{title}: acc / recall (caught) / FPR (flagged), without → with the bias", "",
             "| language | bias | without | with |", "| --- | --- | --- | --- |"]
    for lang in LANGUAGES:
        lines.append(f"| {lang} | {bias.get(lang, 0.0):.2f} | {_cell(before[lang])} | {_cell(after[lang])} |")
    return "\n".join(lines)


def set_table(rows: list[dict], bias: dict[str, float]) -> str:
    """Benign texts flagged per set and language, without → with the bias."""
    zero, with_bias = counts(rows, {}), counts(rows, bias)
    lines = ["| set | language | texts | flagged without → with |", "| --- | --- | --- | --- |"]
    for key in sorted(k for k in zero if len(k) == 2):
        (k0, n), k1 = zero[key], with_bias[key][0]
        if k0 or k1:
            lines.append(f"| {key[0]} | {key[1]} | {n} | {k0} → {k1} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", action="store_true", help="the report split without and with the shipped bias")
    ap.add_argument("--dry-run", action="store_true", help="choose and print, write nothing")
    args = ap.parse_args(argv if argv is not None else [])
    if not FORTUNES_FILE.exists():
        raise SystemExit(f"{FORTUNES_FILE} is missing: the calibration split needs it (docs/injection.md, fortunes)")
    rows = load_rows()
    scanner = InjectionScanner.load(language_bias={})
    if args.report:
        saved = json.loads(LANGUAGE_BIAS_FILE.read_text(encoding="utf-8"))
        if saved["model"] != scanner.classifier.digest:
            raise SystemExit("the shipped bias was chosen for another model: run without --report first")
        report = scored(scanner, [r for r in rows if r["split"] == "report"])
        out = {}
        for name, bias in (("as chosen", saved["chosen"]), ("shipped", saved["bias"])):
            print(table(f"Report split, the bias {name}", report, bias))
            print()
            print(set_table([r for r in report if r["label"] == 0], bias))
            with_bias = per_language(report, bias)
            over = [lang for lang, q in with_bias.items() if q["fpr"] is not None and q["fpr"] > REPORT_FPR_LIMIT
                    and q["fpr"] > per_language(report, {})[lang]["fpr"]]
            print(f"\nraised above {REPORT_FPR_LIMIT:.0%} FPR on the report split: {', '.join(over) or 'none'}\n")
            out[name] = {"bias": bias, "without": per_language(report, {}), "with": with_bias, "over": over}
        return out
    calibration = scored(scanner, [r for r in rows if r["split"] == "calibration"])
    chosen = choose(calibration)
    bias = shipped(chosen)
    print(f"chosen by the rule: {chosen}; shipped (vetoed: {', '.join(VETOED) or 'none'}): {bias}\n")
    together_ok = admissible(calibration, bias, counts(calibration, {}))
    print(table("Calibration split (benign only)", calibration, bias))
    print()
    print(set_table(calibration, bias))
    print(f"\nthe four biases together keep (a) and (b): {together_ok}")
    if not args.dry_run:
        data = {"format": LANGUAGE_BIAS_FORMAT, "version": LANGUAGE_BIAS_VERSION, "model": scanner.classifier.digest,
                "bias": bias, "chosen": chosen, "vetoed": VETOED,
                "chosen_by": "python -m bench.injection_calibrate (docs/injection.md, 'Per-language bias')",
                "calibration": {lang: {"texts": q["benign"], "flagged_without": q["fp"]}
                                for lang, q in per_language(calibration, {}).items()}}
        LANGUAGE_BIAS_FILE.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {LANGUAGE_BIAS_FILE}")
    return {"bias": bias, "together_ok": together_ok}


if __name__ == "__main__":
    main(sys.argv[1:])
