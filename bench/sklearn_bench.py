"""nnext.sklearn.MLPClassifier against scikit-learn's MLPClassifier: the same
settings and epochs, fit time and test accuracy over 5 seeds.

    python bench/sklearn_bench.py [--epochs-digits 50] [--epochs-big 3] [--seeds 5]
                                  [--dtype float64] [--out bench/sklearn_results.json]

Cases: scikit-learn's digits (1,797 8x8 images, 64-100-10, 75/25 split), and a
synthetic 60,000-row 784-300-100-10 problem (labels from a random teacher
network, 10,000 test rows).  Both estimators get the same parameters
(solver='adam', the defaults otherwise, tol=0 and n_iter_no_change=max_iter so
that every run does exactly the given epochs) and, per seed, the same
random_state: they start from the same weights (scikit-learn's draw) and
differ only in the shuffling order.  The two alternate, seed by seed, in one
process; the times are the medians of fit() over the seeds.  Threads: the
defaults (nnext: NNEXT_NUM_THREADS or the CPU count; scikit-learn: OpenBLAS's);
``OPENBLAS_NUM_THREADS=1 NNEXT_NUM_THREADS=1`` gives one thread each, the
comparison least disturbed by other load on the machine.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import nnext  # noqa: E402
from nnext import sklearn as nk  # noqa: E402


def digits(dtype):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(dtype)
    return train_test_split(X, y, test_size=0.25, random_state=0), (100,)


def synthetic(dtype, n=60000, n_test=10000, seed=0):
    """784 standard-normal features; the label is the argmax of a random
    784-300-100-10 tanh teacher with a little noise (learnable, not trivial)."""
    rs = np.random.RandomState(seed)
    X = rs.standard_normal((n + n_test, 784))
    h = np.tanh(X @ rs.standard_normal((784, 300)) / 28)
    h = np.tanh(h @ rs.standard_normal((300, 100)) / 17)
    y = np.argmax(h @ rs.standard_normal((100, 10)) + 0.3 * rs.standard_normal((n + n_test, 10)), 1)
    X = X.astype(dtype)
    return (X[:n], X[n:], y[:n], y[n:]), (300, 100)


def run_case(name, data, hidden, epochs, seeds, dtype):
    (Xtr, Xte, ytr, yte) = data
    params = dict(hidden_layer_sizes=hidden, max_iter=epochs, tol=0.0, n_iter_no_change=epochs)
    times = {"scikit-learn": [], "nnext": []}
    acc = {"scikit-learn": [], "nnext": []}
    for seed in range(seeds):
        order = [("scikit-learn", sk.MLPClassifier(random_state=seed, **params)),
                 ("nnext", nk.MLPClassifier(random_state=seed, dtype=dtype, **params))]
        if seed % 2:
            order.reverse()
        for who, est in order:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t = time.perf_counter()
                est.fit(Xtr, ytr)
                times[who].append(time.perf_counter() - t)
            assert est.n_iter_ == epochs
            acc[who].append(float(est.score(Xte, yte)))
            print(f"  {name} seed {seed} {who:12s} {times[who][-1]:8.3f} s  accuracy {acc[who][-1]:.4f}",
                  flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"case": name, "epochs": epochs, "rows": len(Xtr), "sizes": [Xtr.shape[1], *hidden, 10],
            "dtype": dtype, "times": times, "accuracy": acc, "median_s": med,
            "speedup": med["scikit-learn"] / med["nnext"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs-digits", type=int, default=50)
    ap.add_argument("--epochs-big", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--cases", default="digits,synthetic")
    ap.add_argument("--out", default=os.path.join(HERE, "sklearn_results.json"))
    args = ap.parse_args()
    results = []
    for case in args.cases.split(","):
        if case == "digits":
            data, hidden = digits(args.dtype)
            results.append(run_case("digits", data, hidden, args.epochs_digits, args.seeds, args.dtype))
        else:
            data, hidden = synthetic(args.dtype)
            results.append(run_case("synthetic", data, hidden, args.epochs_big, args.seeds, args.dtype))
    print("\n| case | epochs | scikit-learn | nnext | speed-up | accuracy scikit-learn | accuracy nnext |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        a, b = (r["accuracy"][k] for k in ("scikit-learn", "nnext"))
        print(f"| {r['case']} {'-'.join(map(str, r['sizes']))} {r['dtype']}, {r['rows']:,} rows | "
              f"{r['epochs']} | {r['median_s']['scikit-learn']:.3f} s | {r['median_s']['nnext']:.3f} s | "
              f"{r['speedup']:.1f}x | {np.mean(a):.4f} ± {np.std(a):.4f} | {np.mean(b):.4f} ± {np.std(b):.4f} |")
    import sklearn
    meta = {"python": platform.python_version(), "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "nnext_threads": nnext.get_num_threads(),
            "cpus": os.cpu_count(), "machine": platform.machine(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "load_average": os.getloadavg()}
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
