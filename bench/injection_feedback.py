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


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
