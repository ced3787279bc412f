"""The tutorials nnext grew from, computed twice: by their own numpy code
(nnext.tutorial_scripts, the one copy) and by nnext.  `python -m nnext` prints
both with their agreement and timings; see `run`.

- Trask, "A Neural Network in 11 lines of Python", part 1 and part 2.
- Victor Zhou, "Machine Learning for Beginners: An Introduction to Neural Networks".
"""

import time

import numpy as np

from .network import Network
from .tutorial_scripts import (TRASK_X, TRASK_Y1, TRASK_Y2, ZHOU_DATA, ZHOU_Y, OurNeuralNetwork,
                               nonlin, trask_part1_numpy, trask_part2_numpy)

ZHOU_SEED = 2019  # Zhou draws his 9 parameters unseeded; we seed them to compare runs


def _clock(fn, *args, repeat=3):
    """fn(*args) run `repeat` times: (its last result, the fastest time in seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t)
    return out, best


def _rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny))


# ------------------------------------------------------------- Trask, part 1

def trask_part1_nnext(iterations=10000):
    """The same with nnext: ``fit(..., loss="sse", lr=1.0)`` is Trask's update."""
    net = Network([3, 1], bias=False, seed=1)
    l1_first = net.predict(TRASK_X)
    net.fit(TRASK_X, TRASK_Y1, epochs=iterations - 1, lr=1.0, loss="sse")
    l1_last = net.predict(TRASK_X)  # the last iteration's forward pass
    net.fit(TRASK_X, TRASK_Y1, epochs=1, lr=1.0, loss="sse")
    return l1_first, l1_last, net.weights[0]


# ------------------------------------------------------------- Trask, part 2

def trask_part2_nnext(iterations=60000, report_every=10000):
    """The same with nnext, trained in chunks so the Error can be read where Trask prints it."""
    net = Network([3, 4, 1], bias=False, seed=1)
    errors = []
    done = 0
    while done < iterations:
        chunk = min(report_every, iterations - done)
        errors.append(np.mean(np.abs(TRASK_Y2 - net.predict(TRASK_X))))
        net.fit(TRASK_X, TRASK_Y2, epochs=chunk - 1, lr=1.0, loss="sse")
        l2 = net.predict(TRASK_X)
        net.fit(TRASK_X, TRASK_Y2, epochs=1, lr=1.0, loss="sse")
        done += chunk
    return errors, l2, net.weights[0], net.weights[1]


# ------------------------------------------------------------------- Zhou

def zhou_nnext(start, epochs=1000, every=10):
    """Zhou's training with nnext from the parameters of `start` (an OurNeuralNetwork)."""
    weights, biases = start.as_layers()
    net = Network.from_weights(weights, biases, activation="sigmoid")
    printed, done = [], 0
    for epoch in range(0, epochs, every):  # he prints after the epochs 0, every, 2*every, ...
        net.fit(ZHOU_DATA, ZHOU_Y, epochs=epoch + 1 - done, lr=0.1, loss="mse", batch_size=1)
        done = epoch + 1
        printed.append((epoch, net.loss(ZHOU_DATA, ZHOU_Y, loss="mse")))
    net.fit(ZHOU_DATA, ZHOU_Y, epochs=epochs - done, lr=0.1, loss="mse", batch_size=1)
    return net, printed


# -------------------------------------------------------------------- run

def run(out=print):
    """Compute every tutorial with numpy and with nnext; print them side by side.

    Returns a dict of the agreements (max relative differences) and timings.
    """
    report = {}
    fmt = np.array2string

    out("nnext: the tutorials, computed by their numpy code and by nnext")
    out("(times: the fastest of 3 runs; Zhou's scalar loop: 1 run)\n")

    # Trask part 1
    (np_first, np_last, np_syn0), t_np = _clock(trask_part1_numpy)
    (nx_first, nx_last, nx_syn0), t_nx = _clock(trask_part1_nnext)
    d = max(_rel_diff(nx_first, np_first), _rel_diff(nx_last, np_last), _rel_diff(nx_syn0, np_syn0))
    out("== Trask part 1: a 3-1 network, 10,000 full-batch steps")
    out("Output After Training (l1 of the last iteration):")
    out(f"  numpy: {fmt(np_last.ravel(), precision=8)}")
    out(f"  nnext: {fmt(nx_last.ravel(), precision=8)}")
    unseen = np.array([[0, 1, 1], [1, 1, 0], [1, 0, 1], [1, 1, 1]])
    out(f"  trained syn0 on unseen rows {unseen.tolist()}: {fmt(nonlin(unseen @ nx_syn0).ravel(), precision=4)}")
    out(f"  agreement: max relative difference {d:.1e}")
    out(f"  time: numpy {t_np * 1e3:.1f} ms, nnext {t_nx * 1e3:.2f} ms ({t_np / t_nx:.0f}x)\n")
    report["trask_part1"] = {"max_rel_diff": d, "numpy_s": t_np, "nnext_s": t_nx}

    # Trask part 2
    (np_err, np_l2, np_s0, np_s1), t_np = _clock(trask_part2_numpy)
    (nx_err, nx_l2, nx_s0, nx_s1), t_nx = _clock(trask_part2_nnext)
    d = max(_rel_diff(nx_err, np_err), _rel_diff(nx_l2, np_l2), _rel_diff(nx_s0, np_s0), _rel_diff(nx_s1, np_s1))
    out("== Trask part 2: a 3-4-1 network learns XOR, 60,000 full-batch steps")
    out(f"  {'iteration':>9}  {'numpy Error':>20}  {'nnext Error':>20}")
    for i, (a, b) in enumerate(zip(np_err, nx_err)):
        out(f"  {i * 10000:>9}  {a:>20.15f}  {b:>20.15f}")
    out(f"  final l2: numpy {fmt(np_l2.ravel(), precision=4)}, nnext {fmt(nx_l2.ravel(), precision=4)}")
    out(f"  agreement: max relative difference {d:.1e}")
    out(f"  time: numpy {t_np * 1e3:.0f} ms, nnext {t_nx * 1e3:.2f} ms ({t_np / t_nx:.0f}x)\n")
    report["trask_part2"] = {"max_rel_diff": d, "numpy_s": t_np, "nnext_s": t_nx}

    # Zhou
    rng = np.random.RandomState(ZHOU_SEED)
    theirs = OurNeuralNetwork(rng)
    weights, biases = theirs.as_layers()
    net_check = Network.from_weights([np.array([[0.0], [1.0]])], [np.array([4.0])])
    net3 = Network.from_weights([np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.0], [1.0]])],
                                [np.zeros(2), np.zeros(1)])
    printed_np, t_np = _clock(theirs.train, ZHOU_DATA, ZHOU_Y, repeat=1)
    start = OurNeuralNetwork(np.random.RandomState(ZHOU_SEED))
    (net, printed_nx), t_nx = _clock(zhou_nnext, start)
    trained_np = np.concatenate([w.ravel() for w in theirs.as_layers()[0] + theirs.as_layers()[1]])
    trained_nx = np.concatenate([w.ravel() for w in net.weights + net.biases])
    d = max(_rel_diff(trained_nx, trained_np), _rel_diff([l for _, l in printed_nx], [l for _, l in printed_np]))
    out("== Victor Zhou: a neuron, a 2-2-1 network, and training it to tell sex from weight/height")
    out(f"  a neuron, weights [0, 1], bias 4, input [2, 3]: {net_check.feedforward([2, 3])!r}")
    out(f"  the 2-2-1 network with weights [0, 1], bias 0, input [2, 3]: {net3.feedforward([2, 3])!r}")
    out(f"  training from np.random.RandomState({ZHOU_SEED}).normal() parameters, 1,000 epochs of per-sample SGD:")
    out(f"  {'':>5}  {'numpy loss':>12}  {'nnext loss':>12}")
    for (e, a), (_, b) in zip(printed_np, printed_nx):
        if e % 100 == 0:
            out(f"  Epoch {e:>3}  {a:>12.3f}  {b:>12.3f}")
    emily, frank = np.array([-7, -3]), np.array([20, 2])
    out(f"  Emily: numpy {theirs.feedforward(emily):.3f}, nnext {net.feedforward(emily):.3f}   (F)")
    out(f"  Frank: numpy {theirs.feedforward(frank):.3f}, nnext {net.feedforward(frank):.3f}   (M)")
    out(f"  agreement: max relative difference {d:.1e}")
    out(f"  time: numpy {t_np * 1e3:.0f} ms, nnext {t_nx * 1e3:.2f} ms ({t_np / t_nx:.0f}x)\n")
    report["zhou"] = {"max_rel_diff": d, "numpy_s": t_np, "nnext_s": t_nx}

    worst = max(r["max_rel_diff"] for r in report.values())
    verdict = "agree" if worst <= 1e-10 else "DISAGREE"
    out(f"All tutorials {verdict} with numpy to {worst:.1e} relative (tolerance 1e-10).")
    report["agree"] = worst <= 1e-10
    return report
