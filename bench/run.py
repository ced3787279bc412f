"""nnext benchmark suite: cases A-E of bench/README.md, in one process.

    python bench/run.py [--quick] [--repeats N] [--out bench/results.json]

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
import statistics
import subprocess
import sys
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


def mlp_runners(sizes, n, batch, lr=0.01, with_torch=True):
    """{name: f} each timing one epoch of the same training, fresh weights each run."""
    from nnext import Network
    X, labels, Y = make_data(n, sizes[0], sizes[-1])
    W0, b0 = he_weights(sizes)
    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]

    def nn():
        net = Network.from_weights(W0, b0, activation=acts, dtype="float32")
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


def matmul_rate(n=2048, reps=5):
    """The machine's float32 matmul rate: best of numpy's and PyTorch's n x n products."""
    a = np.random.rand(n, n).astype(np.float32)
    bm = np.random.rand(n, n).astype(np.float32)
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
           "targets": {"numpy": 2.0, "pytorch": 2.5, "fraction": 0.65}}
    if "pytorch" in t:
        out["ratio_pytorch_over_nnext"] = t["pytorch"]["median_s"] / t["nnext"]["median_s"]
    else:
        out["note"] = "PyTorch not installed: skipped (pip install torch==2.13.0)"
    return out


# ------------------------------------------------------------------ case E

def case_e(quick, repeats):
    batches = [1, 4, 16, 64, 256, 1024] if not quick else [1, 16, 256]
    widths = [16, 64, 256, 1024, 2048] if not quick else [16, 256, 1024]
    reps = max(1, min(repeats, 3))
    by_batch, by_width = [], []
    for B in batches:
        n = 1024 if B < 16 else 4096
        t = summarise(alternate(mlp_runners([64, 256, 256, 10], n, B), reps, SETTLE_S))
        by_batch.append({"batch": B, "rows": n, "per_epoch_s": {k: v["median_s"] for k, v in t.items()}})
        print(f"  E batch {B}: " + ", ".join(f"{k} {v['median_s']:.4f}s" for k, v in t.items()), flush=True)
    for w in widths:
        n = 2048
        t = summarise(alternate(mlp_runners([256, w, w, 10], n, 64), reps, SETTLE_S))
        by_width.append({"width": w, "rows": n, "per_epoch_s": {k: v["median_s"] for k, v in t.items()}})
        print(f"  E width {w}: " + ", ".join(f"{k} {v['median_s']:.4f}s" for k, v in t.items()), flush=True)
    return {"batch_net": [64, 256, 256, 10], "width_net": "[256, w, w, 10], batch 64",
            "by_batch": by_batch, "by_width": by_width}


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
                      "  OPENBLAS_CORETYPE is not set: OpenBLAS picks its kernels for this CPU.")]
    if "E" in res:
        e = res["E"]
        def e_ratio(r, key):
            t = r["per_epoch_s"]
            ratio = t["numpy"] / t["nnext"]
            target = 1.3 if key == "width" or r["batch"] >= 64 else 1.0
            return f"{ratio:.2f}x | {target}x | {'yes' if ratio >= target else 'no'}"

        lines += ["", "E: seconds per epoch (bench/scaling.png plots microseconds per row); targets: nnext at "
                  "least as fast as numpy everywhere, 1.3x at batch >= 64", "",
                  "| batch (64-256-256-10) | rows | " + " | ".join(e["by_batch"][0]["per_epoch_s"]) +
                  " | numpy / nnext | target | holds |",
                  "| --- | --- | " + " | ".join("---" for _ in e["by_batch"][0]["per_epoch_s"]) + " | --- | --- | --- |"]
        for r in e["by_batch"]:
            lines.append(f"| {r['batch']} | {r['rows']} | " + " | ".join(f"{v:.4f}" for v in r["per_epoch_s"].values())
                         + f" | {e_ratio(r, 'batch')} |")
        lines += ["", "| width w (256-w-w-10, batch 64) | rows | " + " | ".join(e["by_width"][0]["per_epoch_s"]) +
                  " | numpy / nnext | target | holds |",
                  "| --- | --- | " + " | ".join("---" for _ in e["by_width"][0]["per_epoch_s"]) + " | --- | --- | --- |"]
        for r in e["by_width"]:
            lines.append(f"| {r['width']} | {r['rows']} | " + " | ".join(f"{v:.4f}" for v in r["per_epoch_s"].values())
                         + f" | {e_ratio(r, 'width')} |")
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
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--cases", default="ABCDE")
    ap.add_argument("--numpy-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
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
    cases = {"A": case_a, "B": case_b, "C": case_c, "D": case_d, "E": case_e}
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
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    md = report(res)
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
