"""Train the shipped injection model: ``python -m bench.train_injection`` writes
``detectors/injection/model.npz``.

Data: the **train** split of every set in :mod:`bench.injection_data` (never the report split).
Model: L2-regularised logistic regression over the hashed n-grams of
:mod:`detectors.injection.model`, fitted with scipy's L-BFGS (deterministic: fixed data order, no
random initialisation). Each (set, label, language) group's weight is scaled so that a big set
does not drown the small ones. ``--validate`` fits on 80 % of the train split and prints the
scores on the other 20 % (how the settings below were chosen; the report split stays unseen;
``--by-group`` holds out whole own-set templates, as the report split does).

Dependencies at training time only: numpy and scipy (both already runtime dependencies of river).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from bench.injection_data import NOT_FITTED, load_rows
from detectors.injection.model import (MODEL_FILE, PIVOT_GAP, PIVOT_STEPS, REPLAY_FILE, HashedLinearModel, Pivots,
                                       feature_positions)
from detectors.injection.normalize import normal_bytes, words_bytes
from detectors.injection.scanner import MAX_SIGNATURE_LOGIT, MIN_SIGNATURE_LOGIT, InjectionScanner
from detectors.injection.signatures import SignatureLibrary

BITS = 18
WINDOW = 2048
L2 = 3e-6  # per unit of total sample weight (chosen with --validate)
MAX_TRAIN_BYTES = 8192
BENIGN_WEIGHT = 2.0  # benign texts count double: false positives cost more than misses
LONG_PER_LANG = 0
REPEAT_PER_LANG = 0
REPLAY_PER_GROUP = 25
LANG_BENIGN_RATIO = 3.0  # per language, benign weight at most this times the attacks' (chosen with --validate)
WITH_RULES = True  # fit the model with the rules' weights as offsets (the scanner adds them)
PIVOTS = True  # add the cross-lingual pivot concepts of detectors/injection/pivots.txt as features
PIVOT_GAP_WORDS = PIVOT_GAP
PIVOT_PAIR_STEPS = PIVOT_STEPS
PIVOT_VIEW = 0.0  # weight of the pivot view (each text's pivot features alone) against the texts


def pivots() -> Pivots | None:
    return Pivots.load(gap=PIVOT_GAP_WORDS, steps=PIVOT_PAIR_STEPS) if PIVOTS else None


def words_form(text: str) -> bytes:
    return words_bytes(normal_bytes(text)[0])


def design(texts: list[str], bits: int = BITS, view: bool = False):
    """The texts' feature matrix (rows: counts / norm); with ``view``, also the **pivot view**: the same
    texts' pivot features alone (same norm) and which texts have any."""
    proto = HashedLinearModel(np.zeros(2 ** bits, dtype=np.float32), 0.0, window=WINDOW, pivots=pivots())
    indptr, indices, data = [0], [], []
    vptr, vind, vdat, vhas = [0], [], [], []
    for text in texts:
        form = words_form(text)[:MAX_TRAIN_BYTES]
        b, v = proto.vector(form)
        indices.append(b)
        data.append(v)
        indptr.append(indptr[-1] + len(b))
        if view:
            full, _ = feature_positions(form, bits, False, proto.pivots)
            plain = len(feature_positions(form, bits, False, None)[0])
            ub, uc = np.unique(full[plain:], return_counts=True)
            vind.append(ub)
            vdat.append(uc / proto.norm(max(len(full), 1)))
            vptr.append(vptr[-1] + len(ub))
            vhas.append(len(ub) > 0)
    x = sparse.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)),
                          shape=(len(texts), 2 ** bits))
    if not view:
        return x
    xv = sparse.csr_matrix((np.concatenate(vdat), np.concatenate(vind), np.array(vptr)), shape=(len(texts), 2 ** bits))
    return x, xv, np.array(vhas)


def group_weights(rows: list[dict]) -> np.ndarray:
    groups = collections.Counter((r["set"], r["label"], r["lang"]) for r in rows)
    weights = np.array([1.0 / np.sqrt(groups[(r["set"], r["label"], r["lang"])]) for r in rows])
    weights *= np.array([BENIGN_WEIGHT if r["label"] == 0 else 1.0 for r in rows])
    if LANG_BENIGN_RATIO is not None:
        for lang in {r["lang"] for r in rows}:
            benign = np.array([r["lang"] == lang and r["label"] == 0 for r in rows])
            attacks = np.array([r["lang"] == lang and r["label"] == 1 for r in rows])
            cap = LANG_BENIGN_RATIO * weights[attacks].sum()
            if attacks.any() and weights[benign].sum() > cap:
                weights[benign] *= cap / weights[benign].sum()
    return weights * len(rows) / weights.sum()


def rule_offsets(texts: list[str]) -> np.ndarray:
    """Per text, what the signatures add to the scanner's log-odds (``clip(Σ rule weights, -3, 8)``),
    the offset the model is fitted with, so that model + rules is the fitted logistic regression."""
    scanner = InjectionScanner(SignatureLibrary.load(), HashedLinearModel(np.zeros(2, dtype=np.float32), 0.0))
    forms = scanner._form_sets()
    out = np.zeros(len(texts))
    for i, text in enumerate(texts):
        normal, cleaned, invisible, hidden = normal_bytes(text)
        hits = scanner._signature_hits(forms, normal, words_bytes(normal), text, cleaned, invisible, hidden)
        if hits:
            out[i] = max(MIN_SIGNATURE_LOGIT, min(scanner._weight(hits), MAX_SIGNATURE_LOGIT))
    return out


def fit(x: sparse.csr_matrix, y: np.ndarray, sw: np.ndarray, l2: float = L2,
        offset: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    s = 2.0 * y - 1.0
    off = np.zeros(len(y)) if offset is None else offset
    lam = l2 * sw.sum()
    xt = x.T.tocsr()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = x @ w + b + off
        m = s * z
        lo = np.logaddexp(0.0, -m)
        g = -s * sw / (1.0 + np.exp(m))
        grad = np.empty_like(params)
        grad[:-1] = xt @ g + 2 * lam * w
        grad[-1] = g.sum()
        return float(sw @ lo + lam * w @ w), grad

    res = optimize.minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B",
                            options={"maxiter": 500})
    return res.x[:-1], float(res.x[-1])


def augment(rows: list[dict], seed: int = 0) -> list[dict]:
    """Long benign texts made of benign training texts, so that the model sees texts as long as its
    windows: per language, ``LONG_PER_LANG`` concatenations of random benign texts (1.5-6 KB) and
    ``REPEAT_PER_LANG`` benign texts repeated to 2-4 KB. Deterministic."""
    rng = random.Random(seed)
    out = []
    for lang in sorted({r["lang"] for r in rows}):
        benign = [r["text"] for r in rows if r["label"] == 0 and r["lang"] == lang]
        if len(benign) < 5:
            continue
        for _ in range(LONG_PER_LANG):
            target, parts = rng.randint(1500, 6000), []
            while sum(map(len, parts)) < target:
                parts.append(rng.choice(benign))
            out.append({"text": rng.choice(["\n\n", "\n", " "]).join(parts), "label": 0, "set": "augment", "lang": lang})
        for _ in range(REPEAT_PER_LANG):
            text = rng.choice(benign)
            out.append({"text": " ".join([text] * (rng.randint(2048, 4096) // (len(text) + 1) + 1)), "label": 0,
                        "set": "augment", "lang": lang})
    return out


def write_replay(rows: list[dict], path: Path = REPLAY_FILE, per_group: int = REPLAY_PER_GROUP) -> int:
    """A fixed, stratified sample of the training rows (at most ``per_group`` per set, label and
    language; words forms cut to 1 KB) for feedback to replay (``replay_sample``)."""
    sample = _stratified(rows, per_group)
    lines = []
    for r in sample:
        words = words_form(r["text"])[:1024].decode("utf-8", "ignore")
        lines.append(json.dumps({"words": words, "label": r["label"]}, ensure_ascii=False) + "\n")
    path.write_bytes(gzip.compress("".join(lines).encode("utf-8"), compresslevel=9, mtime=0))  # reproducible
    return len(sample)


def train(rows: list[dict], bits: int = BITS, l2: float = L2) -> HashedLinearModel:
    rows = rows + augment(rows)
    texts = [r["text"] for r in rows]
    y = np.array([r["label"] for r in rows], dtype=float)
    sw = group_weights(rows)
    offsets = rule_offsets(texts) if WITH_RULES else np.zeros(len(rows))
    if PIVOTS and PIVOT_VIEW > 0:
        # The pivot view: each text with a pivot concept once more, with its pivot features alone (and
        # its rules), at PIVOT_VIEW of its weight, so that the concepts must tell attacks from benign
        # texts by themselves and carry weight into the languages with few attacks.
        x, xv, has = design(texts, bits, view=True)
        df = np.asarray((x != 0).sum(axis=0)).ravel()
        x = sparse.vstack([x, xv[has]]).tocsr()
        y = np.concatenate([y, y[has]])
        sw = np.concatenate([sw, PIVOT_VIEW * sw[has]])
        offsets = np.concatenate([offsets, offsets[has]])
    else:
        x = design(texts, bits)
        df = np.asarray((x != 0).sum(axis=0)).ravel()
    w, b = fit(x, y, sw, l2, offsets if WITH_RULES else None)
    model = HashedLinearModel(w.astype(np.float32), b, window=WINDOW, pivots=pivots())
    model.df = df.astype(np.float32)  # texts per bucket (feedback's prior)
    return model


def evaluate(model: HashedLinearModel, rows: list[dict], label: str = "") -> dict:
    """Accuracy, recall and FPR of signatures + ``model`` (the scanner's verdict) per set and language."""
    scanner = InjectionScanner(SignatureLibrary.load(), model)
    stats: dict = collections.defaultdict(lambda: [0, 0, 0, 0])  # tp fp tn fn
    for r in rows:
        p = scanner.scan(r["text"]).verdict == "injection"
        cell = 0 if p and r["label"] else 1 if p else 2 if not r["label"] else 3
        for key in ((r["set"], "*"), ("*", r["lang"]), ("*", "*")):
            stats[key][cell] += 1
    out = {}
    for key in sorted(stats):
        tp, fp, tn, fn = stats[key]
        n = tp + fp + tn + fn
        out[key] = (tp + tn) / n
        if label is not None:
            print(f"{label}{key[0]:>15} {key[1]:>3} n={n:5d} acc={(tp + tn) / n:.3f} "
                  f"recall={tp / max(tp + fn, 1):.3f} fpr={fp / max(fp + tn, 1):.3f}")
    return out


def validate_feedback(model: HashedLinearModel, fit_rows: list[dict], val_rows: list[dict]) -> None:
    """Feedback on the validation slice: for each set, learn its fit rows (as ``tracewatch feedback``
    does, replaying a sample of the other fit rows) and score every set's validation rows."""
    import copy

    replay = [(words_form(r["text"])[:1024], r["label"]) for r in _stratified(fit_rows, REPLAY_PER_GROUP)]
    base = evaluate(model, val_rows, None)
    for name in sorted({r["set"] for r in fit_rows}):
        fb = [r for r in fit_rows if r["set"] == name]
        scanner = InjectionScanner(SignatureLibrary.load(), copy.deepcopy(model))
        scanner.learn_many([(r["text"], r["label"]) for r in fb], replay=replay)  # as `tracewatch feedback`
        after = evaluate(scanner.classifier, val_rows, None)
        own = after.get((name, "*"))
        drops = {k: base[k] - after[k] for k in base if k[1] == "*" and k[0] not in (name, "*")}
        worst = max(drops.items(), key=lambda kv: kv[1]) if drops else (None, 0.0)
        print(f"feedback {name:>15}: own {base.get((name, '*'), 0):.3f} -> {own if own is None else round(own, 3)}; "
              f"worst other {worst[0]} {-worst[1] * 100:+.1f} pt")


def _stratified(rows: list[dict], per_group: int) -> list[dict]:
    rng = random.Random(1)
    by_group: dict = collections.defaultdict(list)
    for r in rows:
        by_group[(r["set"], r["label"], r["lang"])].append(r)
    return [r for key in sorted(by_group) for r in rng.sample(by_group[key], min(per_group, len(by_group[key])))]


def main(argv: list[str] | None = None) -> int:
    global PIVOTS, PIVOT_GAP_WORDS, PIVOT_PAIR_STEPS, PIVOT_VIEW, LANG_BENIGN_RATIO
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--validate", action="store_true", help="fit on 80 %% of train, score the other 20 %%")
    ap.add_argument("--feedback", action="store_true", help="with --validate: feedback per set, forgetting")
    ap.add_argument("--by-group", action="store_true",
                    help="with --validate: hold out whole groups (the own set's templates), as the report split does")
    ap.add_argument("--l2", type=float, default=L2)
    ap.add_argument("--lang-benign-ratio", type=float, default=None)
    ap.add_argument("--bits", type=int, default=BITS)
    ap.add_argument("--no-pivots", action="store_true", help="without the cross-lingual pivot features")
    ap.add_argument("--pivot-gap", type=int, default=PIVOT_GAP, help="words between two concepts of a pair, at most")
    ap.add_argument("--pivot-steps", type=int, default=PIVOT_STEPS, help="pairs with the next N concepts")
    ap.add_argument("--pivot-view", type=float, default=PIVOT_VIEW, help="weight of the pivot view (0: none)")
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    ap.add_argument("--without", action="append", default=[], metavar="SET",
                    help="leave a set's train split out of the fit (repeatable; its rows still tune signatures)")
    args = ap.parse_args(argv)
    rows = [r for r in load_rows() if r["split"] == "train" and r["set"] not in (*NOT_FITTED, *args.without)]
    PIVOTS, PIVOT_GAP_WORDS, PIVOT_PAIR_STEPS, PIVOT_VIEW = (not args.no_pivots, args.pivot_gap, args.pivot_steps,
                                                             args.pivot_view)
    if args.lang_benign_ratio is not None:
        LANG_BENIGN_RATIO = args.lang_benign_ratio
    t0 = time.perf_counter()
    if args.validate:
        def val(r: dict) -> bool:
            key = (r.get("group") if args.by_group else None) or r["text"]
            return hashlib.sha256(("val" + key).encode()).digest()[0] < 52
        model = train([r for r in rows if not val(r)], args.bits, args.l2)
        print(f"fitted in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        evaluate(model, [r for r in rows if val(r)])
        if args.feedback:
            validate_feedback(model, [r for r in rows if not val(r)], [r for r in rows if val(r)])
        return 0
    model = train(rows, args.bits, args.l2)
    model.save(args.out)
    n_replay = write_replay(rows, args.out.with_name(REPLAY_FILE.name))
    print(f"replay sample: {n_replay} rows", file=sys.stderr)
    print(f"{len(rows)} train rows, fitted in {time.perf_counter() - t0:.1f}s -> {args.out}", file=sys.stderr)
    if args.out == MODEL_FILE:  # the shipped per-language bias names the model it was chosen for
        print("the per-language bias must be chosen again for this model (the scanner refuses a stale one): "
              "python -m bench.injection_calibrate", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
