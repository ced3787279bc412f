"""The tutorials nnext grew from, computed twice: by their own numpy code
(written out as the tutorials write it) and by nnext.  `python -m nnext` prints
both with their agreement and timings; see `run`.

- Trask, "A Neural Network in 11 lines of Python", part 1 and part 2.
- Victor Zhou, "Machine Learning for Beginners: An Introduction to Neural Networks".
"""

import time

import numpy as np

from .network import Network

# Trask's data: three input columns (the third always 1, a bias in disguise).
TRASK_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
TRASK_Y1 = np.array([[0, 0, 1, 1]]).T  # part 1: the output copies the first column
TRASK_Y2 = np.array([[0, 1, 1, 0]]).T  # part 2: XOR of the first two columns

# Zhou's data: weight - 135 lb, height - 66 in; 1 = female.
ZHOU_NAMES = ["Alice", "Bob", "Charlie", "Diana"]
ZHOU_DATA = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]])
ZHOU_Y = np.array([1, 0, 0, 1])
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

def nonlin(x, deriv=False):
    """Trask's sigmoid; with deriv=True, its slope given the sigmoid's output."""
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def trask_part1_numpy(iterations=10000):
    """The part-1 script.  Returns (l1 at the first iteration, l1 at the last, syn0)."""
    X, y = TRASK_X, TRASK_Y1
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 1)) - 1
    for it in range(iterations):
        l0 = X
        l1 = nonlin(np.dot(l0, syn0))
        if it == 0:
            l1_first = l1
        l1_error = y - l1
        l1_delta = l1_error * nonlin(l1, True)
        syn0 += np.dot(l0.T, l1_delta)
    return l1_first, l1, syn0


def trask_part1_nnext(iterations=10000):
    """The same with nnext: ``fit(..., loss="sse", lr=1.0)`` is Trask's update."""
    net = Network([3, 1], bias=False, seed=1)
    l1_first = net.predict(TRASK_X)
    net.fit(TRASK_X, TRASK_Y1, epochs=iterations - 1, lr=1.0, loss="sse")
    l1_last = net.predict(TRASK_X)  # the last iteration's forward pass
    net.fit(TRASK_X, TRASK_Y1, epochs=1, lr=1.0, loss="sse")
    return l1_first, l1_last, net.weights[0]


# ------------------------------------------------------------- Trask, part 2

def trask_part2_numpy(iterations=60000, report_every=10000):
    """The part-2 script.  Returns (the printed Error values, last l2, syn0, syn1)."""
    X, y = TRASK_X, TRASK_Y2
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 4)) - 1
    syn1 = 2 * np.random.random((4, 1)) - 1
    errors = []
    for j in range(iterations):
        l0 = X
        l1 = nonlin(np.dot(l0, syn0))
        l2 = nonlin(np.dot(l1, syn1))
        l2_error = y - l2
        if (j % report_every) == 0:
            errors.append(np.mean(np.abs(l2_error)))
        l2_delta = l2_error * nonlin(l2, deriv=True)
        l1_error = l2_delta.dot(syn1.T)
        l1_delta = l1_error * nonlin(l1, deriv=True)
        syn1 += l1.T.dot(l2_delta)
        syn0 += l0.T.dot(l1_delta)
    return errors, l2, syn0, syn1


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

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    fx = sigmoid(x)
    return fx * (1 - fx)


def mse_loss(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean()


class OurNeuralNetwork:
    """Zhou's 2-2-1 network, his scalar code; the parameters are drawn from `rng`."""

    def __init__(self, rng):
        self.w1, self.w2, self.w3, self.w4, self.w5, self.w6 = (rng.normal() for _ in range(6))
        self.b1, self.b2, self.b3 = (rng.normal() for _ in range(3))

    def feedforward(self, x):
        h1 = sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        o1 = sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)
        return o1

    def as_layers(self):
        """(weights, biases) in nnext's layout: weights[i] is (n_in, n_out)."""
        W0 = np.array([[self.w1, self.w3], [self.w2, self.w4]])
        W1 = np.array([[self.w5], [self.w6]])
        return [W0, W1], [np.array([self.b1, self.b2]), np.array([self.b3])]

    def train(self, data, all_y_trues, learn_rate=0.1, epochs=1000, every=10):
        """His loop; returns the (epoch, loss) pairs he prints every `every` epochs."""
        printed = []
        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues):
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = sigmoid(sum_h1)
                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = sigmoid(sum_h2)
                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                o1 = sigmoid(sum_o1)
                y_pred = o1

                d_L_d_ypred = -2 * (y_true - y_pred)
                # Neuron o1
                d_ypred_d_w5 = h1 * deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = deriv_sigmoid(sum_o1)
                d_ypred_d_h1 = self.w5 * deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * deriv_sigmoid(sum_o1)
                # Neuron h1
                d_h1_d_w1 = x[0] * deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * deriv_sigmoid(sum_h1)
                d_h1_d_b1 = deriv_sigmoid(sum_h1)
                # Neuron h2
                d_h2_d_w3 = x[0] * deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * deriv_sigmoid(sum_h2)
                d_h2_d_b2 = deriv_sigmoid(sum_h2)

                self.w1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_b1
                self.w3 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_b2
                self.w5 -= learn_rate * d_L_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_L_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_L_d_ypred * d_ypred_d_b3

            if epoch % every == 0:
                y_preds = np.apply_along_axis(self.feedforward, 1, data)
                printed.append((epoch, mse_loss(all_y_trues, y_preds)))
        return printed


def generate_test_data(kg, cm):
    """Metric weight and height -> Zhou's shifted inputs (lb - 135, in - 66)."""
    return np.array([kg * 2.20462 - 135, cm / 2.54 - 66])


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
