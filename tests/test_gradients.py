"""Gradients and training of random networks against the numpy reference."""
import numpy as np
import pytest

import reference as R
from conftest import snapshot, assert_same_params
from nnext import Network

HIDDEN = R.HIDDEN_ACTIVATIONS

# (sizes, activations, loss): every hidden activation with every compatible
# output/loss pairing, plus a few deeper and single-layer networks.
CASES = []
for h in HIDDEN:
    CASES.append(([4, 5, 3], [h, "sigmoid"], "bce"))
    CASES.append(([4, 5, 3], [h, "softmax"], "cross_entropy"))
    CASES.append(([4, 5, 2], [h, h], "mse"))
    CASES.append(([3, 6, 2], [h, "linear"], "sse"))
CASES += [
    ([3, 6, 5, 3], ["tanh", "relu", "softmax"], "mse"),
    ([3, 6, 5, 3], ["leaky_relu", "elu", "softmax"], "sse"),
    ([5, 7, 4, 1], ["elu", "sigmoid", "sigmoid"], "bce"),
    ([2, 3, 3, 3, 2], ["sigmoid", "tanh", "leaky_relu", "linear"], "mse"),
    ([4, 3], ["softmax"], "cross_entropy"),
    ([4, 1], ["sigmoid"], "bce"),
    ([4, 2], ["linear"], "mse"),
    ([4, 2], ["tanh"], "sse"),
]
CASE_IDS = ["-".join(map(str, s)) + ":" + ",".join(a) + ":" + l for s, a, l in CASES]


def make_case(sizes, acts, loss, bias, dtype, seed=0, n=7):
    rng = np.random.RandomState(1000 + seed)
    net = Network(sizes, activation=acts, bias=bias, seed=seed, dtype=dtype)
    if bias:
        for b in net.biases:
            b[:] = rng.uniform(-0.5, 0.5, b.shape)
    X = rng.normal(size=(n, sizes[0]))
    k = sizes[-1]
    if loss == "cross_entropy":
        y = np.eye(k)[rng.randint(0, k, n)]
    elif loss == "bce":
        y = rng.randint(0, 2, (n, k)).astype(float)
    elif acts[-1] in ("sigmoid", "softmax"):
        y = rng.uniform(0, 1, (n, k))
    else:
        y = rng.normal(size=(n, k))
    return net, X, y


def ref_params(net):
    """float64 copies of the network's parameters (never its own buffers)."""
    ws = [np.array(w, dtype=np.float64, copy=True) for w in net.weights]
    bs = None if net.biases is None else [np.array(b, dtype=np.float64, copy=True)
                                          for b in net.biases]
    return ws, bs


def _check_close(got, want, rtol, atol_scale):
    scale = max(float(np.max(np.abs(want))), 1e-300) if want.size else 1.0
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=rtol,
                               atol=atol_scale * scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sizes,acts,loss", CASES, ids=CASE_IDS)
def test_gradients_match_reference(sizes, acts, loss, bias, dtype):
    net, X, y = make_case(sizes, acts, loss, bias, dtype)
    snap = snapshot(net)
    dW, db = net.gradients(X, y, loss=loss)
    assert_same_params(net, snap)  # gradients must not change the weights
    ws, bs = ref_params(net)
    Xr = np.asarray(X, dtype=dtype).astype(np.float64)
    rW, rb = R.gradients(ws, bs, acts, Xr, y, loss)
    assert len(dW) == len(rW)
    if dtype == "float64":
        rtol, atol = 1e-10, 1e-12
    else:
        rtol, atol = 1e-4, 1e-4
    for g, r in zip(dW, rW):
        assert g.shape == r.shape
        assert g.dtype == np.dtype(dtype)
        _check_close(g, r, rtol, atol)
    if bias:
        assert db is not None and len(db) == len(rb)
        for g, r in zip(db, rb):
            assert g.shape == r.shape
            assert g.dtype == np.dtype(dtype)
            _check_close(g, r, rtol, atol)
    else:
        assert db is None


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sizes,acts,loss", CASES, ids=CASE_IDS)
def test_gradients_match_finite_differences(sizes, acts, loss, bias):
    net, X, y = make_case(sizes, acts, loss, bias, "float64", seed=1)
    dW, db = net.gradients(X, y, loss=loss)
    ws, bs = ref_params(net)
    fW, fb = R.finite_difference_gradients(ws, bs, acts, X, y, loss)
    for g, f in zip(dW, fW):
        np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-8)
    if bias:
        for g, f in zip(db, fb):
            np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-8)


def test_gradients_float32_network_match_finite_differences_of_float64_copy():
    sizes, acts, loss = [4, 6, 3], ["tanh", "softmax"], "cross_entropy"
    net, X, y = make_case(sizes, acts, loss, True, "float32", seed=2)
    dW, db = net.gradients(X, y, loss=loss)
    ws, bs = ref_params(net)
    Xr = X.astype(np.float32).astype(np.float64)
    fW, fb = R.finite_difference_gradients(ws, bs, acts, Xr, y, loss)
    for g, f in zip(list(dW) + list(db), fW + fb):
        _check_close(g, f, 1e-4, 1e-4)


@pytest.mark.parametrize("sizes,acts,loss", CASES[::3], ids=CASE_IDS[::3])
@pytest.mark.parametrize("bias", [True, False])
def test_one_full_batch_sgd_step(sizes, acts, loss, bias):
    net, X, y = make_case(sizes, acts, loss, bias, "float64", seed=3)
    ws, bs = ref_params(net)
    value, rW, rb = R.loss_and_gradients(ws, bs, acts, X, y, loss)
    lr = 0.3
    hist = net.fit(X, y, epochs=1, lr=lr, loss=loss)
    assert len(hist.loss) == 1
    assert hist.loss[0] == pytest.approx(value, rel=1e-10)
    for got, w, g in zip(net.weights, ws, rW):
        want = w - lr * g
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.max(np.abs(want)))
    if bias:
        for got, b, g in zip(net.biases, bs, rb):
            want = b - lr * g
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * max(np.max(np.abs(want)), 1e-3))


def _fit_both(net, X, y, acts, epochs, lr, loss, **kw):
    ws, bs = ref_params(net)
    rW, rb, rhist = R.fit(ws, bs, acts, X, y, epochs, lr, loss, **kw)
    hist = net.fit(X, y, epochs=epochs, lr=lr, loss=loss, **kw)
    return hist, rW, rb, rhist


def _assert_fit_equal(net, hist, rW, rb, rhist, rtol=1e-9):
    assert len(hist.loss) == len(rhist)
    np.testing.assert_allclose(np.asarray(hist.loss, dtype=float), rhist, rtol=rtol)
    for got, want in zip(net.weights, rW):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)))
    if rb is not None:
        for got, want in zip(net.biases, rb):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(np.max(np.abs(want)), 1e-3))


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10])
def test_minibatch_sgd_matches_reference(batch_size):
    acts = ["tanh", "softmax"]
    net, X, y = make_case([4, 5, 3], acts, "cross_entropy", True, "float64", seed=4, n=10)
    hist, rW, rb, rhist = _fit_both(net, X, y, acts, 20, 0.1, "cross_entropy",
                                    batch_size=batch_size)
    _assert_fit_equal(net, hist, rW, rb, rhist)


def test_minibatch_mse_matches_reference():
    acts = ["relu", "linear"]
    net, X, y = make_case([3, 8, 2], acts, "mse", True, "float64", seed=5, n=11)
    hist, rW, rb, rhist = _fit_both(net, X, y, acts, 30, 0.05, "mse", batch_size=4)
    _assert_fit_equal(net, hist, rW, rb, rhist)


@pytest.mark.parametrize("batch_size", [None, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_momentum_matches_reference(batch_size, bias):
    acts = ["sigmoid", "sigmoid"]
    net, X, y = make_case([4, 6, 2], acts, "bce", bias, "float64", seed=6, n=9)
    kw = {"momentum": 0.9}
    if batch_size is not None:
        kw["batch_size"] = batch_size
    hist, rW, rb, rhist = _fit_both(net, X, y, acts, 40, 0.2, "bce", **kw)
    _assert_fit_equal(net, hist, rW, rb, rhist)


@pytest.mark.parametrize("batch_size", [None, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_adam_matches_reference(batch_size, bias):
    acts = ["elu", "softmax"]
    net, X, y = make_case([4, 6, 3], acts, "cross_entropy", bias, "float64", seed=7, n=10)
    kw = {"optimizer": "adam"}
    if batch_size is not None:
        kw["batch_size"] = batch_size
    hist, rW, rb, rhist = _fit_both(net, X, y, acts, 30, 0.01, "cross_entropy", **kw)
    _assert_fit_equal(net, hist, rW, rb, rhist, rtol=1e-8)


def test_adam_custom_hyperparameters():
    acts = ["tanh", "linear"]
    net, X, y = make_case([3, 5, 2], acts, "mse", True, "float64", seed=8, n=8)
    kw = {"optimizer": "adam", "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "batch_size": 3}
    hist, rW, rb, rhist = _fit_both(net, X, y, acts, 25, 0.02, "mse", **kw)
    _assert_fit_equal(net, hist, rW, rb, rhist, rtol=1e-8)


def test_cross_entropy_integer_labels():
    acts = ["relu", "softmax"]
    net, X, _ = make_case([4, 6, 3], acts, "cross_entropy", True, "float64", seed=10, n=9)
    labels = np.array([0, 2, 1, 1, 0, 2, 2, 1, 0])
    onehot = np.eye(3)[labels]
    net2 = net.copy()
    dW, db = net.gradients(X, labels, loss="cross_entropy")
    dW2, db2 = net.gradients(X, onehot, loss="cross_entropy")
    ws, bs = ref_params(net)
    rW, rb = R.gradients(ws, bs, acts, X, labels, "cross_entropy")
    for g, g2, r in zip(list(dW) + list(db), list(dW2) + list(db2), rW + rb):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12 * np.max(np.abs(r)))
        np.testing.assert_allclose(g, g2, rtol=1e-14, atol=1e-16)
    hist, rW, rb, rhist = _fit_both(net, X, labels, acts, 25, 0.1, "cross_entropy",
                                    batch_size=4)
    _assert_fit_equal(net, hist, rW, rb, rhist)
    hist2 = net2.fit(X, onehot, epochs=25, lr=0.1, loss="cross_entropy", batch_size=4)
    np.testing.assert_allclose(np.asarray(hist2.loss, float), np.asarray(hist.loss, float),
                               rtol=1e-12)
    for a, b in zip(net.weights, net2.weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_float32_fit_close_to_reference():
    acts = ["tanh", "sigmoid"]
    net, X, y = make_case([4, 5, 2], acts, "mse", True, "float32", seed=11, n=8)
    ws, bs = ref_params(net)
    Xr = X.astype(np.float32).astype(np.float64)
    rW, rb, rhist = R.fit(ws, bs, acts, Xr, y, 20, 0.5, "mse")
    hist = net.fit(X, y, epochs=20, lr=0.5, loss="mse")
    for got, want in zip(list(net.weights) + list(net.biases), rW + rb):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(hist.loss, float), rhist, rtol=1e-4)


@pytest.mark.parametrize("bias", [True, False])
def test_split_fits_equal_one_long_fit_bit_for_bit(bias):
    X = R.TRASK_X
    y = R.TRASK_Y2
    a = Network([3, 4, 1], bias=bias, seed=5)
    b = a.copy()
    a.fit(X, y, epochs=3000, lr=0.5, loss="mse")
    a.fit(X, y, epochs=3000, lr=0.5, loss="mse")
    b.fit(X, y, epochs=6000, lr=0.5, loss="mse")
    for u, v in zip(a.weights, b.weights):
        assert np.array_equal(u, v)
    if bias:
        for u, v in zip(a.biases, b.biases):
            assert np.array_equal(u, v)
    assert np.array_equal(a.predict(X), b.predict(X))
