"""How ``tracewatch feedback`` settings were chosen: feedback as a new user gets it, on train splits only.

``python -m bench.injection_feedback SET ['{"l2": 1e-4, "anchor_margin": 6}' ...]``: a model trained on
every train split except ``SET``'s, and without the validation slice of ``bench.train_injection
--validate``; then :meth:`InjectionScanner.learn_many` with 80 % of ``SET``'s train split (each
setting given as a JSON object of :meth:`HashedLinearModel.learn_many` keywords, plus ``per_group``
for the replay sample); printed: accuracy on the other 20 % of ``SET``'s train split before and after,
and the accuracy change on every other set's validation slice (texts the model never saw: forgetting).
The report split is not read. Settings were chosen on SET = own and jailbreak_wild; deepset's
figures in ``docs/injection.md`` are from ``python -m bench.injection --new-user deepset``.
Trains a model (about a minute).

``python -m bench.injection_feedback --seen SET [SETTINGS ...]``: the validation slice's copy of
``bench.injection``'s "after feedback" and "forgetting" cells: a model trained on every train split
without the validation slice (``SET``'s included, as ``bench.train_injection --validate``), then
``learn_many`` with ``SET``'s rows outside the validation slice; printed: ``SET``'s validation slice
right before and after, the texts of other sets' validation slices that feedback turned wrong (and
right), and the mean change of the other sets' attacks' log-odds.
"""

from __future__ import annotations

import collections
import copy
import functools
import hashlib
import json
import sys

from bench.injection_data import load_rows
from bench.train_injection import REPLAY_PER_GROUP, _stratified, train, words_form
from detectors.injection import InjectionScanner
from detectors.injection.signatures import SignatureLibrary


def _validation(row: dict) -> bool:  # the slice of bench.train_injection --validate
    return hashlib.sha256(("val" + row["text"]).encode()).digest()[0] < 52


def _held(row: dict) -> bool:  # 20 % of SET's train split, scored after feedback with the other 80 %
    return hashlib.sha256(("fbval" + row["text"]).encode()).digest()[0] < 52


def _accuracy(scanner: InjectionScanner, rows: list[dict]) -> float:
    return sum((scanner.scan(r["text"]).verdict == "injection") == bool(r["label"]) for r in rows) / len(rows)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "--seen":
        return seen(argv[1], [json.loads(a) for a in argv[2:]] or [{}])
    name, settings = argv[0], [json.loads(a) for a in argv[1:]] or [{}]
    rows = [r for r in load_rows() if r["split"] == "train"]
    base_rows = [r for r in rows if r["set"] != name and not _validation(r)]
    model = train(base_rows)
    feedback = [r for r in rows if r["set"] == name and not _held(r)]
    held = [r for r in rows if r["set"] == name and _held(r)]
    others: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        if r["set"] not in (name, "own_train") and _validation(r):
            others[r["set"]].append(r)
    library = SignatureLibrary.load()
    base = InjectionScanner(library, copy.deepcopy(model))
    before, before_others = _accuracy(base, held), {k: _accuracy(base, v) for k, v in others.items()}
    print(f"{name}: feedback {len(feedback)} rows, held out {len(held)}; before {before:.3f}")
    for params in settings:
        params = dict(params)
        per_group = params.pop("per_group", REPLAY_PER_GROUP)
        replay = [(words_form(r["text"])[:1024], r["label"]) for r in _stratified(base_rows, per_group)]
        scanner = InjectionScanner(library, copy.deepcopy(model))
        scanner.classifier.learn_many = functools.partial(scanner.classifier.learn_many, **params)
        scanner.learn_many([(r["text"], r["label"]) for r in feedback], replay=replay)
        drops = {k: before_others[k] - _accuracy(scanner, v) for k, v in others.items()}
        worst = max(drops, key=drops.get)
        print(f"{params} per_group={per_group}: {before:.3f} -> {_accuracy(scanner, held):.3f}; worst other "
              f"{worst} {-drops[worst] * 100:+.1f} pt; "
              + " ".join(f"{k} {-d * 100:+.1f}" for k, d in sorted(drops.items())))
    return 0


def seen(name: str, settings: list[dict]) -> int:
    import math  # noqa: PLC0415

    from bench.injection_data import NOT_FITTED  # noqa: PLC0415

    rows = [r for r in load_rows() if r["split"] == "train"]
    fit = [r for r in rows if r["set"] not in NOT_FITTED and not _validation(r)]
    model = train(fit)
    replay = [(words_form(r["text"])[:1024], r["label"]) for r in _stratified(fit, REPLAY_PER_GROUP)]
    library = SignatureLibrary.load()
    val = [r for r in rows if _validation(r) and r["set"] != "own_train"]
    base = InjectionScanner(library, copy.deepcopy(model))

    def logit(score: float) -> float:
        score = min(max(score, 1e-12), 1 - 1e-12)
        return math.log(score / (1 - score))

    before = {id(r): base.scan(r["text"]).score for r in val}
    for params in settings:
        scanner = InjectionScanner(library, copy.deepcopy(model))
        scanner.classifier.learn_many = functools.partial(scanner.classifier.learn_many, **params)
        scanner.learn_many([(r["text"], r["label"]) for r in rows if r["set"] == name and not _validation(r)],
                           replay=replay)
        after = {id(r): scanner.scan(r["text"]).score for r in val}
        right0 = {id(r): (before[id(r)] >= 0.5) == bool(r["label"]) for r in val}
        right1 = {id(r): (after[id(r)] >= 0.5) == bool(r["label"]) for r in val}
        own = [r for r in val if r["set"] == name]
        others = [r for r in val if r["set"] != name]
        lost = collections.Counter(r["set"] for r in others if right0[id(r)] and not right1[id(r)])
        won = collections.Counter(r["set"] for r in others if right1[id(r)] and not right0[id(r)])
        attacks = [logit(after[id(r)]) - logit(before[id(r)]) for r in others if r["label"]]
        print(f"{params}: {name} {sum(right0[id(r)] for r in own)} -> {sum(right1[id(r)] for r in own)} of "
              f"{len(own)} right; other sets turned wrong {dict(lost)}, right {dict(won)}; other attacks' "
              f"log-odds {sum(attacks) / len(attacks):+.3f} on average", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
