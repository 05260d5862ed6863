"""Train the shipped injection model: ``python -m bench.train_injection`` writes
``detectors/injection/model.npz``.

Data: the **train** split of every set in :mod:`bench.injection_data` (never the report split).
Model: L2-regularised logistic regression over the hashed n-grams of
:mod:`detectors.injection.model`, fitted with scipy's L-BFGS (deterministic: fixed data order, no
random initialisation). Each (set, label, language) group's weight is scaled so that a big set
does not drown the small ones. ``--validate`` fits on 80 % of the train split and prints the
scores on the other 20 % (how the settings below were chosen; the report split stays unseen).

Dependencies at training time only: numpy and scipy (both already runtime dependencies of river).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from bench.injection_data import load_rows
from detectors.injection.model import MODEL_FILE, HashedLinearModel
from detectors.injection.normalize import normal_bytes, words_bytes

BITS = 18
WINDOW = 2048
L2 = 3e-4  # per unit of total sample weight
MAX_TRAIN_BYTES = 8192
BENIGN_WEIGHT = 2.0  # benign texts count double: false positives cost more than misses


def words_form(text: str) -> bytes:
    return words_bytes(normal_bytes(text)[0])


def design(texts: list[str], bits: int = BITS) -> sparse.csr_matrix:
    proto = HashedLinearModel(np.zeros(2 ** bits, dtype=np.float32), 0.0, window=WINDOW)
    indptr, indices, data = [0], [], []
    for text in texts:
        b, v = proto.vector(words_form(text)[:MAX_TRAIN_BYTES])
        indices.append(b)
        data.append(v)
        indptr.append(indptr[-1] + len(b))
    return sparse.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)),
                             shape=(len(texts), 2 ** bits))


def group_weights(rows: list[dict]) -> np.ndarray:
    groups = collections.Counter((r["set"], r["label"], r["lang"]) for r in rows)
    weights = np.array([1.0 / np.sqrt(groups[(r["set"], r["label"], r["lang"])]) for r in rows])
    weights *= np.array([BENIGN_WEIGHT if r["label"] == 0 else 1.0 for r in rows])
    return weights * len(rows) / weights.sum()


def fit(x: sparse.csr_matrix, y: np.ndarray, sw: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    s = 2.0 * y - 1.0
    lam = l2 * sw.sum()
    xt = x.T.tocsr()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
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


def train(rows: list[dict], bits: int = BITS, l2: float = L2) -> HashedLinearModel:
    x = design([r["text"] for r in rows], bits)
    y = np.array([r["label"] for r in rows], dtype=float)
    w, b = fit(x, y, group_weights(rows), l2)
    return HashedLinearModel(w.astype(np.float32), b, window=WINDOW)


def evaluate(model: HashedLinearModel, rows: list[dict]) -> None:
    stats: dict = collections.defaultdict(lambda: [0, 0, 0, 0])  # tp fp tn fn
    for r in rows:
        p = model.logit(words_form(r["text"])) >= 0
        cell = 0 if p and r["label"] else 1 if p else 2 if not r["label"] else 3
        for key in ((r["set"], "*"), ("*", r["lang"]), ("*", "*")):
            stats[key][cell] += 1
    for key in sorted(stats):
        tp, fp, tn, fn = stats[key]
        n = tp + fp + tn + fn
        print(f"{key[0]:>15} {key[1]:>3} n={n:5d} acc={(tp + tn) / n:.3f} "
              f"recall={tp / max(tp + fn, 1):.3f} fpr={fp / max(fp + tn, 1):.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--validate", action="store_true", help="fit on 80 %% of train, score the other 20 %%")
    ap.add_argument("--l2", type=float, default=L2)
    ap.add_argument("--bits", type=int, default=BITS)
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    args = ap.parse_args(argv)
    rows = [r for r in load_rows() if r["split"] == "train"]
    t0 = time.perf_counter()
    if args.validate:
        def val(r: dict) -> bool:
            return hashlib.sha256(("val" + r["text"]).encode()).digest()[0] < 52
        model = train([r for r in rows if not val(r)], args.bits, args.l2)
        print(f"fitted in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        evaluate(model, [r for r in rows if val(r)])
        return 0
    model = train(rows, args.bits, args.l2)
    model.save(args.out)
    print(f"{len(rows)} train rows, fitted in {time.perf_counter() - t0:.1f}s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
