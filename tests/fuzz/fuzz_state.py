"""Fuzz target `state`: call sequences on a Playground and on MLPClassifier, with
the invariants of issue 27 checked after every call, exceptions included.

The input is decoded (by `Bytes` below, the same in both modes) into a
sequence of calls: on a `Playground`, set (any settings, valid or not: huge
ints, wrong types, combinations that leave no training point), step, the
buttons (layers, neurons, features), regenerate, reset, play and pause, grid,
delta, code; on an `MLPClassifier`, fit and partial_fit (binary, multiclass,
string and multilabel targets, sometimes bad data), set_params (activation,
dtype, warm_start, hidden_layer_sizes, solver, early stopping, learning rate,
sometimes invalid values) and predict.

After each call, however it ended:
- it raised nothing, or a documented exception (ValueError, TypeError; a
  FloatingPointError from a playground's step; a warning is not an error);
- an exception left the object as it was: the playground's settings, epoch,
  network (the same object, every parameter to the bit), history and code;
  the estimator's attributes, its network and that network's parameters and
  optimizer state;
- the playground describes its network: history's columns of one length,
  its last record at `epoch`, which the segments of `code()` add up to, the
  training loss that of the current weights, the records on the stride's
  grid, every parameter finite, no training thread left after pause; and,
  at the end of the input, `code()` run rebuilds the same weights, bit for bit;
- a fitted estimator is consistent: its network's parameters and optimizer
  state finite, one output per class (one for two classes), its hidden
  activations and dtype those of its parameters after a fit, and predict
  answers with labels of `classes_`.

Run under atheris (libFuzzer): tests/fuzz/run.sh state SECONDS; or without
atheris, as a replay of a corpus (each file one input) or of random inputs:
    python tests/fuzz/fuzz_state.py --replay tests/fuzz/corpus/state [more dirs or files]
    python tests/fuzz/fuzz_state.py --random N [--seed S] [--save DIR]
"""
import contextlib
import io
import os
import sys
import threading
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import atheris
except ImportError:  # the replay modes need no atheris
    atheris = None

if atheris is not None and __name__ == "__main__" and not {"--replay", "--random"} & set(sys.argv):
    with atheris.instrument_imports(include=["nnext"]):
        import nnext  # noqa: F401
        import nnext.network  # noqa: F401
        import nnext.playground  # noqa: F401
        import nnext.sklearn  # noqa: F401

import numpy as np  # noqa: E402

from nnext.playground import ACTIVATIONS, DATASETS, FEATURES, Playground  # noqa: E402
from nnext.sklearn import MLPClassifier  # noqa: E402

DOCUMENTED = (ValueError, TypeError)


class Bytes:
    """The input's bytes as choices (what atheris' FuzzedDataProvider does, kept
    here so that a corpus replays the same without atheris); zeros once spent."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def byte(self):
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def left(self):
        return len(self.data) - self.pos

    def int(self, lo, hi):
        span = hi - lo + 1
        value = 0
        for _ in range(max(1, (span - 1).bit_length() + 7) // 8):
            value = value * 256 + self.byte()
        return lo + value % span

    def bool(self):
        return self.byte() & 1 == 1

    def pick(self, options):
        return options[self.int(0, len(options) - 1)]

    def real(self, lo, hi):
        return lo + (hi - lo) * self.int(0, 1000) / 1000


# ---------------------------------------------------------------- the playground

def bad_value(b):
    return b.pick([10**400, -10**400, "x", None, True, [], 2.5, -1, 0, float("nan"), float("inf"), object()])


def setting(b):
    key = b.pick(["dataset", "problem", "noise", "train_ratio", "batch_size", "features", "layers",
                  "activation", "lr", "regularization", "rate", "n", "unknown"])
    if b.int(0, 5) == 0:
        return key, bad_value(b)
    value = {
        "dataset": lambda: b.pick(list(DATASETS)),
        "problem": lambda: b.pick(["classification", "regression"]),
        "noise": lambda: b.real(0, 0.5),
        "train_ratio": lambda: b.pick([0.001, 0.01, 0.1, 0.5, 0.9, 0.999]),
        "batch_size": lambda: b.int(1, 40),
        "features": lambda: [f for f in FEATURES if b.bool()] or ["x1"],
        "layers": lambda: [b.int(1, 8) for _ in range(b.int(0, 4))],
        "activation": lambda: b.pick(list(ACTIVATIONS)),
        "lr": lambda: b.pick([1e-5, 0.003, 0.03, 0.3, 3.0, 10.0, 1e3]),
        "regularization": lambda: b.pick([None, "l1", "l2", "none", "L2"]),
        "rate": lambda: b.pick([0.0, 0.001, 0.1, 3.0]),
        "n": lambda: b.pick([None, 2, 3, 5, 20, 120, 250]),
        "unknown": lambda: 1,
    }[key]()
    return key, value


def pg_snapshot(pg):
    net = pg.network
    return (pg.settings, pg.epoch, net, net._checkpoint(), pg.history, pg.code(), pg.X_train)


def same_checkpoint(a, b):
    (pa, oa), (pb, ob) = a, b
    if pa.tobytes() != pb.tobytes() or (oa is None) != (ob is None):
        return False
    return oa is None or (oa[:2] == ob[:2] and oa[3] == ob[3] and oa[2].tobytes() == ob[2].tobytes())


def assert_pg_unchanged(pg, before, what):
    after = pg_snapshot(pg)
    same = (after[0] == before[0] and after[1] == before[1] and after[2] is before[2]
            and same_checkpoint(after[3], before[3]) and after[4] is before[4] and after[5] == before[5]
            and after[6] is before[6])
    if not same:
        raise AssertionError(f"Playground.{what} raised but changed the playground")


def assert_pg_describes(pg, run_code=False):
    h = pg.history
    if not all(len(v) == len(h["epoch"]) for v in h.values()):
        raise AssertionError("history's columns differ in length")
    epochs, s = h["epoch"], pg.history_stride
    if epochs[-1] != pg.epoch or pg.epoch != sum(seg[0] for seg in pg._segments):
        raise AssertionError(f"epoch {pg.epoch}, last record {epochs[-1]}, segments {pg._segments}")
    if s & (s - 1) or epochs[0] != 0 or epochs != sorted(set(epochs)) or len(epochs) > pg.history_cap:
        raise AssertionError(f"history records {epochs} (stride {s})")
    grid = epochs[:-1] if len(epochs) > 1 else epochs
    if any(e % s for e in grid):
        raise AssertionError(f"records off the stride's grid: {epochs} (stride {s})")
    if h["train_loss"][-1] != pg.train_loss:
        raise AssertionError("train_loss is not the last record's")
    if pg.network.loss(pg.F_train, pg.y_train, "mse") != pg.train_loss:
        raise AssertionError("train_loss is not the loss of the network's weights")
    params, opt = pg.network._checkpoint()
    if not np.all(np.isfinite(params)) or (opt is not None and not np.all(np.isfinite(opt[2]))):
        raise AssertionError("non-finite parameters or optimizer state")
    if len(pg.y_train) < 1:
        raise AssertionError("no training point")
    if run_code:
        ns = {}
        with contextlib.redirect_stdout(io.StringIO()):  # (the code prints its losses)
            exec(pg.code(), ns)
        for got, want in zip(ns["net"].weights + (ns["net"].biases or []),
                             pg.network.weights + (pg.network.biases or [])):
            if not np.array_equal(got, want):
                raise AssertionError("code() does not rebuild the network's weights")


def run_playground(b):
    pg = Playground(seed=b.int(0, 2**32 - 1), n=b.pick([None, 40, 120]), layers=[b.int(1, 4)],
                    history_cap=b.int(2, 12))
    for _ in range(b.int(1, 10)):
        if not b.left():
            break
        op = b.pick(["set", "set", "step", "step", "add_layer", "remove_layer", "add_neuron", "remove_neuron",
                     "toggle_feature", "regenerate", "reset", "play", "grid", "delta"])
        before = pg_snapshot(pg)
        try:
            if op == "set":
                pg.set(**dict(setting(b) for _ in range(b.int(1, 3))))
            elif op == "step":
                pg.step(b.int(1, 12) if b.int(0, 7) else bad_value(b))
            elif op in ("add_neuron", "remove_neuron"):
                getattr(pg, op)(b.int(-1, 5) if b.int(0, 7) else bad_value(b))
            elif op == "toggle_feature":
                pg.toggle_feature(b.pick(list(FEATURES) + ["x3", 1]))
            elif op == "play":
                pauser = threading.Event()
                pg.on_change(lambda p: pauser.set() if p.epoch >= 2 else None)
                pg.play(epochs_per_step=b.int(1, 3))
                pauser.wait(5)  # (a bound, not a verdict: pause() stops it either way)
                pg.pause()
                pg._listeners.clear()
                if pg.playing or any(t.name == "nnext-playground" and t.is_alive()
                                     for t in threading.enumerate() if t is not threading.current_thread()):
                    # (the thread that just stopped may still be ending its last round)
                    for t in threading.enumerate():
                        if t.name == "nnext-playground":
                            t.join(30)
                    if pg.playing:
                        raise AssertionError("playing after pause()")
                if pg.error is not None and not isinstance(pg.error, FloatingPointError):
                    raise AssertionError(f"play ended with {pg.error!r}")
            elif op == "grid":
                P, layers = pg.grid(b.int(2, 6))
                if layers[-1].shape != (P.shape[0], 1):
                    raise AssertionError("grid's output shape")
            elif op == "delta":
                pg.delta(b.int(-1, 4), b.int(-1, 8))
            else:
                getattr(pg, op)()
        except FloatingPointError:
            if op != "step" or not isinstance(pg.error, FloatingPointError):
                raise
        except DOCUMENTED:
            assert_pg_unchanged(pg, before, op)
        assert_pg_describes(pg)
    assert_pg_describes(pg, run_code=True)


# ---------------------------------------------------------------- the estimator

_ACT = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


def est_snapshot(est):
    d = dict(est.__dict__)
    net = d.get("network_")
    lists = {k: list(v) for k, v in d.items() if isinstance(v, list)}
    return d, lists, net, None if net is None else net._checkpoint()


def assert_est_unchanged(est, before, what):
    d, lists, net, checkpoint = before
    now = est.__dict__
    if sorted(now) != sorted(d) or any(now[k] is not d[k] for k in d if k not in lists):
        raise AssertionError(f"{what} raised but changed the estimator's attributes")
    if any(now[k] != v for k, v in lists.items()):
        raise AssertionError(f"{what} raised but changed a list attribute")
    if net is not None and not same_checkpoint(net._checkpoint(), checkpoint):
        raise AssertionError(f"{what} raised but changed the network's parameters or optimizer state")


def assert_est_consistent(est, X, after_fit):
    net = est.__dict__.get("network_")
    if net is None:
        return
    params, opt = net._checkpoint()
    if not np.all(np.isfinite(params)) or (opt is not None and not np.all(np.isfinite(opt[2]))):
        raise AssertionError("a fitted estimator with non-finite parameters or optimizer state")
    multilabel = est._label_binarizer.y_type_.startswith("multilabel")
    k = len(est.classes_)
    if net.sizes[-1] != (k if multilabel or k > 2 else 1):
        raise AssertionError(f"{k} classes with {net.sizes[-1]} outputs")
    if after_fit:
        if net.activations[:-1] != [_ACT[est.activation]] * (len(net.sizes) - 2):
            raise AssertionError(f"activation {est.activation!r} but the network has {net.activations}")
        if est.dtype is not None and net.dtype != np.dtype(est.dtype):
            raise AssertionError(f"dtype {est.dtype!r} but the network is {net.dtype}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = est.predict(X[:, :est.n_features_in_])  # (a refit may have taken fewer columns)
    labels = set(np.unique(pred)) if multilabel else set(pred)
    if not labels <= (set(est.classes_) | ({0, 1} if multilabel else set())):
        raise AssertionError(f"predict gave {labels}, classes_ are {list(est.classes_)}")


def targets(b, n):
    kind = b.int(0, 4)
    if kind == 0:
        return np.array(["no", "yes"])[np.arange(n) % 2], None
    if kind == 1:
        k = b.int(2, 4)
        return np.arange(n) % k, np.arange(k)
    if kind == 2:
        return (np.arange(n) % 2).astype(float), np.array([0.0, 1.0])
    if kind == 3:
        Y = np.zeros((n, 3), dtype=int)
        Y[np.arange(n), np.arange(n) % 3] = 1
        Y[::2, 0] = 1
        return Y, np.arange(3)
    return np.arange(n) % 3 + 10, np.array([10, 11, 12])


def params(b):
    key = b.pick(["activation", "dtype", "warm_start", "hidden_layer_sizes", "solver", "early_stopping",
                  "learning_rate_init", "alpha", "batch_size", "max_iter", "momentum", "shuffle",
                  "learning_rate"])
    if b.int(0, 6) == 0:
        return {key: bad_value(b)}
    return {key: {
        "activation": lambda: b.pick(list(_ACT)),
        "dtype": lambda: b.pick(["float64", "float32", None]),
        "warm_start": b.bool,
        "hidden_layer_sizes": lambda: tuple(b.int(1, 5) for _ in range(b.int(1, 2))),
        "solver": lambda: b.pick(["sgd", "adam", "lbfgs"]),
        "early_stopping": b.bool,
        "learning_rate_init": lambda: b.pick([1e-4, 0.01, 0.1, 1.0, 100.0]),
        "alpha": lambda: b.pick([0.0, 1e-4, 1.0]),
        "batch_size": lambda: b.pick(["auto", 1, 7, 100]),
        "max_iter": lambda: b.int(1, 5),
        "momentum": lambda: b.pick([0.0, 0.9]),
        "shuffle": b.bool,
        "learning_rate": lambda: b.pick(["constant", "invscaling", "adaptive"]),
    }[key]()}


def run_estimator(b):
    rs = np.random.RandomState(b.int(0, 1000))
    n = b.int(12, 40)
    X = rs.normal(size=(n, 3)) * b.pick([1.0, 1.0, 1e3])
    est = MLPClassifier(hidden_layer_sizes=(b.int(1, 5),), max_iter=b.int(1, 5), random_state=b.int(0, 9),
                        solver=b.pick(["sgd", "adam"]), n_iter_no_change=2, validation_fraction=0.3)
    fitted_now = False
    for _ in range(b.int(1, 8)):
        if not b.left():
            break
        op = b.pick(["fit", "fit", "partial_fit", "partial_fit", "set_params", "set_params", "predict"])
        y, classes = targets(b, n)
        Xc = X
        if b.int(0, 9) == 0:  # bad data: NaN, another width, another row count
            Xc = b.pick([np.where(np.arange(n)[:, None] == 1, np.nan, X), X[:, :2], X[:-1]])
        before = est_snapshot(est)
        fitted_now = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if op == "fit":
                    est.fit(Xc, y)
                    fitted_now = True
                elif op == "partial_fit":
                    if hasattr(est, "partial_fit"):  # (not with solver='lbfgs')
                        est.partial_fit(Xc, y, classes=classes if b.int(0, 5) else None)
                        fitted_now = True
                elif op == "set_params":
                    est.set_params(**params(b))
                else:
                    est.predict(Xc)
        except DOCUMENTED:
            fitted_now = False
            assert_est_unchanged(est, before, op)
        assert_est_consistent(est, X, fitted_now)


def one_input(data):
    b = Bytes(data)
    if b.bool():
        run_playground(b)
    else:
        run_estimator(b)


def test_one_input(data):
    if atheris is not None:
        import fuzzlib  # noqa: F401  (its keep_failing_input writes the artifact)
        with fuzzlib.keep_failing_input(data):
            one_input(data)
    else:
        one_input(data)


def replay(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p))
        else:
            files.append(p)
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        try:
            one_input(data)
        except BaseException:
            print(f"failing input: {path}", file=sys.stderr)
            raise
    print(f"replayed {len(files)} inputs: every invariant held")


def random_inputs(count, seed, save=None):
    rng = np.random.default_rng(seed)
    for i in range(count):
        data = rng.integers(0, 256, size=int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
        if save:
            with open(os.path.join(save, f"random-{seed}-{i}"), "wb") as f:
                f.write(data)
        try:
            one_input(data)
        except BaseException:
            print(f"failing input {i} (seed {seed}): {data.hex()}", file=sys.stderr)
            raise
    print(f"ran {count} random inputs (seed {seed}): every invariant held")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--replay"]:
        replay(args[1:])
    elif args[:1] == ["--random"]:
        seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
        save = args[args.index("--save") + 1] if "--save" in args else None
        random_inputs(int(args[1]), seed, save)
    else:
        if atheris is None:
            sys.exit("atheris is not installed (pip install atheris==3.0.0): use --replay DIR or --random N")
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
