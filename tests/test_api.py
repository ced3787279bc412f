"""The Network API: attributes, buffers, copies, persistence, shapes, init,
dtypes, input kinds, callbacks."""
import pickle
import re

import numpy as np
import pytest

import reference as R
from nnext import Network

INITS = ["uniform", "normal", "xavier", "he"]


def ref_predict(net, X):
    ws = [np.asarray(w, dtype=np.float64) for w in net.weights]
    bs = None if net.biases is None else [np.asarray(b, dtype=np.float64) for b in net.biases]
    return R.forward(ws, bs, list(net.activations), X)[-1]


def all_params(net):
    return list(net.weights) + (list(net.biases) if net.biases is not None else [])


def data(n=6, d=3, k=2, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)), rng.uniform(0, 1, (n, k))


# --- attributes ------------------------------------------------------------------

def test_attributes_defaults():
    net = Network([3, 4, 2], seed=0)
    assert net.sizes == [3, 4, 2]
    assert all(type(s) is int for s in net.sizes)
    assert list(net.activations) == ["sigmoid", "sigmoid"]
    assert net.dtype == np.dtype("float64")
    assert isinstance(net.dtype, np.dtype)
    assert isinstance(net.weights, list) and isinstance(net.biases, list)
    assert [w.shape for w in net.weights] == [(3, 4), (4, 2)]
    assert [b.shape for b in net.biases] == [(4,), (2,)]
    assert all(w.dtype == np.float64 for w in all_params(net))


def test_biases_none_without_bias():
    net = Network([3, 4, 2], bias=False, seed=0)
    assert net.biases is None
    X, _ = data()
    np.testing.assert_allclose(net.predict(X), ref_predict(net, X), rtol=1e-12)


def test_activation_list_per_layer():
    acts = ["relu", "tanh", "softmax"]
    net = Network([3, 5, 4, 3], activation=acts, seed=2)
    assert list(net.activations) == acts
    X, _ = data(d=3)
    p = net.predict(X)
    np.testing.assert_allclose(p, ref_predict(net, X), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("act", R.HIDDEN_ACTIVATIONS)
def test_single_activation_name_applies_to_all_layers(act):
    net = Network([3, 5, 2], activation=act, seed=3)
    assert list(net.activations) == [act, act]
    for b in net.biases:
        b[:] = np.linspace(-0.5, 0.5, b.size)
    X, _ = data(d=3)
    X = 3 * X
    np.testing.assert_allclose(net.predict(X), ref_predict(net, X), rtol=1e-12, atol=1e-15)


def test_repr_mentions_sizes():
    net = Network([7, 5, 2], seed=0)
    r = repr(net)
    assert isinstance(r, str)
    assert re.search(r"7\D{1,3}5\D{1,3}2", r), r


# --- buffers ---------------------------------------------------------------------

def test_weights_are_the_networks_own_buffers():
    net = Network([3, 4, 2], seed=0)
    X, _ = data()
    before = net.predict(X)
    net.weights[1][:] = 0
    after = net.predict(X)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, ref_predict(net, X), rtol=1e-12)
    np.testing.assert_allclose(after, np.broadcast_to(R.sigmoid(net.biases[1]), after.shape),
                               rtol=1e-12)
    net.weights[0][:] = 0
    net.biases[1][:] = 0
    np.testing.assert_allclose(net.predict(X), 0.5, rtol=1e-15)
    net.biases[1][:] = [1.0, -2.0]
    np.testing.assert_allclose(net.predict(X), np.tile(R.sigmoid(np.array([1.0, -2.0])), (6, 1)),
                               rtol=1e-12)


def test_weights_buffers_follow_training():
    net = Network([3, 4, 2], seed=0)
    X, y = data()
    w0 = net.weights[0]
    b0 = net.biases[0]
    snap = w0.copy()
    net.fit(X, y, epochs=5, lr=0.5, loss="mse")
    assert not np.array_equal(w0, snap)
    assert np.array_equal(w0, net.weights[0])
    assert np.array_equal(b0, net.biases[0])


# --- copy, pickle, save/load ----------------------------------------------------------

def _assert_same_net(a, b):
    assert a.sizes == b.sizes
    assert list(a.activations) == list(b.activations)
    assert a.dtype == b.dtype
    assert (a.biases is None) == (b.biases is None)
    for u, v in zip(all_params(a), all_params(b)):
        assert u.dtype == v.dtype
        assert np.array_equal(u, v)


def test_copy_is_independent():
    net = Network([3, 4, 2], activation=["tanh", "sigmoid"], seed=0)
    X, y = data()
    c = net.copy()
    _assert_same_net(net, c)
    assert np.array_equal(net.predict(X), c.predict(X))
    before = [p.copy() for p in all_params(net)]
    c.weights[0][:] = 0
    c.biases[0][:] = 1
    c.fit(X, y, epochs=3, lr=0.1, loss="mse")
    for p, q in zip(all_params(net), before):
        assert np.array_equal(p, q)
    net.weights[1][:] = 5
    assert not np.any(c.weights[1] == 5)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pickle_round_trip(bias, dtype):
    net = Network([3, 4, 2], activation=["elu", "softmax"], bias=bias, seed=1, dtype=dtype)
    X, _ = data()
    net2 = pickle.loads(pickle.dumps(net))
    _assert_same_net(net, net2)
    assert np.array_equal(net.predict(X), net2.predict(X))
    net2.weights[0][:] = 0
    assert not np.all(net.weights[0] == 0)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip(tmp_path, bias, dtype):
    net = Network([3, 5, 4, 2], activation=["leaky_relu", "tanh", "sigmoid"], bias=bias,
                  seed=4, dtype=dtype)
    X, y = data()
    net.fit(X, y, epochs=3, lr=0.1, loss="bce")
    path = str(tmp_path / "net.npz")
    net.save(path)
    with np.load(path, allow_pickle=False) as f:
        assert len(f.files) > 0
        for k in f.files:
            f[k]  # every entry loads without pickle
    net2 = Network.load(path)
    _assert_same_net(net, net2)
    assert np.array_equal(net.predict(X), net2.predict(X))
    net2.fit(X, y, epochs=1, lr=0.1, loss="bce")
    net.fit(X, y, epochs=1, lr=0.1, loss="bce")
    for u, v in zip(all_params(net), all_params(net2)):
        assert np.array_equal(u, v)


# --- predict, forward, feedforward -------------------------------------------------------

def test_predict_shapes():
    net = Network([3, 4, 2], seed=0)
    X, _ = data(n=5)
    p = net.predict(X)
    assert isinstance(p, np.ndarray) and p.shape == (5, 2)
    p1 = net.predict(X[2])
    assert p1.shape == (2,)
    np.testing.assert_allclose(p1, p[2], rtol=1e-14)
    assert net.predict(X[:1]).shape == (1, 2)
    one = Network([3, 1], seed=0)
    assert one.predict(X).shape == (5, 1)
    assert one.predict(X[0]).shape == (1,)


def test_predict_large_batch_matches_reference():
    net = Network([6, 16, 3], activation=["relu", "softmax"], seed=8)
    X = np.random.RandomState(3).normal(size=(2500, 6))
    np.testing.assert_allclose(net.predict(X), ref_predict(net, X), rtol=1e-11, atol=1e-15)


def test_forward_returns_all_layers():
    acts = ["tanh", "relu", "sigmoid"]
    net = Network([3, 5, 4, 2], activation=acts, seed=6)
    X, _ = data(n=4)
    outs = net.forward(X)
    assert len(outs) == 4
    assert np.array_equal(np.asarray(outs[0]), X)
    ws = [np.asarray(w) for w in net.weights]
    ref = R.forward(ws, list(net.biases), acts, X)
    for o, r in zip(outs, ref):
        assert o.shape == r.shape
        np.testing.assert_allclose(o, r, rtol=1e-12, atol=1e-15)


def test_feedforward_returns_python_float_for_one_output():
    net = Network([2, 3, 1], seed=0)
    x = np.array([0.5, -1.0])
    out = net.feedforward(x)
    assert type(out) is float
    assert out == pytest.approx(float(ref_predict(net, x.reshape(1, -1))[0, 0]), rel=1e-13)


# --- init ---------------------------------------------------------------------

@pytest.mark.parametrize("init", INITS)
def test_init_shapes_and_reproducible(init):
    sizes = [20, 30, 10]
    a = Network(sizes, init=init, seed=3)
    b = Network(sizes, init=init, seed=3)
    c = Network(sizes, init=init, seed=4)
    assert [w.shape for w in a.weights] == [(20, 30), (30, 10)]
    assert [x.shape for x in a.biases] == [(30,), (10,)]
    for u, v, w in zip(a.weights, b.weights, c.weights):
        assert np.all(np.isfinite(u))
        assert np.array_equal(u, v)
        assert not np.array_equal(u, w)
        assert np.std(u) > 0
    for u, v in zip(a.biases, b.biases):
        assert np.array_equal(u, v)


def test_uniform_init_range():
    net = Network([30, 40, 5], init="uniform", seed=0)
    for w in net.weights:
        assert w.min() >= -1 and w.max() < 1
        assert w.min() < -0.8 and w.max() > 0.8


def test_default_init_is_trask_uniform():
    a = Network([3, 4, 1], bias=False, seed=1)
    b = Network([3, 4, 1], bias=False, seed=1, init="uniform")
    for u, v in zip(a.weights, b.weights):
        assert np.array_equal(u, v)


def test_init_scales_differ():
    """xavier and he scale with the fan-in: a wide layer gets small weights."""
    for init in ["xavier", "he"]:
        net = Network([400, 400, 1], init=init, seed=0)
        s = np.std(net.weights[0])
        assert 0.01 < s < 0.2, (init, s)
    s_he = np.std(Network([400, 400, 1], init="he", seed=0).weights[0])
    s_xa = np.std(Network([400, 400, 1], init="xavier", seed=0).weights[0])
    assert s_he > s_xa


@pytest.mark.parametrize("init", INITS)
def test_init_accepts_generator_objects(init):
    sizes = [5, 4, 3]
    a = Network(sizes, init=init, seed=np.random.RandomState(11))
    b = Network(sizes, init=init, seed=np.random.RandomState(11))
    c = Network(sizes, init=init, seed=np.random.default_rng(11))
    d = Network(sizes, init=init, seed=np.random.default_rng(11))
    for u, v in zip(a.weights, b.weights):
        assert u.shape == v.shape and np.array_equal(u, v)
    for u, v in zip(c.weights, d.weights):
        assert u.shape == v.shape and np.array_equal(u, v)
    assert [w.shape for w in c.weights] == [(5, 4), (4, 3)]


def test_randomstate_seed_matches_int_seed_for_uniform():
    a = Network([3, 4, 1], bias=False, seed=1)
    b = Network([3, 4, 1], bias=False, seed=np.random.RandomState(1))
    for u, v in zip(a.weights, b.weights):
        assert np.array_equal(u, v)


# --- from_weights ------------------------------------------------------------------

def test_from_weights_copies_and_infers_sizes():
    W0 = np.arange(12, dtype=float).reshape(3, 4) / 10
    W1 = np.ones((4, 2))
    b0 = np.zeros(4)
    b1 = np.array([0.1, -0.1])
    net = Network.from_weights([W0, W1], [b0, b1], activation=["tanh", "linear"])
    assert net.sizes == [3, 4, 2]
    assert list(net.activations) == ["tanh", "linear"]
    assert np.array_equal(net.weights[0], W0)
    X, _ = data()
    np.testing.assert_allclose(net.predict(X), R.forward([W0, W1], [b0, b1], ["tanh", "linear"], X)[-1],
                               rtol=1e-12)
    net.weights[0][:] = 0
    assert W0[0, 1] == 0.1  # the caller's array is not the network's buffer


def test_from_weights_without_biases():
    W = [np.array([[0.5], [-0.25], [1.0]])]
    net = Network.from_weights(W, None)
    assert net.biases is None
    np.testing.assert_allclose(net.predict(R.TRASK_X), R.sigmoid(R.TRASK_X @ W[0]), rtol=1e-13)


# --- dtype ---------------------------------------------------------------------

def test_float32_network():
    net = Network([3, 4, 2], seed=0, dtype="float32")
    assert net.dtype == np.dtype("float32")
    assert all(p.dtype == np.float32 for p in all_params(net))
    X, y = data()
    p = net.predict(X)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, ref_predict(net, X.astype(np.float32)), rtol=1e-5)
    assert net.predict(X[0]).dtype == np.float32
    assert all(o.dtype == np.float32 for o in net.forward(X)[1:])
    net.fit(X, y, epochs=2, lr=0.1, loss="mse")
    assert all(p.dtype == np.float32 for p in all_params(net))
    assert net.copy().dtype == np.dtype("float32")


def test_dtype_accepts_numpy_types():
    assert Network([2, 2], dtype=np.float32).dtype == np.dtype("float32")
    assert Network([2, 2], dtype=np.dtype("float64")).dtype == np.dtype("float64")


# --- input kinds ---------------------------------------------------------------

def _variants(X):
    Xc = np.ascontiguousarray(X, dtype=np.float64)
    big = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    big[::2, ::3] = Xc
    return {
        "list": Xc.tolist(),
        "fortran": np.asfortranarray(Xc),
        "strided": big[::2, ::3],
    }


def test_inputs_kinds_predict_fit_gradients():
    net = Network([3, 4, 2], activation=["tanh", "sigmoid"], seed=0)
    X, y = data(n=7)
    base_pred = net.predict(X)
    base_grad = net.gradients(X, y, loss="mse")
    base_fit = net.copy()
    base_fit.fit(X, y, epochs=5, lr=0.3, loss="mse", batch_size=3)
    Xv, yv = _variants(X), _variants(y)
    for name in Xv:
        np.testing.assert_allclose(net.predict(Xv[name]), base_pred, rtol=1e-14, err_msg=name)
        dW, db = net.gradients(Xv[name], yv[name], loss="mse")
        for g, h in zip(list(dW) + list(db), list(base_grad[0]) + list(base_grad[1])):
            np.testing.assert_allclose(g, h, rtol=1e-14, atol=1e-300, err_msg=name)
        c = net.copy()
        c.fit(Xv[name], yv[name], epochs=5, lr=0.3, loss="mse", batch_size=3)
        for u, v in zip(all_params(c), all_params(base_fit)):
            np.testing.assert_allclose(u, v, rtol=1e-13, err_msg=name)


def test_integer_inputs():
    net = Network([3, 4, 1], seed=0)
    Xi = R.TRASK_X
    Xf = Xi.astype(np.float64)
    np.testing.assert_allclose(net.predict(Xi), net.predict(Xf), rtol=1e-15)
    np.testing.assert_allclose(net.predict(Xi.astype(np.int32)), net.predict(Xf), rtol=1e-15)
    a, b = net.copy(), net.copy()
    a.fit(Xi, R.TRASK_Y2, epochs=10, lr=1.0, loss="sse")
    b.fit(Xf, R.TRASK_Y2.astype(float), epochs=10, lr=1.0, loss="sse")
    for u, v in zip(all_params(a), all_params(b)):
        np.testing.assert_allclose(u, v, rtol=1e-14)
    g1 = net.gradients(Xi.tolist(), R.TRASK_Y2.tolist(), loss="sse")
    g2 = net.gradients(Xf, R.TRASK_Y2.astype(float), loss="sse")
    for u, v in zip(list(g1[0]) + list(g1[1]), list(g2[0]) + list(g2[1])):
        np.testing.assert_allclose(u, v, rtol=1e-14)


def test_float32_input_to_float64_network():
    net = Network([3, 4, 2], seed=0)
    X, _ = data()
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(net.predict(X32), ref_predict(net, X32.astype(np.float64)), rtol=1e-12)


# --- callback ------------------------------------------------------------------

def test_callback_called_every_epoch():
    net = Network([3, 4, 2], seed=0)
    X, y = data()
    calls = []

    def cb(epoch, n, loss):
        assert n is net
        calls.append((epoch, loss, n.weights[0].copy()))

    hist = net.fit(X, y, epochs=7, lr=0.2, loss="mse", callback=cb)
    assert [c[0] for c in calls] == list(range(7))
    assert len(hist.loss) == 7
    np.testing.assert_allclose([c[1] for c in calls], np.asarray(hist.loss, float), rtol=1e-15)
    # called after the epoch's update: the last call sees the final weights
    assert np.array_equal(calls[-1][2], net.weights[0])
    assert not np.array_equal(calls[0][2], calls[1][2])


def test_callback_false_stops_training():
    net = Network([3, 4, 2], seed=0)
    ref = net.copy()
    X, y = data()

    def cb(epoch, n, loss):
        return epoch < 3  # False at epoch 3

    hist = net.fit(X, y, epochs=100, lr=0.2, loss="mse", callback=cb)
    assert len(hist.loss) == 4
    ref.fit(X, y, epochs=4, lr=0.2, loss="mse")
    for u, v in zip(all_params(net), all_params(ref)):
        assert np.array_equal(u, v)


def test_callback_none_continues():
    net = Network([3, 2], seed=0)
    X, y = data()
    hist = net.fit(X, y, epochs=5, lr=0.1, loss="mse", callback=lambda e, n, l: None)
    assert len(hist.loss) == 5


def test_fit_zero_epochs_is_a_no_op():
    net = Network([3, 2], seed=0)
    X, y = data()
    before = [p.copy() for p in all_params(net)]
    hist = net.fit(X, y, epochs=0, lr=0.1, loss="mse")
    assert len(hist.loss) == 0
    for u, v in zip(all_params(net), before):
        assert np.array_equal(u, v)
