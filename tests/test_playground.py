"""nnext.playground driven from code (no browser), and the toy data sets of
nnext.datasets against TensorFlow Playground's definitions (src/dataset.ts),
written out here point by point in plain Python.

The browser test (JupyterLab + Chromium) is tests/test_playground_browser.py.
"""
import math
import struct
import sys
import threading
import time
import zlib

import numpy as np
import pytest

import reference
from nnext import Network, datasets
from nnext import playground as pgm
from nnext.playground import FEATURES, Playground, features


# ---------------------------------------------------------------- the data sets

def _uniform_stream(seed):
    """The generators' draws, one at a time: the same Generator, so the loops
    below follow the definitions in the Playground's own order of draws per
    array (the vectorised code draws whole arrays; each loop below consumes the
    same arrays)."""
    return np.random.default_rng(seed)


def test_circle_against_definition():
    n, noise, seed = 101, 0.2, 5
    X, y = datasets.circle(n, noise=noise, seed=seed)
    rng = _uniform_stream(seed)
    r = np.concatenate([rng.random(n // 2) * 2.5, rng.random(n - n // 2) * 1.5 + 3.5])
    angle = rng.random(n) * 2 * math.pi
    noise_xy = (rng.random((n, 2)) * 10 - 5) * noise
    for i in range(n):
        x, yy = r[i] * math.sin(angle[i]), r[i] * math.cos(angle[i])
        assert X[i] == pytest.approx([x, yy], abs=1e-12)
        inside = math.hypot(x + noise_xy[i, 0], yy + noise_xy[i, 1]) < 2.5
        assert y[i] == (1.0 if inside else -1.0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.all(radius[: n // 2] <= 2.5) and np.all((radius[n // 2:] >= 3.5) & (radius[n // 2:] <= 5))
    X0, y0 = datasets.circle(400, noise=0.0, seed=1)   # without noise the label is the true side
    assert np.array_equal(y0, np.where(np.hypot(X0[:, 0], X0[:, 1]) < 2.5, 1.0, -1.0))
    assert np.sum(y0 == 1) == 200


def test_xor_against_definition():
    X, y = datasets.xor(300, noise=0.0, seed=2)
    assert np.all(np.abs(X) >= 0.3) and np.all(np.abs(X) <= 5.3)
    assert np.array_equal(y, np.where(X[:, 0] * X[:, 1] >= 0, 1.0, -1.0))
    n, noise, seed = 50, 0.5, 3
    X, y = datasets.xor(n, noise=noise, seed=seed)
    rng = _uniform_stream(seed)
    base = rng.random((n, 2)) * 10 - 5
    moved_by = (rng.random((n, 2)) * 10 - 5) * noise
    for i in range(n):
        x = base[i, 0] + (0.3 if base[i, 0] > 0 else -0.3)
        yy = base[i, 1] + (0.3 if base[i, 1] > 0 else -0.3)
        assert X[i] == pytest.approx([x, yy], abs=1e-12)
        assert y[i] == (1.0 if (x + moved_by[i, 0]) * (yy + moved_by[i, 1]) >= 0 else -1.0)


@pytest.mark.parametrize("noise", [0.0, 0.25, 0.5])
def test_gaussians_against_definition(noise):
    n = 40000
    X, y = datasets.gaussians(n, noise=noise, seed=4)
    variance = 0.5 + noise / 0.5 * 3.5          # the Playground's linear scale [0, .5] -> [0.5, 4]
    for label, centre in ((1.0, 2.0), (-1.0, -2.0)):
        part = X[y == label]
        assert len(part) == n // 2
        assert np.allclose(part.mean(axis=0), centre, atol=5 * math.sqrt(variance / len(part)))
        assert np.allclose(part.var(axis=0), variance, rtol=0.05)
    assert np.all(y[: n // 2] == 1) and np.all(y[n // 2:] == -1)


def test_spiral_against_definition():
    n, noise, seed = 60, 0.3, 6
    X, y = datasets.spiral(n, noise=noise, seed=seed)
    shift = (np.random.default_rng(seed).random((n, 2)) * 2 - 1) * noise
    k = 0
    for delta_t, label in ((0.0, 1.0), (math.pi, -1.0)):
        m = n // 2
        for i in range(m):
            r = i / m * 5
            t = 1.75 * i / m * 2 * math.pi + delta_t
            assert X[k] == pytest.approx([r * math.sin(t) + shift[k, 0], r * math.cos(t) + shift[k, 1]], abs=1e-12)
            assert y[k] == label
            k += 1


def test_plane_against_definition():
    X, y = datasets.plane(500, noise=0.0, seed=7)
    assert np.all(np.abs(X) <= 6)
    assert np.allclose(y, (X[:, 0] + X[:, 1]) / 10, rtol=0, atol=1e-15)
    n, noise, seed = 30, 0.4, 8
    X, y = datasets.plane(n, noise=noise, seed=seed)
    rng = _uniform_stream(seed)
    base = rng.random((n, 2)) * 12 - 6
    moved_by = (rng.random((n, 2)) * 12 - 6) * noise
    assert np.allclose(X, base, atol=1e-12)
    assert np.allclose(y, (base[:, 0] + moved_by[:, 0] + base[:, 1] + moved_by[:, 1]) / 10, atol=1e-12)


def test_multi_gaussian_against_definition():
    n, noise, seed = 200, 0.1, 9
    X, y = datasets.multi_gaussian(n, noise=noise, seed=seed)
    rng = _uniform_stream(seed)
    base = rng.random((n, 2)) * 12 - 6
    moved = base + (rng.random((n, 2)) * 12 - 6) * noise
    gaussians = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]]
    for i in range(n):
        label = 0.0                       # getLabel: the first of largest absolute value
        for cx, cy, sign in gaussians:
            d = math.hypot(moved[i, 0] - cx, moved[i, 1] - cy)
            new = sign * min(1.0, max(0.0, 1 - d / 2))
            if abs(new) > abs(label):
                label = new
        assert y[i] == pytest.approx(label, abs=1e-12)
    assert np.allclose(X, base)
    assert np.all(np.abs(y) <= 1)


@pytest.mark.parametrize("name", ["circle", "xor", "gaussians", "spiral", "plane", "multi_gaussian"])
def test_toy_sets_seeded_and_checked(name):
    make = getattr(datasets, name)
    X1, y1 = make(64, noise=0.1, seed=11)
    X2, y2 = make(64, noise=0.1, seed=11)
    X3, _ = make(64, noise=0.1, seed=12)
    assert X1.shape == (64, 2) and y1.shape == (64,) and X1.dtype == np.float64
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2) and not np.array_equal(X1, X3)
    assert np.all(np.abs(X1) <= 6.6)
    for kw, exc, word in [(dict(n=0), ValueError, "n"), (dict(n=2.5), TypeError, "n"),
                          (dict(noise=0.6), ValueError, "noise"), (dict(noise=-0.1), ValueError, "noise"),
                          (dict(noise="a"), TypeError, "noise"), (dict(noise=float("nan")), ValueError, "noise"),
                          (dict(seed=-1), ValueError, "seed"), (dict(seed="x"), TypeError, "seed")]:
        with pytest.raises(exc, match=word):
            make(**{"n": 10, **kw})


def test_split():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10.0)
    (Xa, ya), (Xb, yb) = datasets.split(X, y, train_ratio=0.35, seed=1)
    assert len(ya) == 3 and len(yb) == 7                 # floor(10 * 0.35)
    assert sorted(np.concatenate([ya, yb]).tolist()) == list(range(10))
    assert np.array_equal(Xa[:, 0], 2 * ya) and np.array_equal(Xb[:, 0], 2 * yb)   # rows stay together
    order = np.random.default_rng(1).permutation(10)
    assert np.array_equal(ya, order[:3])
    with pytest.raises(ValueError, match="train_ratio"):
        datasets.split(X, y, train_ratio=1.0)
    with pytest.raises(ValueError, match="same number of rows"):
        datasets.split(X, y[:5])


def test_features():
    X = np.array([[1.5, -2.0], [0.0, 3.0], [-6.0, 6.0]])
    want = {"x1": X[:, 0], "x2": X[:, 1], "x1^2": X[:, 0] ** 2, "x2^2": X[:, 1] ** 2,
            "x1*x2": X[:, 0] * X[:, 1], "sin(x1)": np.sin(X[:, 0]), "sin(x2)": np.sin(X[:, 1])}
    assert set(want) == set(FEATURES)
    F = features(X, list(want))
    assert F.shape == (3, 7)
    for j, name in enumerate(want):
        assert np.array_equal(F[:, j], want[name]), name
    assert np.array_equal(features(X, ["sin(x2)", "x1"]), np.column_stack([np.sin(X[:, 1]), X[:, 0]]))
    with pytest.raises(ValueError, match="feature"):
        features(X, ["x3"])
    with pytest.raises(ValueError, match="twice"):
        features(X, ["x1", "x1"])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        features(X[:, :1], ["x1"])


# ---------------------------------------------------------------- the state object

def test_defaults_follow_the_playground():
    pg = Playground(seed=0)
    assert pg.settings == {"dataset": "circle", "problem": "classification", "noise": 0.0, "train_ratio": 0.5,
                           "batch_size": 10, "features": ["x1", "x2"], "layers": [4, 2], "activation": "tanh",
                           "lr": 0.03, "regularization": None, "rate": 0.0, "n": None}
    assert len(pg.y_train) == 250 and len(pg.y_test) == 250
    assert pg.network.sizes == [2, 4, 2, 1] and pg.network.activations == ["tanh"] * 3
    assert pg.epoch == 0 and not pg.playing
    reg = Playground(dataset="plane", seed=0)
    assert reg.problem == "regression" and len(reg.y_train) == 600
    assert reg.network.activations[-1] == "linear"


BAD_SETTINGS = [
    ("dataset", "moons", ValueError), ("dataset", 3, TypeError),
    ("problem", "ranking", ValueError), ("noise", 0.51, ValueError), ("noise", -0.01, ValueError),
    ("noise", "0.1", TypeError), ("train_ratio", 0.0, ValueError), ("train_ratio", 1.0, ValueError),
    ("train_ratio", float("inf"), ValueError), ("batch_size", 0, ValueError), ("batch_size", 2.0, TypeError),
    ("batch_size", True, TypeError), ("features", [], ValueError), ("features", ["x1", "z"], ValueError),
    ("features", "x1", TypeError), ("features", ["x1", "x1"], ValueError),
    ("layers", [4] * 7, ValueError), ("layers", [9], ValueError), ("layers", [0], ValueError),
    ("layers", [2.5], TypeError), ("layers", 4, TypeError), ("activation", "softmax", ValueError),
    ("activation", "elu", ValueError), ("activation", 1, TypeError),
    ("lr", 0.0, ValueError), ("lr", -1, ValueError), ("lr", float("nan"), ValueError), ("lr", "fast", TypeError),
    ("regularization", "l3", ValueError), ("regularization", 2, TypeError), ("rate", -0.1, ValueError),
    ("rate", [1], TypeError), ("n", 1, ValueError), ("n", 3.0, TypeError),
]


@pytest.mark.parametrize("key,value,exc", BAD_SETTINGS, ids=[f"{k}={v!r}" for k, v, _ in BAD_SETTINGS])
def test_every_setting_validated(key, value, exc):
    pg = Playground(seed=1)
    pg.step(3)
    before = (pg.settings, [w.copy() for w in pg.network.weights], pg.epoch, pg.X_train.copy())
    with pytest.raises(exc, match=key.split("_")[0]):
        pg.set(**{key: value})
    assert pg.settings == before[0] and pg.epoch == before[2]
    assert all(np.array_equal(a, b) for a, b in zip(pg.network.weights, before[1]))
    assert np.array_equal(pg.X_train, before[3])
    with pytest.raises(exc, match=key.split("_")[0]):
        Playground(**{key: value})


def test_setting_mismatch_and_unknown():
    pg = Playground(seed=0)
    with pytest.raises(ValueError, match="regression set"):
        pg.set(dataset="plane", problem="classification")
    with pytest.raises(TypeError, match="unknown playground setting 'learning_rate'"):
        pg.set(learning_rate=0.1)
    with pytest.raises(TypeError, match="seed"):
        Playground(seed="a")
    assert Playground(problem="regression", seed=0).dataset == "plane"
    pg.set(problem="regression")                     # picks that problem's data set
    assert pg.dataset == "plane" and pg.network.activations[-1] == "linear"
    pg.set(dataset="multi_gaussian")
    pg.set(problem="classification")
    pg.set(problem="regression")
    assert pg.dataset == "multi_gaussian"            # the last one of that problem, as the Playground
    pg.set(regularization="L2", rate=0.01)
    assert pg.regularization == "l2"
    pg.set(regularization="none")
    assert pg.regularization is None


def test_buttons_limits():
    pg = Playground(layers=[8] * 6, seed=0)
    with pytest.raises(ValueError, match="6 hidden layers"):
        pg.add_layer()
    with pytest.raises(ValueError, match="1 to 8"):
        pg.add_neuron(0)
    with pytest.raises(ValueError, match="layer"):
        pg.add_neuron(6)
    pg.set(layers=[1])
    with pytest.raises(ValueError, match="1 to 8"):
        pg.remove_neuron(0)
    pg.remove_layer()
    assert pg.layers == [] and pg.network.sizes == [2, 1]
    with pytest.raises(ValueError, match="no hidden layer"):
        pg.remove_layer()
    pg.add_layer()
    pg.add_neuron(0)
    assert pg.layers == [3]
    pg.toggle_feature("x1")
    assert pg.features == ["x2"]
    with pytest.raises(ValueError, match="at least one"):
        pg.toggle_feature("x2")
    pg.toggle_feature("sin(x1)")
    pg.toggle_feature("x1")
    assert pg.features == ["x1", "x2", "sin(x1)"]        # in the Playground's order
    assert pg.network.sizes == [3, 3, 1]


def _params(pg):
    return np.concatenate([w.ravel() for w in pg.network.weights] + [b.ravel() for b in pg.network.biases])


def _script(pg):
    pg.step(5)
    pg.set(lr=0.1)
    pg.step(2)
    pg.set(regularization="l1", rate=0.003)
    pg.step(1)
    pg.set(batch_size=7)
    pg.step(4)


def test_determinism_with_a_seed():
    a, b, c = Playground(dataset="xor", noise=0.2, seed=7), Playground(dataset="xor", noise=0.2, seed=7), \
        Playground(dataset="xor", noise=0.2, seed=8)
    for pg in (a, b, c):
        _script(pg)
    assert a.epoch == 12 and np.array_equal(_params(a), _params(b))
    assert a.history["train_loss"] == b.history["train_loss"]
    assert not np.array_equal(a.X_train, c.X_train)
    # reset: new weights, same data; regenerate: new data; both deterministic from the seed
    data = a.X_train.copy()
    a.reset()
    b.reset()
    assert a.epoch == 0 and np.array_equal(a.X_train, data) and np.array_equal(_params(a), _params(b))
    assert len(a.history["epoch"]) == 1
    a.regenerate()
    b.regenerate()
    assert not np.array_equal(a.X_train, data) and np.array_equal(a.X_train, b.X_train)
    assert np.array_equal(_params(a), _params(b))
    a.step(3)
    b.step(1)
    b.step(2)                        # 3 epochs at once or one by one: the same bits
    assert np.array_equal(_params(a), _params(b)) and a.train_loss == b.train_loss


def test_settings_that_keep_or_restart_the_network():
    pg = Playground(seed=3)
    pg.step(4)
    for key, value in [("lr", 0.3), ("batch_size", 3), ("regularization", "l2"), ("rate", 0.1)]:
        pg.set(**{key: value})
        assert pg.epoch == 4, key                       # training goes on
    for key, value in [("noise", 0.1), ("train_ratio", 0.3), ("features", ["x1"]), ("layers", [3]),
                       ("activation", "relu"), ("dataset", "spiral"), ("n", 100)]:
        pg.step(1)
        pg.set(**{key: value})
        assert pg.epoch == 0, key                       # a new network
    assert len(pg.y_train) == 30 and pg.network.sizes == [1, 3, 1]


def test_losses_and_training_against_numpy():
    pg = Playground(dataset="gaussians", noise=0.3, layers=[3, 2], activation="relu", batch_size=16,
                    lr=0.05, regularization="l2", rate=0.01, seed=5)
    net = pg.network
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    acts = net.activations
    for F, y, got in ((pg.F_train, pg.y_train, pg.train_loss), (pg.F_test, pg.y_test, pg.test_loss)):
        p = reference.forward(W, b, acts, F)[-1]
        assert got == pytest.approx(np.mean((y[:, None] - p) ** 2), rel=1e-12)
    pg.step(3)
    W2, b2, _ = reference.fit(W, b, acts, pg.F_train, pg.y_train, epochs=3, lr=0.05, loss="mse",
                              batch_size=16, l2=0.01)
    for got, want in zip(pg.network.weights + pg.network.biases, W2 + b2):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    p = reference.forward(W2, b2, acts, pg.F_test)[-1]
    assert pg.test_loss == pytest.approx(np.mean((pg.y_test[:, None] - p) ** 2), rel=1e-10)
    # seeing inside: each layer's gradient norm, each neuron's delta (= its bias gradient)
    dW, db = reference.gradients(W2, b2, acts, pg.F_train, pg.y_train[:, None], "mse")
    epochs, norms = pg.gradient_norms()
    assert epochs.tolist() == [0, 1, 2, 3] and norms.shape == (4, 3)       # a record per epoch
    for l in range(3):
        assert norms[-1, l] == pytest.approx(math.sqrt(np.sum(dW[l] ** 2) + np.sum(db[l] ** 2)), rel=1e-9)
    _, delta = pg.delta(1, 1)
    assert delta[-1] == pytest.approx(db[1][1], rel=1e-9, abs=1e-15)
    assert pg.delta(2, 0)[1][-1] == pytest.approx(db[2][0], rel=1e-9)
    for bad in [(3, 0), (0, 3), (-1, 0)]:
        with pytest.raises(ValueError, match="layer|neuron"):
            pg.delta(*bad)


def test_l1_training_against_numpy():
    pg = Playground(dataset="plane", n=60, layers=[2], activation="sigmoid", regularization="l1", rate=0.03,
                    lr=0.1, batch_size=8, seed=2)
    W = [w.copy() for w in pg.network.weights]
    b = [v.copy() for v in pg.network.biases]
    pg.step(2)
    W2, b2, _ = reference.fit(W, b, pg.network.activations, pg.F_train, pg.y_train, epochs=2, lr=0.1,
                              loss="mse", batch_size=8, l1=0.03)
    for got, want in zip(pg.network.weights + pg.network.biases, W2 + b2):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def _per_epoch_reference(net, F_train, y_train, F_test, y_test, epochs, **fit_kw):
    """Epoch 0 to ``epochs`` of ``net`` (a fresh copy) trained by one `Network.fit` call:
    the whole-set losses and the gradient norms its callback sees after every epoch."""
    def measure(net):
        dW, db = net.gradients(F_train, y_train, "mse")
        return (net.loss(F_train, y_train, "mse"), net.loss(F_test, y_test, "mse"),
                [math.sqrt(np.sum(w ** 2) + np.sum(b ** 2)) for w, b in zip(dW, db)])
    seen = [measure(net)]
    net.fit(F_train, y_train, epochs=epochs, loss="mse", callback=lambda e, n, _: seen.append(measure(n)), **fit_kw)
    train, test, norms = zip(*seen)
    return np.array(train), np.array(test), np.array(norms)


def test_history_has_a_record_per_epoch():
    pg = Playground(dataset="spiral", noise=0.1, layers=[5, 3], activation="tanh", batch_size=10, lr=0.03,
                    regularization="l2", rate=0.003, seed=3)
    fresh = pg.network.copy()
    W = [w.copy() for w in pg.network.weights]
    b = [v.copy() for v in pg.network.biases]
    pg.step(200)
    pg.step(300)
    h = pg.history
    assert pg.epoch == 500 and h["epoch"] == list(range(501))
    assert pg.history_stride == 1 and pg.history_cap == pgm.HISTORY_CAP
    assert all(len(v) == 501 for v in h.values())
    assert h["train_loss"][-1] == pg.train_loss and h["test_loss"][-1] == pg.test_loss
    # the same network trained by one fit, measured after every epoch by its callback
    train, test, norms = _per_epoch_reference(fresh, pg.F_train, pg.y_train, pg.F_test, pg.y_test, 500,
                                              lr=0.03, batch_size=10, l2=0.003)
    np.testing.assert_allclose(h["train_loss"], train, rtol=1e-12, atol=0)
    np.testing.assert_allclose(h["test_loss"], test, rtol=1e-12, atol=0)
    np.testing.assert_allclose(pg.gradient_norms()[1], norms, rtol=1e-12, atol=0)
    assert train[-1] < 0.9 * train[0]                  # it learned: the curve is not flat
    # and numpy alone, epoch by epoch (the losses leave out the l2 term)
    acts = pg.network.activations
    for e in range(1, 6):
        W, b, _ = reference.fit(W, b, acts, pg.F_train, pg.y_train, epochs=1, lr=0.03, loss="mse",
                                batch_size=10, l2=0.003)
        for F, y, got in ((pg.F_train, pg.y_train, h["train_loss"][e]), (pg.F_test, pg.y_test, h["test_loss"][e])):
            assert got == pytest.approx(np.mean((y - reference.forward(W, b, acts, F)[-1][:, 0]) ** 2), rel=1e-10)
        dW, db = reference.gradients(W, b, acts, pg.F_train, pg.y_train[:, None], "mse")
        want = [math.sqrt(np.sum(w ** 2) + np.sum(v ** 2)) for w, v in zip(dW, db)]
        np.testing.assert_allclose(h["gradient_norms"][e], want, rtol=1e-9)
        np.testing.assert_allclose(np.concatenate(h["deltas"][e]), np.concatenate(db), rtol=1e-9, atol=1e-15)


def _check_history(pg):
    h = pg.history
    epochs, s = h["epoch"], pg.history_stride
    assert len(epochs) <= pg.history_cap and all(len(v) == len(epochs) for v in h.values())
    assert s & (s - 1) == 0                            # a power of 2
    assert epochs[0] == 0 and epochs[-1] == pg.epoch and epochs == sorted(set(epochs))
    grid = epochs[:-1] if len(epochs) > 1 else epochs
    assert grid == list(range(0, grid[-1] + 1, s))      # every multiple of the stride; the last may be off it
    assert h["train_loss"][-1] == pg.train_loss and h["test_loss"][-1] == pg.test_loss


def test_history_is_capped_and_thinned():
    pg = Playground(dataset="xor", noise=0.1, layers=[3], seed=5, history_cap=40)
    fresh = pg.network.copy()
    for epochs in (1, 7, 30, 13, 300, 1, 1, 649):       # 1,002 epochs, in steps off the stride's grid
        pg.step(epochs)
        _check_history(pg)
    assert pg.epoch == 1002 and pg.history_stride == 32 and pg.history["epoch"][-2:] == [992, 1002]
    assert len(pg.history["epoch"]) == 33
    # each record holds the values of its own epoch (the thinning moves nothing)
    train, test, norms = _per_epoch_reference(fresh, pg.F_train, pg.y_train, pg.F_test, pg.y_test, 1002,
                                              lr=0.03, batch_size=10)
    at = pg.history["epoch"]
    np.testing.assert_allclose(pg.history["train_loss"], train[at], rtol=1e-12, atol=0)
    np.testing.assert_allclose(pg.history["test_loss"], test[at], rtol=1e-12, atol=0)
    np.testing.assert_allclose(pg.gradient_norms()[1], norms[at], rtol=1e-12, atol=0)
    ns = {}
    exec(pg.code(), ns)                                 # the code trains to the last record
    assert ns["train_loss"] == pg.history["train_loss"][-1]
    # a new network starts a new history
    pg.reset()
    assert pg.history["epoch"] == [0] and pg.history_stride == 1
    # the default cap holds on a long run (records at 0, 8, ..., 5000)
    long = Playground(seed=0)
    long.step(2000)
    long.set(lr=0.1)                                    # a setting that keeps the network and its history
    long.step(3000)
    _check_history(long)
    assert long.history_cap == 1000 and long.history_stride == 8 and len(long.history["epoch"]) == 626
    for bad, exc in [(1, ValueError), (0, ValueError), (2.5, TypeError), ("10", TypeError), (True, TypeError)]:
        with pytest.raises(exc, match="history_cap"):
            Playground(history_cap=bad)


def test_line_chart_places_points_by_epoch_and_draws_at_most_a_point_per_pixel():
    svg = pgm._svg_line_chart([(np.array([1.0, 2.0, 3.0]), "#000")], 102, 50, x=[0, 1, 4])
    points = svg.split('points="')[1].split('"')[0].split()
    assert [float(p.split(",")[0]) for p in points] == [2.0, 26.5, 100.0]
    many = pgm._svg_line_chart([(np.arange(1.0, 5001.0), "#000")], 300, 50, x=np.arange(5000) * 2)
    points = many.split('points="')[1].split('"')[0].split()
    assert len(points) <= 300 and points[0].startswith("2.0,") and points[-1].startswith("298.0,")


def test_network_and_code_round_trip():
    pg = Playground(dataset="spiral", noise=0.1, features=["x1", "x2", "sin(x1)", "x1*x2"], layers=[5, 3],
                    activation="tanh", train_ratio=0.6, seed=4)
    _script(pg)
    assert isinstance(pg.network, Network)
    code = pg.code()
    assert "datasets.spiral(" in code and "nnext.Network(" in code and code.count("net.fit(") == 4
    namespace = {}
    exec(compile(code, "<playground code>", "exec"), namespace)
    net = namespace["net"]
    assert net.sizes == pg.network.sizes and net.activations == pg.network.activations
    for got, want in zip(net.weights + net.biases, pg.network.weights + pg.network.biases):
        assert np.array_equal(got, want)
    assert namespace["train_loss"] == pg.train_loss and namespace["test_loss"] == pg.test_loss
    assert np.array_equal(namespace["X_train"], pg.X_train) and np.array_equal(namespace["y_test"], pg.y_test)
    fresh = Playground(seed=9)                  # no training yet: the code only builds
    ns = {}
    exec(fresh.code(), ns)
    assert np.array_equal(ns["net"].weights[0], fresh.network.weights[0]) and ns["train_loss"] == fresh.train_loss


def test_nonfinite_loss_is_reported():
    pg = Playground(dataset="plane", layers=[8, 8], activation="relu", lr=10.0, seed=0)
    with pytest.raises(FloatingPointError):
        pg.step(50)
    assert isinstance(pg.error, FloatingPointError)
    assert all(np.all(np.isfinite(w)) for w in pg.network.weights)
    assert pg.epoch == sum(seg[0] for seg in pg._segments) < 50
    _check_history(pg)                          # the last record is the last finite epoch
    assert np.all(np.isfinite(pg.history["train_loss"]))
    ns = {}
    exec(pg.code(), ns)                         # the code reproduces the last finite state
    assert np.array_equal(ns["net"].weights[0], pg.network.weights[0])


def _pause_within(pg, seconds):
    """pg.pause(), failing (not hanging) if it does not return in time."""
    worker = threading.Thread(target=pg.pause, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"pause did not return within {seconds} s"


def test_play_and_pause():
    pg = Playground(seed=0)
    frames = []
    pg.on_change(lambda p: frames.append(p.epoch))
    pg.play()
    assert pg.playing
    deadline = time.monotonic() + 30
    while pg.epoch < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    _pause_within(pg, 10.0)
    stopped_in = time.monotonic() - started
    assert not pg.playing and pg.epoch >= 50
    assert stopped_in < 2.0, f"pause took {stopped_in:.2f} s"
    epoch = pg.epoch
    time.sleep(0.1)
    assert pg.epoch == epoch and frames and frames[-1] == epoch
    assert pg.history["epoch"][-1] == epoch
    _check_history(pg)
    ns = {}
    exec(pg.code(), ns)                         # what was played is what the code trains
    assert np.array_equal(ns["net"].weights[1], pg.network.weights[1])
    pg.play(epochs_per_step=3)
    while pg.epoch < epoch + 9:
        time.sleep(0.005)
    pg.set(lr=0.1)                              # settings change safely while playing
    pg.pause()
    assert (pg.epoch - epoch) % 3 == 0
    with pytest.raises(ValueError, match="epochs_per_step"):
        pg.play(epochs_per_step=0)
    with pytest.raises(TypeError, match="callback"):
        pg.on_change(3)


def test_grid():
    pg = Playground(seed=0, features=["x1", "x2", "x1^2"])
    P, layers = pg.grid(5)
    assert P.shape == (25, 2) and P[0].tolist() == [-6.0, 6.0] and P[-1].tolist() == [6.0, -6.0]
    assert [a.shape for a in layers] == [(25, 3), (25, 4), (25, 2), (25, 1)]
    assert np.allclose(layers[-1], pg.network.predict(features(P, pg.features)))


def test_png():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3)).astype(np.uint8)
    data = pgm.png(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (5, 7)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = np.frombuffer(zlib.decompress(data[41:41 + idat_len]), dtype=np.uint8).reshape(7, 16)
    assert np.all(raw[:, 0] == 0) and np.array_equal(raw[:, 1:].reshape(7, 5, 3), rgb)
    with pytest.raises(ValueError, match="png"):
        pgm.png(np.zeros((4, 4)))
    pil = pytest.importorskip("PIL.Image")
    import io
    assert np.array_equal(np.asarray(pil.open(io.BytesIO(data)).convert("RGB")), rgb)


def test_colors():
    c = pgm.colors(np.array([-1.0, 0.0, 1.0, 5.0]))
    assert c.tolist() == [list(pgm.NEGATIVE), list(pgm.ZERO), list(pgm.POSITIVE), list(pgm.POSITIVE)]


def test_view_needs_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)     # as if it were not installed
    pg = Playground(seed=0)
    pg.step(2)
    with pytest.raises(ImportError, match=r"pip install .*nnext\[playground\]"):
        pg.view()


# ---------------------------------------------------------------- the widgets call the same methods

def test_widgets_equal_code():
    pytest.importorskip("ipywidgets", reason="the view needs ipywidgets: pip install '.[test]'")
    by_code, by_buttons = Playground(seed=21), Playground(seed=21)
    view = by_buttons.view()
    # data and network controls
    by_code.set(dataset="xor")
    view.dataset.value = "xor"
    by_code.set(noise=0.15)
    view.noise.value = 15
    by_code.set(train_ratio=0.7)
    view.ratio.value = 70
    by_code.toggle_feature("x1*x2")
    view.features["x1*x2"].value = True
    by_code.add_layer()
    view.add_layer_button.click()
    by_code.add_neuron(2)
    view.neuron_buttons.children[2].children[2].click()     # [-] width [+] of hidden layer 2
    by_code.set(activation="relu")
    view.activation.value = "relu"
    assert by_code.settings == by_buttons.settings
    assert np.array_equal(_params(by_code), _params(by_buttons))
    # training controls
    by_code.set(batch_size=4, lr=0.01, regularization="l2", rate=0.003)
    view.batch.value = 4
    view.lr.value = 0.01
    view.regularization.value = "l2"
    view.rate.value = 0.003
    for _ in range(3):
        by_code.step()
        view.step_button.click()
    assert by_code.settings == by_buttons.settings and by_code.epoch == by_buttons.epoch == 3
    assert np.array_equal(_params(by_code), _params(by_buttons))
    assert by_code.code() == by_buttons.code()
    by_code.regenerate()
    view.regen.click()
    by_code.reset()
    view.reset_button.click()
    assert np.array_equal(by_code.X_train, by_buttons.X_train)
    assert np.array_equal(_params(by_code), _params(by_buttons))
    # the view follows changes made from code, and shows the epoch
    by_buttons.set(layers=[2], problem="regression", features=["x1", "x2"], activation="tanh")
    assert view.problem.value == "regression" and view.dataset.value == "plane"
    assert len(view.neuron_buttons.children) == 1
    by_buttons.step(7)
    assert "7" in view.epoch_label.value
    image = view.output_image.value
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    view.discretize.value = True
    assert view.output_image.value != image
    assert view.network_svg.value.count("<image") == 2 + 2 + 1          # features, hidden, output
    assert view.network_svg.value.count("<path") == 2 * 2 + 2 * 1       # every weight drawn
    # a bad click is reported, not lost
    view.remove_layer_button.click()
    view.remove_layer_button.click()
    assert "no hidden layer" in view.status.value
    # play and pause through the button
    view.play_button.click()
    assert by_buttons.playing and view.play_button.description == "Pause"
    deadline = time.monotonic() + 30
    while by_buttons.epoch < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    view.play_button.click()
    assert not by_buttons.playing and by_buttons.epoch >= 30
    assert view.play_button.description == "Play"
    view.code_button.click()
    assert "nnext.Network" in view.code_html.value


def test_upsample_is_linear_interpolation():
    v = np.add.outer(np.arange(4.0), 10 * np.arange(4.0))          # v[i, j] = i + 10 j, linear
    up = pgm._upsample(v, 3)
    assert up.shape == (12, 12)
    centres = (np.arange(12) + 0.5) / 3 - 0.5                     # each fine pixel's centre, coarse units
    c = np.clip(centres, 0, 3)
    assert np.allclose(up, np.add.outer(c, 10 * c))
    assert np.array_equal(pgm._upsample(np.full((5, 5), 0.25), 4), np.full((20, 20), 0.25))


def test_view_close_stops_following():
    pytest.importorskip("ipywidgets", reason="the view needs ipywidgets: pip install '.[test]'")
    pg = Playground(seed=0)
    view = pg.view()
    label = view.epoch_label.value
    view.close()
    pg.step(3)
    assert view.epoch_label.value == label and not pg._listeners
