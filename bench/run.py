"""nnext benchmark suite: cases A-E and L of bench/README.md, in one process.

    python bench/run.py [--quick] [--repeats N] [--out bench/results.json]
    python bench/run.py --cases L     # issue 14 alone: updates only its section of RESULTS.md

Every case runs nnext and its competitors alternately, several times, and
reports median times and ratios.  Writes JSON (--out), a markdown table to
bench/RESULTS.md (and stdout) and, with matplotlib, bench/scaling.png.
numpy is benchmarked with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as the
environment sets them; a subprocess repeats the numpy parts of A and D with
both unset, for the note in RESULTS.md.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

try:
    import torch
except ImportError:  # the cases skip it with a note
    torch = None


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


SETTLE_S = 0.3


def alternate(runners, repeats, settle=0.0):
    """runners: {name: f} where f() returns seconds for one run.  Runs them in
    turn (rotating the order each round); returns {name: [times]}.

    settle: seconds of sleep before each run.  OpenBLAS's worker threads
    busy-wait for about 0.1 s after a product (and libgomp's, PyTorch's, for a
    while too); on 2 cores whatever runs next in the same process would share
    the machine with them, so the multi-threaded cases let them fall asleep."""
    names = list(runners)
    times = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            if settle:
                time.sleep(settle)
            times[n].append(runners[n]())
    return times


def summarise(times):
    return {n: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t), "runs": len(t)}
            for n, t in times.items()}


def timed(f):
    def run():
        t = time.perf_counter()
        f()
        return time.perf_counter() - t
    return run


# ------------------------------------------------------------------ case A

TRASK_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
TRASK_Y = np.array([[0], [1], [1], [0]])


def trask_numpy(steps):
    X, y = TRASK_X, TRASK_Y
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 4)) - 1
    syn1 = 2 * np.random.random((4, 1)) - 1

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    for _ in range(steps):
        l1 = sigmoid(X @ syn0)
        l2 = sigmoid(l1 @ syn1)
        l2_delta = (y - l2) * l2 * (1 - l2)
        l1_delta = (l2_delta @ syn1.T) * l1 * (1 - l1)
        syn1 += l1.T @ l2_delta
        syn0 += X.T @ l1_delta
    return syn0, syn1


def case_a(quick, repeats):
    from nnext import Network
    steps = 6000 if quick else 60000

    def nn():
        Network([3, 4, 1], bias=False, seed=1).fit(TRASK_X, TRASK_Y, epochs=steps, lr=1.0, loss="sse")

    t = summarise(alternate({"nnext": timed(nn), "numpy script": timed(lambda: trask_numpy(steps))}, repeats))
    return {"steps": steps, "times": t,
            "ratio_numpy_over_nnext": t["numpy script"]["median_s"] / t["nnext"]["median_s"],
            "nnext_ns_per_step": t["nnext"]["median_s"] / steps * 1e9, "target": 250}


# ------------------------------------------------------------------ case B

def case_b(quick, repeats):
    import reference as R
    from nnext import Network
    epochs = 100 if quick else 1000
    params = R.zhou_draw_params(np.random.RandomState(0))
    W, b = R.zhou_to_layers(params)

    def nn():
        net = Network.from_weights(W, b)
        net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=epochs, lr=0.1, loss="mse", batch_size=1)

    def scalar():
        R.zhou_train(params, epochs=epochs)

    t = summarise(alternate({"nnext": timed(nn), "scalar loop": timed(scalar)}, repeats))
    return {"epochs": epochs, "times": t,
            "ratio_scalar_over_nnext": t["scalar loop"]["median_s"] / t["nnext"]["median_s"], "target": 100}


# ------------------------------------------------------------------ case C

def case_c(quick, repeats):
    from nnext import Network
    sizes = [8, 16, 1]
    calls = 2000 if quick else 20000
    net = Network(sizes, seed=0)
    W = [w.copy() for w in net.weights]
    b = [x.copy() for x in net.biases]
    x = np.random.RandomState(1).random_sample(sizes[0])

    def np_forward(v):
        h = 1 / (1 + np.exp(-(v @ W[0] + b[0])))
        return 1 / (1 + np.exp(-(h @ W[1] + b[1])))

    runners = {"nnext": None, "numpy": None}

    def loop(f):
        def run():
            t = time.perf_counter()
            for _ in range(calls):
                f(x)
            return (time.perf_counter() - t) / calls
        return run

    runners = {"nnext": loop(net.predict), "numpy": loop(np_forward)}
    note = None
    if torch is not None:
        torch.set_grad_enabled(False)
        model = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.Sigmoid(),
                                    torch.nn.Linear(sizes[1], sizes[2]), torch.nn.Sigmoid()).double()
        xt = torch.from_numpy(x)

        def tloop():
            t = time.perf_counter()
            for _ in range(calls):
                model(xt)
            return (time.perf_counter() - t) / calls
        runners["pytorch"] = tloop
    else:
        note = "PyTorch not installed: skipped (pip install torch==2.13.0)"
    t = summarise(alternate(runners, repeats))
    if torch is not None:
        torch.set_grad_enabled(True)
    out = {"net": sizes, "calls_per_run": calls, "times_per_call": t,
           "ratio_numpy_over_nnext": t["numpy"]["median_s"] / t["nnext"]["median_s"], "targets": {"numpy": 3, "pytorch": 10}}
    if "pytorch" in t:
        out["ratio_pytorch_over_nnext"] = t["pytorch"]["median_s"] / t["nnext"]["median_s"]
    if note:
        out["note"] = note
    return out


# ---------------------------------------------------- MLP trainers (D, E)

def mlp_flops(sizes, n):
    """Multiply-adds x 2 for one epoch: forward, weight gradients, input deltas (not layer 0)."""
    w = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * n * (2 * sum(w) + sum(w[1:]))


def make_data(n, n_in, k, seed=0):
    rs = np.random.RandomState(seed)
    X = rs.standard_normal((n, n_in)).astype(np.float32)
    labels = rs.randint(0, k, n)
    Y = np.zeros((n, k), np.float32)
    Y[np.arange(n), labels] = 1
    return X, labels, Y


def he_weights(sizes, seed=0):
    rs = np.random.RandomState(seed)
    return ([(rs.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])],
            [np.zeros(b, np.float32) for b in sizes[1:]])


def numpy_epoch(W, b, X, Y, batch, lr):
    """Vectorised float32 mini-batch SGD: ReLU hidden layers, softmax + cross-entropy."""
    L = len(W)
    lr = np.float32(lr)
    for r in range(0, X.shape[0], batch):
        x, y = X[r:r + batch], Y[r:r + batch]
        acts = [x]
        for l in range(L):
            z = acts[-1] @ W[l]
            z += b[l]
            if l < L - 1:
                np.maximum(z, 0, out=z)
            else:
                z -= z.max(axis=1, keepdims=True)
                np.exp(z, out=z)
                z /= z.sum(axis=1, keepdims=True)
            acts.append(z)
        d = acts[-1] - y
        d *= np.float32(1.0 / x.shape[0])
        for l in range(L - 1, -1, -1):
            gW = acts[l].T @ d
            gb = d.sum(axis=0)
            if l > 0:
                d = d @ W[l].T
                d *= acts[l] > 0
            gW *= lr
            W[l] -= gW
            gb *= lr
            b[l] -= gb


def torch_trainer(sizes, W, b, lr):
    layers = []
    for l in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[l], sizes[l + 1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W[l].T.copy()))
            lin.bias.copy_(torch.from_numpy(b[l]))
        layers.append(lin)
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(X, labels, batch):
        for r in range(0, X.shape[0], batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[r:r + batch]), labels[r:r + batch])
            loss.backward()
            opt.step()
    return epoch


def mlp_runners(sizes, n, batch, lr=0.01, with_torch=True, dtype="float32"):
    """{name: f} each timing one epoch of the same training, fresh weights each run
    (PyTorch: float32 only)."""
    from nnext import Network
    X, labels, Y = make_data(n, sizes[0], sizes[-1])
    W0, b0 = he_weights(sizes)
    if dtype != "float32":
        X, Y = X.astype(dtype), Y.astype(dtype)
        W0, b0 = [w.astype(dtype) for w in W0], [x.astype(dtype) for x in b0]
        with_torch = False
    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]

    def nn():
        net = Network.from_weights(W0, b0, activation=acts, dtype=dtype)
        t = time.perf_counter()
        net.fit(X, labels, epochs=1, lr=lr, loss="cross_entropy", batch_size=batch)
        return time.perf_counter() - t

    def npy():
        W, b = [w.copy() for w in W0], [x.copy() for x in b0]
        t = time.perf_counter()
        numpy_epoch(W, b, X, Y, batch, lr)
        return time.perf_counter() - t

    runners = {"nnext": nn, "numpy": npy}
    if with_torch and torch is not None:
        Xt, lt = torch.from_numpy(X), torch.from_numpy(labels.astype(np.int64))

        def tr():
            epoch = torch_trainer(sizes, W0, b0, lr)
            t = time.perf_counter()
            epoch(Xt, lt, batch)
            return time.perf_counter() - t
        runners["pytorch"] = tr
    return runners


def matmul_rate(n=2048, reps=5, dtype=np.float32):
    """The machine's matmul rate in dtype (float32: sgemm, float64: dgemm), GFLOP/s:
    numpy's and PyTorch's best n x n products."""
    a = np.random.rand(n, n).astype(dtype)
    bm = np.random.rand(n, n).astype(dtype)
    out = {}
    time.sleep(SETTLE_S)
    best = min(timed(lambda: a @ bm)() for _ in range(reps))
    out["numpy"] = 2.0 * n ** 3 / best * 1e-9
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(bm)
        time.sleep(SETTLE_S)
        best = min(timed(lambda: ta @ tb)() for _ in range(reps))
        out["pytorch"] = 2.0 * n ** 3 / best * 1e-9
    return out


# ------------------------------------------------------------------ case D

D_SIZES = [784, 300, 100, 10]


def case_d(quick, repeats):
    n = 6400 if quick else 60000
    roundtrip = [host_roundtrip_ns()]
    rate = matmul_rate()
    t = summarise(alternate(mlp_runners(D_SIZES, n, 64), repeats, SETTLE_S))
    rate2 = matmul_rate()
    machine = max(max(rate.values()), max(rate2.values()))
    flops = mlp_flops(D_SIZES, n)
    gflops = flops / t["nnext"]["median_s"] * 1e-9
    out = {"sizes": D_SIZES, "rows": n, "batch": 64, "times": t, "flops_per_epoch": flops,
           "nnext_gflops": gflops, "machine_sgemm_gflops": machine, "sgemm_rates": [rate, rate2],
           "fraction_of_machine_rate": gflops / machine,
           "ratio_numpy_over_nnext": t["numpy"]["median_s"] / t["nnext"]["median_s"],
           "targets": {"numpy": 2.0, "pytorch": 2.5, "fraction": 0.65},
           "roundtrip_ns": roundtrip + [host_roundtrip_ns()]}
    if "pytorch" in t:
        out["ratio_pytorch_over_nnext"] = t["pytorch"]["median_s"] / t["nnext"]["median_s"]
    else:
        out["note"] = "PyTorch not installed: skipped (pip install torch==2.13.0)"
    # float64: the same training against numpy's float64, on a fifth of the rows
    n64 = n // 5
    t64 = summarise(alternate(mlp_runners(D_SIZES, n64, 64, dtype="float64"), repeats, SETTLE_S))
    rate64 = matmul_rate(dtype=np.float64)
    flops64 = mlp_flops(D_SIZES, n64)
    out["float64"] = {"rows": n64, "times": t64,
                      "nnext_gflops": flops64 / t64["nnext"]["median_s"] * 1e-9,
                      "numpy_gflops": flops64 / t64["numpy"]["median_s"] * 1e-9,
                      "dgemm_rates": rate64, "machine_dgemm_gflops": max(rate64.values()),
                      "ratio_numpy_over_nnext": t64["numpy"]["median_s"] / t64["nnext"]["median_s"]}
    out["predict"] = predict_rate(n)
    return out


def predict_rate(n):
    """predict on all n rows of D's data (float32) against numpy's vectorised
    forward pass: times and GFLOP/s (2 flops a multiply-add)."""
    from nnext import Network
    X, _, _ = make_data(n, D_SIZES[0], D_SIZES[-1])
    W0, b0 = he_weights(D_SIZES)
    net = Network.from_weights(W0, b0, activation=["relu", "relu", "softmax"], dtype="float32")

    def np_forward():
        a = X
        for l in range(len(W0)):
            z = a @ W0[l]
            z += b0[l]
            if l < len(W0) - 1:
                np.maximum(z, 0, out=z)
            else:
                z -= z.max(axis=1, keepdims=True)
                np.exp(z, out=z)
                z /= z.sum(axis=1, keepdims=True)
            a = z
        return a
    np.testing.assert_allclose(net.predict(X[:100]), np_forward()[:100], rtol=1e-4, atol=1e-6)
    t = summarise(alternate({"nnext": timed(lambda: net.predict(X)), "numpy": timed(np_forward)}, 5, SETTLE_S))
    flops = 2.0 * n * sum(a * b for a, b in zip(D_SIZES[:-1], D_SIZES[1:]))
    return {"rows": n, "times": t, "flops": flops,
            "gflops": {k: flops / v["median_s"] * 1e-9 for k, v in t.items()}}


# ------------------------------------------------------------------ case E

_ROUNDTRIP = []  # the compiled bench/roundtrip.c, once per run ([] before, [None] if no compiler)


def host_roundtrip_ns():
    """The host's cross-core round trip now (bench/roundtrip.c), nanoseconds, or None."""
    if not _ROUNDTRIP:
        cc, exe = c_compiler(), os.path.join(tempfile.mkdtemp(prefix="nnext-rt-"), "roundtrip")
        ok = cc is not None and subprocess.run(
            [cc, "-O2", "-pthread", os.path.join(HERE, "roundtrip.c"), "-o", exe], capture_output=True).returncode == 0
        _ROUNDTRIP.append(exe if ok else None)
    if _ROUNDTRIP[0] is None:
        return None
    try:
        v = float(subprocess.run([_ROUNDTRIP[0]], capture_output=True, text=True, timeout=60).stdout.strip())
    except (ValueError, subprocess.SubprocessError):
        return None
    return None if v != v else v


def case_e(quick, repeats):
    batches = [1, 4, 16, 64, 256, 1024] if not quick else [1, 16, 256]
    widths = [16, 64, 256, 1024, 2048] if not quick else [16, 256, 1024]
    reps = max(1, min(repeats, 3))
    by_batch, by_width = [], []
    for B in batches:
        n = 1024 if B < 16 else 4096
        rt = host_roundtrip_ns()
        t = summarise(alternate(mlp_runners([64, 256, 256, 10], n, B), reps, SETTLE_S))
        by_batch.append({"batch": B, "rows": n, "per_epoch_s": {k: v["median_s"] for k, v in t.items()},
                         "roundtrip_ns": [rt, host_roundtrip_ns()]})
        print(f"  E batch {B}: " + ", ".join(f"{k} {v['median_s']:.4f}s" for k, v in t.items()), flush=True)
    for w in widths:
        n = 2048
        rt = host_roundtrip_ns()
        t = summarise(alternate(mlp_runners([256, w, w, 10], n, 64), reps, SETTLE_S))
        by_width.append({"width": w, "rows": n, "per_epoch_s": {k: v["median_s"] for k, v in t.items()},
                         "roundtrip_ns": [rt, host_roundtrip_ns()]})
        print(f"  E width {w}: " + ", ".join(f"{k} {v['median_s']:.4f}s" for k, v in t.items()), flush=True)
    # The same epochs back to back, without the pause: each run then starts
    # while the previous one's threads (OpenBLAS's, PyTorch's, nnext's) still
    # spin, as in a program that calls numpy and nnext in turn.
    back_to_back = []
    for B in [64, 256, 1024] if not quick else [256]:
        n = 4096
        rt = host_roundtrip_ns()
        t = summarise(alternate(mlp_runners([64, 256, 256, 10], n, B), reps + 2, 0.0))
        back_to_back.append({"batch": B, "rows": n, "per_epoch_s": {k: v["median_s"] for k, v in t.items()},
                             "roundtrip_ns": [rt, host_roundtrip_ns()]})
        print(f"  E back to back, batch {B}: " + ", ".join(f"{k} {v['median_s']:.4f}s" for k, v in t.items()),
              flush=True)
    return {"batch_net": [64, 256, 256, 10], "width_net": "[256, w, w, 10], batch 64",
            "by_batch": by_batch, "by_width": by_width, "back_to_back": back_to_back}


def plot_e(e, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, rows, label in ((axes[0], "batch", e["by_batch"], "batch size (net 64-256-256-10)"),
                                 (axes[1], "width", e["by_width"], "hidden width w (net 256-w-w-10, batch 64)")):
        for name in rows[0]["per_epoch_s"]:
            xs = [r[key] for r in rows]
            ys = [r["per_epoch_s"][name] / r["rows"] * 1e6 for r in rows]
            ax.plot(xs, ys, marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("microseconds per training row")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("nnext scaling: one epoch of float32 SGD, relu + softmax/cross-entropy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


# ------------------------------------------------------------------ case L
# Issue 14: the tutorials' trainings against hand-written C (bench/limits/),
# FANN 2.2 and the tutorials' own Python, plus nnext's fixed costs.

LIMITS = os.path.join(HERE, "limits")
ZHOU_EPOCHS, TRASK_STEPS = 1000, 60000
L_TOL = 1e-12  # the limit programs compute the same math: final weights to this, relative


def c_compiler():
    """The system C compiler (CC, else cc), or None."""
    cc = os.environ.get("CC") or shutil.which("cc")
    return cc if cc and shutil.which(cc.split()[0]) else None


def build_limits(tmp):
    """Compiles bench/limits/*.c with each compiler and flag set; returns
    ({program: [(label, path)]}, [notes])."""
    notes, built = [], {"zhou": [], "trask": [], "fann_zhou": [], "fann_trask": []}
    cc = c_compiler()
    if cc is None:
        return built, ["no C compiler (cc) found: the C columns (hand-written and FANN) are skipped (Debian: apt-get install gcc libfann-dev)"]
    compilers = [("cc", cc)]
    if shutil.which("clang") and os.path.basename(os.path.realpath(shutil.which(cc))) != "clang":
        compilers.append(("clang", shutil.which("clang")))
    base = ["-O3", "-std=c11", "-Wall", "-Wextra"]
    for cname, comp in compilers:
        v = subprocess.run([comp, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
        notes.append(f"compiler {cname}: {v[0] if v else '?'}")

    def compile_(label, prog, comp, flags, libs):
        out = os.path.join(tmp, f"{prog}-{label.replace(' ', '_')}")
        cmd = [comp] + base + flags + [os.path.join(LIMITS, prog + ".c"), "-o", out] + libs + ["-lm"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        return (out, " ".join([os.path.basename(comp)] + base + flags + [f"bench/limits/{prog}.c"] + libs + ["-lm"])) \
            if p.returncode == 0 else (None, p.stderr.strip().splitlines()[-1:] or ["?"])

    for cname, comp in compilers:
        for march in ([], ["-march=native"]):
            label = f"{cname} -O3" + (" -march=native" if march else "")
            path, cmd = compile_(label, "zhou", comp, march, [])
            if path:
                built["zhou"].append((label, path, cmd))
            else:
                notes.append(f"zhou.c with {label} failed to compile: {cmd[0]}")
            path, cmd = compile_(label, "trask", comp, march + ["-DLIMITS_LIBMVEC"], ["-lmvec"])
            if not path:  # no glibc libmvec: the AVX2 variants with limits.h's exp only
                path, cmd = compile_(label, "trask", comp, march, [])
            if path:
                built["trask"].append((label, path, cmd))
            else:
                notes.append(f"trask.c with {label} failed to compile: {cmd[0]}")
    for prog in ("fann_zhou", "fann_trask"):
        path, cmd = compile_("cc -O3", prog, cc, [], ["-ldoublefann"])
        if path:
            built[prog].append(("FANN 2.2 (libdoublefann)", path, cmd))
        else:
            notes.append(f"{prog}.c did not build ({cmd[0]}): FANN column skipped; on Debian: apt-get install libfann-dev")
    return built, notes


def run_limit(path, repeats, steps, weights):
    """Runs one limit program; returns its JSON lines (one per variant)."""
    p = subprocess.run([path, str(repeats), str(steps)] + [repr(float(w)) for w in weights],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"{path} failed: {p.stderr.strip()}")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def max_rel(a, b):
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def zhou_params_of(W, b):
    """nnext layers -> Zhou's w1..w6, b1..b3 (h1 = w1 x0 + w2 x1 + b1, ...)."""
    return [W[0][0, 0], W[0][1, 0], W[0][0, 1], W[0][1, 1], W[1][0, 0], W[1][1, 0], b[0][0], b[0][1], b[1][0]]


def clipped_sigmoid_derivative(v):
    """FANN 2.2's derivative of FANN_SIGMOID at steepness 0.5: v (1 - v) with v clipped to
    [0.01f, 0.99f] (float constants: 0.0099999998, 0.9900000095)."""
    v = np.clip(v, float(np.float32(0.01)), float(np.float32(0.99)))
    return v * (1 - v)


def zhou_fann_math(p, epochs, lr=np.float32(0.2)):
    """Zhou's training as FANN computes it (its clipped derivative, its float learning rate)."""
    import reference as R
    W, b = [w.copy() for w in R.zhou_to_layers(p)[0]], [x.copy() for x in R.zhou_to_layers(p)[1]]
    lr = float(lr)
    for _ in range(epochs):
        for x, y in zip(R.ZHOU_DATA, R.ZHOU_Y):
            h = R.sigmoid(x @ W[0] + b[0])
            o = R.sigmoid(h @ W[1] + b[1])
            e_o = (y - o) * clipped_sigmoid_derivative(o)
            e_h = (W[1] @ e_o) * clipped_sigmoid_derivative(h)
            W[1] += lr * np.outer(h, e_o)
            b[1] += lr * e_o
            W[0] += lr * np.outer(x, e_h)
            b[0] += lr * e_h
    return zhou_params_of(W, b)


def trask_fann_math(steps):
    """Trask's part 2 as FANN computes it with its biases held at 0 (its clipped derivative)."""
    X, y = TRASK_X, TRASK_Y
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 4)) - 1
    syn1 = 2 * np.random.random((4, 1)) - 1
    for _ in range(steps):
        l1 = 1 / (1 + np.exp(-(X @ syn0)))
        l2 = 1 / (1 + np.exp(-(l1 @ syn1)))
        l2_delta = (y - l2) * clipped_sigmoid_derivative(l2)
        l1_delta = (l2_delta @ syn1.T) * clipped_sigmoid_derivative(l1)
        syn1 += l1.T @ l2_delta
        syn0 += X.T @ l1_delta
    return syn0, syn1


def best_per_call(f, calls, repeats):
    """Best over `repeats` runs of the mean time of `calls` calls of f()."""
    best = 1e30
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def fixed_costs(repeats):
    """Each fixed cost as the best of many short batches (about 1 ms each: on a
    shared machine a long batch is seldom left alone), each call a statement
    timed by timeit (no lambda around it: for a 0.4 us target a Python call
    more is 10%)."""
    import timeit
    import reference as R
    from nnext import Network
    names = {"Network": Network, "net": Network([2, 2, 1], seed=0), "x": np.array([-7.0, -3.0]),
             "X": R.ZHOU_DATA, "y": R.ZHOU_Y}
    rows = [("Network([2, 2, 1], seed=0)", "Network([2, 2, 1], seed=0)", 200, 10e-6),
            ("fit, 1 epoch of Zhou's 4 rows, batch 1, on [2, 2, 1]",
             "net.fit(X, y, epochs=1, lr=0.1, loss='mse', batch_size=1)", 200, 5e-6),
            ("predict of one row, [2, 2, 1]", "net.predict(x)", 2000, 0.4e-6),
            ("feedforward of one row -> float, [2, 2, 1]", "net.feedforward(x)", 2000, 0.5e-6)]
    out = []
    for what, stmt, calls, target in rows:
        runs = timeit.Timer(stmt, globals=names).repeat(max(40, 10 * repeats), calls)
        out.append({"what": what, "best_s": min(runs) / calls, "target_s": target})
    return out


def case_l(quick, repeats):
    import reference as R
    from nnext import Network
    load_before = os.getloadavg()
    reps = max(repeats, 3)
    inner = {"zhou": 20, "trask": 5, "fann_zhou": 20, "fann_trask": 3}
    out = {"zhou_epochs": ZHOU_EPOCHS, "trask_steps": TRASK_STEPS, "repeats": reps, "inner_repeats": inner,
           "load_before": load_before}
    tmp = tempfile.mkdtemp(prefix="nnext-limits-")
    try:
        built, notes = build_limits(tmp)
        out["notes"], out["builds"] = notes, {k: [c for _, _, c in v] for k, v in built.items()}

        # starting points: Zhou's draw (as case B) and Trask's seed-1 draw (= Network(..., seed=1))
        zp = R.zhou_draw_params(np.random.RandomState(0))
        zstart = [zp[k] for k in R.ZHOU_PARAM_NAMES]
        W, b = R.zhou_to_layers(zp)
        tnet = Network([3, 4, 1], bias=False, seed=1)
        tstart = list(tnet.weights[0].ravel()) + list(tnet.weights[1].ravel())

        def nn_zhou():
            net = Network.from_weights(W, b)
            net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=ZHOU_EPOCHS, lr=0.1, loss="mse", batch_size=1)
            return net

        def nn_zhou_seed():
            net = Network([2, 2, 1], init="normal", seed=0)
            net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=ZHOU_EPOCHS, lr=0.1, loss="mse", batch_size=1)
            return net

        def nn_trask():
            net = Network([3, 4, 1], bias=False, seed=1)
            net.fit(TRASK_X, TRASK_Y, epochs=TRASK_STEPS, lr=1.0, loss="sse")
            return net

        # the results each computes (checked below)
        zn, zs, tn = nn_zhou(), nn_zhou_seed(), nn_trask()
        z_final = zhou_params_of(zn.weights, zn.biases)
        zs_start_net = Network([2, 2, 1], init="normal", seed=0)
        zs_start = zhou_params_of(zs_start_net.weights, zs_start_net.biases)
        zs_final = zhou_params_of(zs.weights, zs.biases)
        t_final = list(tn.weights[0].ravel()) + list(tn.weights[1].ravel())

        times = {}   # name -> list of seconds (each already a best of `inner` where inner > 1)
        results = {}  # name -> final values

        def add(name, t, values=None):
            times.setdefault(name, []).append(t)
            if values is not None:
                results[name] = values

        def nn_best(f, n):
            best = 1e30
            for _ in range(n):
                t = time.perf_counter()
                f()
                best = min(best, time.perf_counter() - t)
            return best

        runners = {"nnext zhou": lambda: add("nnext zhou", nn_best(nn_zhou, inner["zhou"])),
                   "nnext zhou seed": lambda: add("nnext zhou seed", nn_best(nn_zhou_seed, inner["zhou"])),
                   "nnext trask": lambda: add("nnext trask", nn_best(nn_trask, inner["trask"]))}
        for prog, start, steps in (("zhou", zstart, ZHOU_EPOCHS), ("trask", tstart, TRASK_STEPS),
                                   ("fann_zhou", zstart, ZHOU_EPOCHS), ("fann_trask", tstart, TRASK_STEPS)):
            for label, path, _ in built[prog]:
                def run_c(prog=prog, label=label, path=path, start=start, steps=steps):
                    for line in run_limit(path, inner[prog], steps, start):
                        if "skipped" in line:
                            notes.append(f"{prog} ({label}): {line['variant']} skipped: {line['skipped']}")
                            continue
                        add(f"{prog} {line['variant']} [{label}]", line["best_s"], line["values"])
                runners[f"{prog} [{label}]"] = run_c
        for name, f in runners.items():  # warm-up round (not timed)
            f()
        times.clear()
        alternate({k: (lambda f=f: f() or 0.0) for k, f in runners.items()}, reps)
        notes[:] = sorted(set(notes))

        # the tutorials' own Python (slow: fewer runs)
        np_reps = 1 if quick else 3
        times["numpy trask"] = [timed(lambda: trask_numpy(TRASK_STEPS))() for _ in range(np_reps)]
        times["python zhou"] = [timed(lambda: R.zhou_train(zp, epochs=ZHOU_EPOCHS))() for _ in range(3 * np_reps)]

        # agreement
        agree = {}
        for name, vals in results.items():
            if name.startswith("zhou "):
                agree[name] = max_rel(vals[:9], z_final)
            elif name.startswith("trask "):
                agree[name] = max_rel(vals[:16], t_final)
        z_np = R.zhou_train(zp, epochs=ZHOU_EPOCHS)[0]
        agree["numpy zhou (tutorial) vs nnext"] = max_rel([z_np[k] for k in R.ZHOU_PARAM_NAMES], z_final)
        s0, s1 = trask_numpy(TRASK_STEPS)
        agree["numpy trask (tutorial) vs nnext"] = max_rel(list(s0.ravel()) + list(s1.ravel()), t_final)
        if built["zhou"]:
            seed_run = run_limit(built["zhou"][0][1], 1, ZHOU_EPOCHS, zs_start)
            agree["zhou libm from Network([2, 2, 1], init='normal', seed=0) vs nnext"] = max_rel(seed_run[0]["values"][:9], zs_final)
        fann = {}
        for name, vals in results.items():
            if name.startswith("fann_zhou"):
                fann[name] = {"outputs": vals[9:13], "nnext_outputs": zn.predict(R.ZHOU_DATA).ravel().tolist(),
                              "max_abs_output_diff": float(np.max(np.abs(np.array(vals[9:13]) - zn.predict(R.ZHOU_DATA).ravel()))),
                              "max_rel_weight_diff_vs_nnext": max_rel(vals[:9], z_final),
                              "max_rel_weight_diff_vs_fann_math": max_rel(vals[:9], zhou_fann_math(zp, ZHOU_EPOCHS))}
            elif name.startswith("fann_trask"):
                d = {"outputs": vals[21:25], "nnext_outputs": tn.predict(TRASK_X).ravel().tolist(),
                     "max_abs_output_diff": float(np.max(np.abs(np.array(vals[21:25]) - tn.predict(TRASK_X).ravel()))),
                     "max_rel_weight_diff_vs_nnext": max_rel(vals[:16], t_final),
                     "bias_weights": vals[16:21]}
                if "bias0" in name:
                    f0, f1 = trask_fann_math(TRASK_STEPS)
                    d["max_rel_weight_diff_vs_fann_math"] = max_rel(vals[:16], list(f0.ravel()) + list(f1.ravel()))
                fann[name] = d
        out.update({"times_best_s": {k: min(v) for k, v in times.items()}, "times_all_s": times,
                    "agreement_max_rel": agree, "fann": fann, "fixed_costs": fixed_costs(reps),
                    "load_after": os.getloadavg()})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def report_l(l, machine):
    """Issue 14's section of RESULTS.md."""
    t = l["times_best_s"]
    lines = ["<!-- issue 14 begin: written by bench/run.py (case L) -->",
             "## Issue 14: tiny networks at the latency limit (case L)", "",
             f"Run of {l.get('date', '?')}: `{l.get('command', 'python bench/run.py --cases L')}`.  Machine: "
             f"{machine.get('cpu')}, {machine.get('cores')} cores, Python {machine.get('python')}, numpy "
             f"{machine.get('numpy')}.  **The machine is shared with other agents' jobs**: load average "
             f"{l['load_before'][0]:.1f} before and {l['load_after'][0]:.1f} after the case (1-minute), on 2 cores.  "
             f"Every time is therefore the **best** of {l['repeats']} alternating rounds (each C program "
             f"reports its own best of {l['inner_repeats']['zhou']} (Zhou) / {l['inner_repeats']['trask']} (Trask) "
             "runs per round; nnext the best of as many runs per round, timed from Python, construction + fit).", ""]
    for n in l["notes"]:
        lines.append(f"* {n}")
    if l["notes"]:
        lines.append("")

    def variants(prefix):
        return {k: v for k, v in t.items() if k.startswith(prefix + " ")}

    def fmt(s):
        return f"{s * 1e3:.3f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"

    for title, prog, nn_key, steps, np_key, tgt_c, tgt_np, plain in (
            ("Zhou: 2-2-1, per-sample SGD, 1,000 epochs (4,000 steps)", "zhou", "nnext zhou", 4 * l["zhou_epochs"],
             "python zhou", ("scalar", 1.3), None, "libm"),
            ("Trask part 2: 3-4-1, batch 4, 60,000 steps", "trask", "nnext trask", l["trask_steps"], "numpy trask",
             ("best", 1.3), 200, "scalar_libm")):
        vs = variants(prog)
        lines += [f"### {title}", "", "| program | best time | ns per step | nnext / it | final weights vs nnext (max rel) |",
                  "| --- | --- | --- | --- | --- |"]
        nn = t[nn_key]
        lines.append(f"| nnext (from Python: construction + fit) | {fmt(nn)} | {nn / steps * 1e9:.1f} | 1.00 | - |")
        if nn_key == "nnext zhou":
            s = t["nnext zhou seed"]
            lines.append(f"| nnext, `Network([2, 2, 1], init='normal', seed=0)` + fit (biases start at 0) | {fmt(s)} | "
                         f"{s / steps * 1e9:.1f} | {nn / s:.2f} | - |")
        for k in sorted(vs, key=lambda k: vs[k]):
            lines.append(f"| {k} | {fmt(vs[k])} | {vs[k] / steps * 1e9:.1f} | {nn / vs[k]:.2f} | "
                         f"{l['agreement_max_rel'].get(k, float('nan')):.1e} |")
        fk = {k: v for k, v in t.items() if k.startswith("fann_" + prog)}
        for k in sorted(fk):
            lines.append(f"| {k} | {fmt(fk[k])} | {fk[k] / steps * 1e9:.1f} | {nn / fk[k]:.2f} | "
                         f"{l['fann'][k]['max_rel_weight_diff_vs_nnext']:.1e} (not the same math, below) |")
        lines.append(f"| the tutorial's own Python ({'his numpy script' if prog == 'trask' else 'his scalar loop'}) | "
                     f"{fmt(t[np_key])} | {t[np_key] / steps * 1e9:.0f} | {nn / t[np_key]:.4f} | "
                     f"{l['agreement_max_rel'][('numpy ' + prog + ' (tutorial) vs nnext')]:.1e} |")
        lines.append("")
        scal = [v for k, v in vs.items() if k.startswith(f"{prog} {plain} [cc -O3]")]
        best = min(vs.values()) if vs else None
        ratios = []
        if scal:
            r = nn / scal[0]
            ratios.append(f"nnext / hand C scalar ({prog}.c {plain}, cc -O3) = **{r:.2f}**" +
                          (f" (target <= {tgt_c[1]}: {'holds' if r <= tgt_c[1] else 'misses'})" if tgt_c[0] == "scalar" else ""))
        if best:
            r = nn / best
            ratios.append(f"nnext / best hand C = **{r:.2f}**" +
                          (f" (target <= {tgt_c[1]}: {'holds' if r <= tgt_c[1] else 'misses'})" if tgt_c[0] == "best" else ""))
        for k in sorted(fk):
            r = fk[k] / nn
            ratios.append(f"{k.split(' [')[0]} / nnext = **{r:.2f}**" +
                          (f" (target >= 2: {'holds' if r >= 2 else 'misses'})" if prog == "zhou" else ""))
        r = t[np_key] / nn
        ratios.append(f"the tutorial's Python / nnext = **{r:.0f}**" +
                      (f" (target >= {tgt_np}: {'holds' if r >= tgt_np else 'misses'})" if tgt_np else ""))
        lines += ["Ratios: " + "; ".join(ratios) + ".", ""]
    lines += ["### Fixed costs (from Python, best per call)", "", "| call | best | target | holds |", "| --- | --- | --- | --- |"]
    for row in l["fixed_costs"]:
        lines.append(f"| `{row['what']}` | {row['best_s'] * 1e6:.2f} us | <= {row['target_s'] * 1e6:g} us | "
                     f"{'yes' if row['best_s'] <= row['target_s'] else 'no'} |")
    lines += ["", "### FANN: what matches and what cannot", "",
              "Set up in `bench/limits/fann_common.h`: FANN_SIGMOID at steepness 0.5 is exactly 1/(1+e^-x), "
              "FANN_ERRORFUNC_LINEAR, incremental training (Zhou, rate 0.2 = his 0.1 on (y-o)^2) or batch "
              "(Trask, rate 4 = his summed update, FANN divides by the 4 rows), momentum 0, the same start.  "
              "What cannot match: FANN 2.2 clips the sigmoid's value to [0.01, 0.99] before its derivative "
              "v(1-v) (fann_activation_derived), so once a neuron saturates the gradient differs; its rate is a "
              "float (0.2f); and it always has bias neurons (Trask's are held at 0 after every step in "
              "`fann_bias0`, trained from 0 in `fann`).  A numpy re-implementation of the tutorials with "
              "exactly those two differences (the clip, the float rate) is computed to show they are the "
              "only ones:", "",
              "| FANN program | its outputs on the training rows | nnext's | max abs diff | weights vs nnext (max rel) | weights vs numpy with FANN's clip (max rel) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for k, d in sorted(l["fann"].items()):
        lines.append(f"| {k} | {', '.join(f'{v:.4f}' for v in d['outputs'])} | "
                     f"{', '.join(f'{v:.4f}' for v in d['nnext_outputs'])} | {d['max_abs_output_diff']:.2g} | "
                     f"{d['max_rel_weight_diff_vs_nnext']:.2g} | "
                     f"{d['max_rel_weight_diff_vs_fann_math']:.1e} |" if "max_rel_weight_diff_vs_fann_math" in d else
                     f"| {k} | {', '.join(f'{v:.4f}' for v in d['outputs'])} | "
                     f"{', '.join(f'{v:.4f}' for v in d['nnext_outputs'])} | {d['max_abs_output_diff']:.2g} | "
                     f"{d['max_rel_weight_diff_vs_nnext']:.2g} | (biases trained: not comparable) |")
    lines += ["", "Agreement of every limit program with nnext (final weights, max relative difference; "
              f"they compute the same math when <= {L_TOL:g}): " +
              ", ".join(f"{k} {v:.1e}" for k, v in sorted(l["agreement_max_rel"].items())) + ".",
              "<!-- issue 14 end -->"]
    return "\n".join(lines) + "\n"


def splice_section(path, section, begin="<!-- issue 14 begin", end="<!-- issue 14 end -->"):
    """Replaces issue 14's section of the file at `path` (or inserts it before the
    accuracy note, or appends it), keeping every other section."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = ""
    if begin in text and end in text:
        a, b = text.index(begin), text.index(end) + len(end)
        text = text[:a] + section.rstrip("\n") + text[b:]
    elif "## Accuracy of nnext's exp" in text:
        a = text.index("## Accuracy of nnext's exp")
        text = text[:a] + section + "\n" + text[a:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------- machine, report

def machine_info():
    info = {"python": platform.python_version(), "platform": platform.platform(), "numpy": np.__version__,
            "cores": os.cpu_count(),
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NNEXT_NUM_THREADS")}}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["torch"] = torch.__version__ if torch is not None else None
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: v for k, v in d.items() if k in ("internal_api", "version", "num_threads", "architecture", "threading_layer")}
                        for d in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    try:
        import nnext
        info["nnext_threads"] = nnext._core.get_num_threads() if hasattr(nnext._core, "get_num_threads") else None
    except Exception:
        pass
    return info


def torch_only(quick, repeats):
    """PyTorch's part of D alone in a fresh process."""
    n = 6400 if quick else 60000
    r = mlp_runners(D_SIZES, n, 64)
    return {"D_pytorch_s": statistics.median(r["pytorch"]() for _ in range(repeats))}


def numpy_only(quick, repeats):
    """The numpy parts of A and D alone in a fresh process (run with OPENBLAS_* as
    set, and with them unset)."""
    steps = 6000 if quick else 60000
    a = statistics.median(timed(lambda: trask_numpy(steps))() for _ in range(repeats))
    n = 6400 if quick else 60000
    r = mlp_runners(D_SIZES, n, 64, with_torch=False)
    d = statistics.median(r["numpy"]() for _ in range(repeats))  # alone: nothing to settle
    info = machine_info()
    return {"A_numpy_s": a, "D_numpy_s": d, "sgemm": matmul_rate(), "blas": info.get("blas"), "env": info["env"]}


def fmt_t(s):
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.2f} us"


def report(res):
    m = res["machine"]
    lines = ["# nnext benchmark results", "",
             f"Machine: {m.get('cpu')}, {m['cores']} cores; Python {m['python']}, numpy {m['numpy']}, "
             f"PyTorch {m['torch']}; OPENBLAS_CORETYPE={m['env']['OPENBLAS_CORETYPE']}, "
             f"OPENBLAS_L2_SIZE={m['env']['OPENBLAS_L2_SIZE']}.  BLAS: {m.get('blas')}", "",
             f"Command: `{res['command']}` ({res['repeats']} alternating runs per competitor, medians; "
             f"peak RSS {res['peak_rss_mb']:.0f} MB)", "",
             "| case | nnext | competitor | competitor time | ratio (competitor / nnext) | target | holds |",
             "| --- | --- | --- | --- | --- | --- | --- |"]

    def row(case, nn_t, comp, comp_t, target):
        ratio = comp_t / nn_t
        lines.append(f"| {case} | {fmt_t(nn_t)} | {comp} | {fmt_t(comp_t)} | {ratio:.1f}x | {target}x | "
                     f"{'yes' if ratio >= target else 'no'} |")

    if "A" in res:
        a = res["A"]
        row(f"A Trask 3-4-1, {a['steps']} steps", a["times"]["nnext"]["median_s"], "numpy script",
            a["times"]["numpy script"]["median_s"], 250)
    if "B" in res:
        b = res["B"]
        row(f"B Zhou 2-2-1, {b['epochs']} epochs SGD", b["times"]["nnext"]["median_s"], "scalar loop",
            b["times"]["scalar loop"]["median_s"], 100)
    if "C" in res:
        c = res["C"]
        t = c["times_per_call"]
        row(f"C predict 1 row, {c['net']}", t["nnext"]["median_s"], "numpy", t["numpy"]["median_s"], 3)
        if "pytorch" in t:
            row("C (same)", t["nnext"]["median_s"], "PyTorch", t["pytorch"]["median_s"], 10)
    if "D" in res:
        d = res["D"]
        t = d["times"]
        coretype = res.get("machine", {}).get("env", {}).get("OPENBLAS_CORETYPE")
        row(f"D MLP 784-300-100-10 f32, {d['rows']} rows", t["nnext"]["median_s"], "numpy", t["numpy"]["median_s"], 2.0)
        if "pytorch" in t:
            row("D (same)", t["nnext"]["median_s"], "PyTorch", t["pytorch"]["median_s"], 2.5)
        lines += ["", f"D: nnext {d['nnext_gflops']:.1f} GFLOP/s over the whole epoch vs the machine's float32 matmul "
                  f"rate {d['machine_sgemm_gflops']:.1f} GFLOP/s (best 2048x2048 product of numpy/PyTorch in this run): "
                  f"{100 * d['fraction_of_machine_rate']:.0f}% (target 65%)." + (
                      f"  numpy here runs OpenBLAS's {coretype} kernels because OPENBLAS_CORETYPE is set; the rate with "
                      "it unset is at the end of this file." if coretype else
                      "  OPENBLAS_CORETYPE is not set: OpenBLAS picks its kernels for this CPU.") + (
                      "  The host's cross-core round trip before/after D (bench/roundtrip.c): " +
                      "/".join("?" if v is None else f"{v:.0f}" for v in d["roundtrip_ns"]) + " ns."
                      if "roundtrip_ns" in d else "")]
        if "float64" in d:
            f = d["float64"]
            lines += ["", f"D in float64 ({f['rows']} rows): nnext {fmt_t(f['times']['nnext']['median_s'])} "
                      f"({f['nnext_gflops']:.1f} GFLOP/s), numpy float64 {fmt_t(f['times']['numpy']['median_s'])}: "
                      f"ratio {f['ratio_numpy_over_nnext']:.2f}x (target 2x)." + (
                          f"  The float64 matmul rate in this run (best 2048x2048 dgemm of numpy/PyTorch): "
                          f"{f['machine_dgemm_gflops']:.1f} GFLOP/s; nnext's epoch runs at "
                          f"{100 * f['nnext_gflops'] / f['machine_dgemm_gflops']:.0f}% of it, numpy's at "
                          f"{f['numpy_gflops']:.1f} GFLOP/s, so 2x numpy would need "
                          f"{2 * f['numpy_gflops']:.1f} GFLOP/s "
                          f"({100 * 2 * f['numpy_gflops'] / f['machine_dgemm_gflops']:.0f}% of the dgemm rate)."
                          if "machine_dgemm_gflops" in f else "")]
        if "predict" in d:
            p = d["predict"]
            lines += ["", f"`predict` on D's {p['rows']} rows (float32): nnext {fmt_t(p['times']['nnext']['median_s'])} "
                      f"({p['gflops']['nnext']:.1f} GFLOP/s), numpy's vectorised forward pass "
                      f"{fmt_t(p['times']['numpy']['median_s'])} ({p['gflops']['numpy']:.1f} GFLOP/s); nnext's training "
                      f"epoch ran at {d['nnext_gflops']:.1f} GFLOP/s (target: predict at least the training rate)."]
    if "E" in res:
        e = res["E"]
        def e_ratio(r, key):
            t = r["per_epoch_s"]
            ratio = t["numpy"] / t["nnext"]
            target = 1.3 if key == "width" or r["batch"] >= 64 else 1.0
            rt = "/".join("?" if v is None else f"{v:.0f}" for v in r.get("roundtrip_ns", [None, None]))
            return f"{ratio:.2f}x | {target}x | {'yes' if ratio >= target else 'no'} | {rt}"

        lines += ["", "E: seconds per epoch (bench/scaling.png plots microseconds per row); targets: nnext at "
                  "least as fast as numpy everywhere, 1.3x at batch >= 64.  The last column: the host's "
                  "cross-core round trip before/after the row, ns (bench/roundtrip.c: 50-80 in most minutes "
                  "on this VM, 300-600 in its slow periods, which slow every multi-threaded step)", "",
                  "| batch (64-256-256-10) | rows | " + " | ".join(e["by_batch"][0]["per_epoch_s"]) +
                  " | numpy / nnext | target | holds | round trip ns |",
                  "| --- | --- | " + " | ".join("---" for _ in e["by_batch"][0]["per_epoch_s"]) + " | --- | --- | --- | --- |"]
        for r in e["by_batch"]:
            lines.append(f"| {r['batch']} | {r['rows']} | " + " | ".join(f"{v:.4f}" for v in r["per_epoch_s"].values())
                         + f" | {e_ratio(r, 'batch')} |")
        lines += ["", "| width w (256-w-w-10, batch 64) | rows | " + " | ".join(e["by_width"][0]["per_epoch_s"]) +
                  " | numpy / nnext | target | holds | round trip ns |",
                  "| --- | --- | " + " | ".join("---" for _ in e["by_width"][0]["per_epoch_s"]) + " | --- | --- | --- | --- |"]
        for r in e["by_width"]:
            lines.append(f"| {r['width']} | {r['rows']} | " + " | ".join(f"{v:.4f}" for v in r["per_epoch_s"].values())
                         + f" | {e_ratio(r, 'width')} |")
        if e.get("back_to_back"):
            rows = e["back_to_back"]
            lines += ["", "E back to back: the same epochs with no pause between runs, so that each starts while "
                      "the previous one's threads still spin (OpenBLAS's for about 0.1 s after a product), as in a "
                      "program calling numpy and nnext in turn.  Not a target; nnext's parts go to whichever "
                      "thread is free (nnext_runtime.c, nn_parallel)", "",
                      "| batch (64-256-256-10) | rows | " + " | ".join(rows[0]["per_epoch_s"]) +
                      " | numpy / nnext | round trip ns |",
                      "| --- | --- | " + " | ".join("---" for _ in rows[0]["per_epoch_s"]) + " | --- | --- |"]
            for r in rows:
                t = r["per_epoch_s"]
                rt = "/".join("?" if v is None else f"{v:.0f}" for v in r.get("roundtrip_ns", [None, None]))
                lines.append(f"| {r['batch']} | {r['rows']} | " + " | ".join(f"{v:.4f}" for v in t.values())
                             + f" | {t['numpy'] / t['nnext']:.2f}x | {rt} |")
    if "D" in res and "numpy_alone" in res and "D_numpy_s" in res["numpy_alone"]:
        nn_t = res["D"]["times"]["nnext"]["median_s"]
        lines += ["", "Competitors alone, each in a fresh process (their thread pools then have the 2 cores "
                  "to themselves; in one process OpenBLAS's and PyTorch's spinning workers can slow each other "
                  "when the machine is loaded, inflating the in-process ratios of D and E above):", "",
                  "| case | nnext (in-process) | competitor alone | time | ratio | target | holds |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, key, sub, target in (("numpy", "D_numpy_s", "numpy_alone", 2.0),
                                       ("numpy, OPENBLAS_* unset", "D_numpy_s", "numpy_openblas_unset", 2.0),
                                       ("PyTorch", "D_pytorch_s", "pytorch_alone", 2.5)):
            if key in res.get(sub, {}):
                ct = res[sub][key]
                lines.append(f"| D | {fmt_t(nn_t)} | {name} | {fmt_t(ct)} | {ct / nn_t:.2f}x | {target}x | "
                             f"{'yes' if ct / nn_t >= target else 'no'} |")
    if "numpy_openblas_unset" in res:
        u = res["numpy_openblas_unset"]
        if "error" in u:
            lines += ["", f"numpy with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset: failed ({u['error']})"]
        else:
            lines += ["", "numpy with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (subprocess, same command, "
                      f"BLAS then {u.get('blas')}): A numpy script {fmt_t(u['A_numpy_s'])} "
                      f"(ratio {u['A_numpy_s'] / res['A']['times']['nnext']['median_s']:.1f}x), "
                      f"D numpy {fmt_t(u['D_numpy_s'])} (ratio {u['D_numpy_s'] / res['D']['times']['nnext']['median_s']:.2f}x), "
                      f"numpy sgemm 2048: {u['sgemm'].get('numpy', 0):.1f} GFLOP/s "
                      f"(nnext's D rate is {100 * res['D']['nnext_gflops'] / u['sgemm'].get('numpy', 1):.0f}% of that)."
                      if "A" in res and "D" in res else f"unset: {u}"]
    lines += ["", ACCURACY_NOTE]
    return "\n".join(lines) + "\n"


ACCURACY_NOTE = """## Accuracy of nnext's exp

`nnext/csrc/nnext_exp.h` (branch-free, so that sigmoid/softmax/ELU loops vectorise),
measured by `bench/exp_accuracy.c` against glibc's exp/expf, 4 million evenly
spaced and random arguments per range:

| type | range | max error |
| --- | --- | --- |
| float64 | [-1, 1], [-40, 40], [-708, 709] | 2 ulp |
| float64 | [-745, -708] (subnormal results) | 2 ulp |
| float32 | [-1, 1], [-20, 20], [-87, 88] | 2 ulp |
| float32 | [-103, -87] (subnormal results) | 1 ulp |
| sigmoid 1/(1+exp(-x)) | float64 [-40, 40], float32 [-20, 20] | 4 ulp vs the same formula with libm |

Overflow gives inf, underflow 0, NaN propagates.  tanh uses libm's tanh/tanhf
(not vectorised); the tests' tolerances are unchanged."""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a check in about a minute")
    ap.add_argument("--repeats", type=int, default=None, help="alternating runs per competitor (default 5, quick 3)")
    ap.add_argument("--out", default=None, help="JSON output (default bench/results.json; bench/results_l.json "
                    "when only case L runs)")
    ap.add_argument("--cases", default="ABCDEL")
    ap.add_argument("--numpy-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    if args.out is None:
        args.out = os.path.join(HERE, "results_l.json" if set(args.cases) == {"L"} else "results.json")
    if args.numpy_only:
        print(json.dumps(numpy_only(args.quick, repeats)))
        return
    if args.torch_only:
        print(json.dumps(torch_only(args.quick, repeats)))
        return
    res = {"command": "python bench/run.py " + " ".join(sys.argv[1:]), "repeats": repeats, "quick": args.quick,
           "machine": machine_info(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if torch is None:
        res["note"] = "PyTorch not installed: its columns are skipped (pip install torch==2.13.0)"
    cases = {"A": case_a, "B": case_b, "C": case_c, "D": case_d, "E": case_e, "L": case_l}
    for name in args.cases:
        print(f"case {name} ...", flush=True)
        res[name] = cases[name](args.quick, repeats)
        res[name]["peak_rss_mb_after"] = peak_rss_mb()
    res["peak_rss_mb"] = peak_rss_mb()
    if "A" in res or "D" in res:
        # competitors alone in fresh processes: OpenBLAS's and PyTorch's thread
        # pools, both in one process on 2 cores, slow each other down badly
        unset = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        base = [sys.executable, os.path.abspath(__file__), "--repeats", str(repeats)] + (["--quick"] if args.quick else [])
        for key, flag, env in (("numpy_alone", "--numpy-only", dict(os.environ)),
                               ("numpy_openblas_unset", "--numpy-only", unset),
                               ("pytorch_alone", "--torch-only", dict(os.environ))):
            if flag == "--torch-only" and torch is None:
                continue
            print(f"{key} (subprocess) ...", flush=True)
            try:
                p = subprocess.run(base + [flag], env=env, capture_output=True, text=True, timeout=1800)
                res[key] = json.loads(p.stdout.strip().splitlines()[-1])
            except Exception as e:  # reported, not fatal
                res[key] = {"error": repr(e)}
    if "E" in res:
        res["E"]["plot"] = plot_e(res["E"], os.path.join(HERE, "scaling.png"))
    if "L" in res:
        res["L"].update(date=res["date"], command=res["command"])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    results_md = os.path.join(HERE, "RESULTS.md")
    if set(args.cases) == {"L"}:  # issue 14 alone: only its section of RESULTS.md changes
        md = report_l(res["L"], res["machine"])
        splice_section(results_md, md)
    else:
        md = report(res)
        with open(results_md, "w") as f:
            f.write(md)
        if "L" in res:
            splice_section(results_md, report_l(res["L"], res["machine"]))
            md += "\n" + report_l(res["L"], res["machine"])
    print(md)


if __name__ == "__main__":
    main()
