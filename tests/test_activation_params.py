"""Activations with a parameter (issue 17): ("leaky_relu", slope), ("elu", alpha)
and ("maxout", k), against the pure-numpy reference (tests/reference.py) and
finite differences, through every way in and out of a Network.
"""
import copy
import io
import pickle
import zipfile

import numpy as np
import pytest

import nnext
import reference as R
from nnext import Network, _core

ACTS = [  # hidden, hidden, output
    [("leaky_relu", 0.1), ("elu", 0.5), "linear"],
    [("maxout", 3), ("maxout", 2), "sigmoid"],
    [("maxout", 1), ("leaky_relu", 0.0), ("elu", 2.0)],
    [("elu", 0.3), ("maxout", 4), "softmax"],
    [("leaky_relu", 1.0), ("maxout", 2), ("leaky_relu", 0.25)],
]
IDS = ["-".join(a if isinstance(a, str) else f"{a[0]}{a[1]}" for a in acts) for acts in ACTS]
LOSS = {"linear": "mse", "sigmoid": "bce", "elu": "sse", "softmax": "cross_entropy",
        "leaky_relu": "mse"}


def out_name(acts):
    return R.split(acts[-1])[0]


def make(acts, dtype="float64", bias=True, sizes=(3, 5, 4, 2), seed=0):
    net = Network(list(sizes), activation=acts, bias=bias, dtype=dtype, init="normal", seed=seed)
    if bias:
        rng = np.random.RandomState(7 + seed)
        net.biases = [rng.uniform(-1, 1, b.shape) for b in net.biases]
    return net


def data(acts, n=13, seed=0, n_in=3, k=2):
    rng = np.random.RandomState(50 + seed)
    X = rng.normal(size=(n, n_in))
    name = out_name(acts)
    if name == "softmax":
        y = np.eye(k)[rng.randint(0, k, n)]
    elif name == "sigmoid":
        y = rng.uniform(0, 1, (n, k))
    else:
        y = rng.normal(size=(n, k))
    return X, y


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# --------------------------------------------------------------- the layers

@pytest.mark.parametrize("acts", ACTS, ids=IDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_predict_feedforward_match_reference(acts, dtype):
    net = make(acts, dtype)
    X, _ = data(acts)
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    want = R.forward(W, b, acts, X)
    tol = 1e-12 if dtype == "float64" else 2e-5
    assert rel_err(net.predict(X), want[-1]) <= tol
    layers = net.forward(X)
    assert [a.shape for a in layers] == [a.shape for a in want]
    for got, ref in zip(layers, want):
        assert rel_err(got, ref) <= tol
    assert rel_err(net.feedforward(X[0]), want[-1][0]) <= tol


@pytest.mark.parametrize("acts", ACTS, ids=IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_gradients_match_reference_and_finite_differences(acts, bias):
    net = make(acts, bias=bias)
    X, y = data(acts)
    loss = LOSS[out_name(acts)]
    dW, db = net.gradients(X, y, loss=loss)
    W = net.weights
    b = net.biases
    value, rW, rb = R.loss_and_gradients(W, b, acts, X, y, loss)
    assert abs(net.loss(X, y, loss=loss) - value) <= 1e-12 * abs(value)
    for l in range(len(W)):
        assert dW[l].shape == W[l].shape
        assert rel_err(dW[l], rW[l]) <= 1e-10
        if bias:
            assert rel_err(db[l], rb[l]) <= 1e-10
    fW, fb = R.finite_difference_gradients(W, b, acts, X, y, loss)
    for l in range(len(W)):
        assert np.max(np.abs(dW[l] - fW[l])) <= 1e-6 * (1 + np.max(np.abs(fW[l])))
        if bias:
            assert np.max(np.abs(db[l] - fb[l])) <= 1e-6 * (1 + np.max(np.abs(fb[l])))
    check = net.check_gradients(X, y, loss=loss)
    assert check.ok, str(check)


def test_check_gradients_catches_a_wrong_slope():
    """check_gradients rebuilds the network with its parameters: a gradient computed
    with another slope (or alpha, or k) is caught."""
    acts = [("leaky_relu", 0.3), ("elu", 0.5), "linear"]
    net = make(acts)
    X, y = data(acts)
    assert net.check_gradients(X, y).ok
    wrong = R.gradients(net.weights, net.biases, [("leaky_relu", 0.01), ("elu", 0.5), "linear"], X, y, "mse")
    assert not net.check_gradients(X, y, gradients=wrong).ok
    wrong = R.gradients(net.weights, net.biases, [("leaky_relu", 0.3), "elu", "linear"], X, y, "mse")
    assert not net.check_gradients(X, y, gradients=wrong).ok


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_many_rows_in_chunks(dtype):
    """More rows than the binding's cached workspace (256): predict and loss in chunks,
    gradients and training through a workspace made for the call, maxout's
    pre-activations included."""
    acts = [("maxout", 3), ("elu", 0.5), ("maxout", 2), "linear"]
    net = Network([5, 7, 6, 4, 2], activation=acts, dtype=dtype, init="xavier", seed=4)
    X = np.random.RandomState(3).normal(size=(1000, 5))
    y = np.random.RandomState(4).normal(size=(1000, 2))
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert rel_err(net.predict(X), R.forward(W, b, acts, X)[-1]) <= tol
    value, rW, rb = R.loss_and_gradients(W, b, acts, X, y, "mse")
    assert abs(net.loss(X, y) - value) <= tol * value
    dW, db = net.gradients(X, y)
    for l in range(4):
        assert rel_err(dW[l], rW[l]) <= (1e-10 if dtype == "float64" else 1e-4)
    # forward and the trace, large enough that the GIL is released around them
    layers = net.forward(X)
    want = R.forward(W, b, acts, X)
    assert all(rel_err(u, v) <= tol for u, v in zip(layers, want))
    record = net.fit(X, y, epochs=1, lr=0.0, trace_every=1).trace
    assert record["l1_delta"].shape == (1, 1000, 21) and record["l3_delta"].shape == (1, 1000, 8)
    if dtype == "float64":
        fW, fb, fh = R.fit(W, b, acts, X, y, epochs=2, lr=0.05, batch_size=300)
        h = net.fit(X, y, epochs=2, lr=0.05, batch_size=300)
        assert rel_err(h.loss, fh) <= 1e-10 and rel_err(net.weights[2], fW[2]) <= 1e-10


def test_maxout_ties_go_to_the_first_piece():
    # unit 0: pieces 0 and 1 equal (columns duplicated); unit 1: pieces 2 and 3 equal
    W0 = np.array([[1.0, 1.0, -0.5, -0.5], [2.0, 2.0, 0.25, 0.25]])
    net = Network.from_weights([W0, np.array([[1.0], [-1.0]])], [np.zeros(4), np.zeros(1)],
                               activation=[("maxout", 2), "linear"])
    X = np.random.RandomState(0).normal(size=(6, 2))
    y = np.zeros((6, 1))
    dW, db = net.gradients(X, y, loss="sse")
    assert np.all(dW[0][:, [1, 3]] == 0) and np.all(db[0][[1, 3]] == 0)
    assert np.all(dW[0][:, [0, 2]] != 0)
    _, rW, rb = R.loss_and_gradients(net.weights, net.biases, [("maxout", 2), "linear"], X, y, "sse")
    assert np.array_equal(dW[0] == 0, rW[0] == 0) and rel_err(dW[0], rW[0]) <= 1e-12
    assert np.array_equal(net.predict(X), X @ W0[:, [0, 2]] @ np.array([[1.0], [-1.0]]))


def test_defaults_keep_todays_bits():
    """Plain names are the defaults: bit for bit the same network, training and results
    as the explicit default parameters."""
    X, y = data(["linear"], n=40)
    for plain, explicit in [("leaky_relu", ("leaky_relu", 0.01)), ("elu", ("elu", 1.0))]:
        for dtype in ("float64", "float32"):
            a = Network([3, 6, 2], activation=[plain, "linear"], dtype=dtype, seed=3)
            b = Network([3, 6, 2], activation=[explicit, "linear"], dtype=dtype, seed=3)
            assert a.activation_params == b.activation_params == [explicit[1], None]
            assert repr(a) == repr(b) and "(" + repr(plain) not in repr(a)
            ha = a.fit(X, y, epochs=30, lr=0.05, batch_size=8)
            hb = b.fit(X, y, epochs=30, lr=0.05, batch_size=8)
            assert np.asarray(ha.loss).tobytes() == np.asarray(hb.loss).tobytes()
            assert all(u.tobytes() == v.tobytes() for u, v in zip(a.weights, b.weights))
    assert Network([2, 3, 1], activation=["maxout", "linear"]).activation_params == [2, None]
    assert Network([2, 3, 1], activation=["maxout", "linear"]).weights[0].shape == (2, 6)


@pytest.mark.parametrize("init", ["uniform", "normal", "xavier", "he"])
def test_seeded_weights_are_randomstate_draws_of_the_maxout_shape(init):
    """An int seed: the core draws the weights as RandomState(seed) would, each matrix
    (n_in, m*k) for a maxout layer (xavier's scale over those columns)."""
    acts = [("maxout", 3), ("leaky_relu", 0.2), "linear"]
    net = Network([4, 5, 3, 2], activation=acts, init=init, seed=11)
    again = Network([4, 5, 3, 2], activation=acts, init=init, seed=np.random.RandomState(11))
    rs = np.random.RandomState(11)
    for w, v in zip(net.weights, again.weights):
        n_in, cols = w.shape
        if init == "uniform":
            want = 2 * rs.random_sample((n_in, cols)) - 1
        elif init == "normal":
            want = rs.standard_normal((n_in, cols))
        elif init == "xavier":
            want = (2 * rs.random_sample((n_in, cols)) - 1) * np.sqrt(6.0 / (n_in + cols))
        else:
            want = rs.standard_normal((n_in, cols)) * np.sqrt(2.0 / n_in)
        assert w.tobytes() == want.tobytes() and v.tobytes() == want.tobytes()
    assert [w.shape for w in net.weights] == [(4, 15), (5, 3), (3, 2)]


def test_the_parameter_is_used():
    """A wrong slope, alpha or k would change the output: each parameter matters."""
    X, _ = data(["linear"])
    for spec, other in [(("leaky_relu", 0.1), ("leaky_relu", 0.2)), (("elu", 0.5), ("elu", 0.6))]:
        a = Network([3, 4, 1], activation=[spec, "linear"], seed=1)
        b = Network.from_weights(a.weights, a.biases, activation=[other, "linear"])
        assert not np.allclose(a.predict(X), b.predict(X))
        assert rel_err(a.predict(X), R.forward(a.weights, a.biases, [spec, "linear"], X)[-1]) <= 1e-12


# ------------------------------------------------------------- training

OPTIMIZERS = [dict(optimizer="sgd"), dict(optimizer="sgd", momentum=0.9),
              dict(optimizer="sgd", momentum=0.9, nesterov=True), dict(optimizer="adam", lr=0.01),
              dict(optimizer="sgd", l2=0.01, l1=0.001), dict(optimizer="adam", lr=0.01, l2=0.02)]


@pytest.mark.parametrize("acts", ACTS, ids=IDS)
@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()))
def test_fit_matches_reference(acts, opt):
    net = make(acts, sizes=(3, 5, 4, 2))
    X, y = data(acts, n=24)
    loss = LOSS[out_name(acts)]
    opt = dict(opt)
    lr = opt.pop("lr", 0.05)
    W0, b0 = net.weights, net.biases
    rW, rb, rh = R.fit(W0, b0, acts, X, y, epochs=15, lr=lr, loss=loss, batch_size=8, **opt)
    history = net.fit(X, y, epochs=15, lr=lr, loss=loss, batch_size=8, **opt)
    assert rel_err(history.loss, rh) <= 1e-9
    for l in range(3):
        assert rel_err(net.weights[l], rW[l]) <= 1e-9
        assert rel_err(net.biases[l], rb[l]) <= 1e-9


@pytest.mark.parametrize("acts", ACTS[:3], ids=IDS[:3])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_float32_follows_float64(acts, optimizer):
    a = make(acts, "float64")
    b = Network.from_weights(a.weights, a.biases, activation=acts, dtype="float32")
    X, y = data(acts, n=24)
    loss = LOSS[out_name(acts)]
    lr = 0.01 if optimizer == "adam" else 0.05
    ha = a.fit(X, y, epochs=5, lr=lr, loss=loss, batch_size=6, optimizer=optimizer)
    hb = b.fit(X, y, epochs=5, lr=lr, loss=loss, batch_size=6, optimizer=optimizer)
    assert b.dtype == np.float32 and b.activation_params == a.activation_params
    assert rel_err(hb.loss, ha.loss) <= 1e-4
    for u, v in zip(b.weights, a.weights):
        assert rel_err(u, v) <= 1e-4


def test_maxout_learns_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    net = Network([2, 4, 1], activation=[("maxout", 3), "sigmoid"], init="xavier", seed=2)
    net.fit(X, y, epochs=2000, lr=0.5, loss="bce", optimizer="adam")
    assert np.all(np.abs(net.predict(X) - y) < 0.1)


# (the fused path, which takes leaky_relu and elu at any parameter and declines
# maxout, is compared with the general path bit for bit in test_fused.py)


# ------------------------------------------------------------ inspection

def test_trace_deltas_have_the_pre_activation_width():
    acts = [("maxout", 3), ("leaky_relu", 0.2), "linear"]
    net = make(acts, sizes=(3, 5, 4, 2))
    X, y = data(acts)
    history = net.fit(X, y, epochs=1, lr=0.0, loss="sse", trace_every=1)
    record = {k: v[0] for k, v in history.trace.items()}  # epoch 0
    assert record["l1"].shape == (13, 5) and record["l1_delta"].shape == (13, 15)
    assert record["l2_delta"].shape == (13, 4)
    # the deltas are minus dL/dz (Trask's signs): dW0 = l0.T @ -l1_delta
    dW, db = net.gradients(X, y, loss="sse")
    assert rel_err(-X.T @ record["l1_delta"], dW[0]) <= 1e-12
    assert record["l1_error"].shape == (13, 5)
    # and the maxout delta is the reference's: the error sent to the chosen piece
    zs, outs = R._forward_with_z(net.weights, net.biases, acts, X)
    da = -record["l1_error"]
    assert rel_err(-record["l1_delta"], R.activation_backward(acts[0], zs[0], outs[1], da)) <= 1e-12


def test_summary_and_repr():
    net = Network([3, 5, 4, 2], activation=[("maxout", 3), ("leaky_relu", 0.2), "softmax"], seed=0)
    text = io.StringIO()
    net.summary(file=text)
    text = text.getvalue()
    assert "(3, 15)" in text and "(15,)" in text and "maxout(3)" in text and "leaky_relu(0.2)" in text
    assert f"{net.n_params:,}" in text and net.n_params == 3 * 15 + 15 + 5 * 4 + 4 + 4 * 2 + 2
    assert repr(net).startswith("Network(sizes=[3, 5, 4, 2], activation=[('maxout', 3), "
                                "('leaky_relu', 0.2), 'softmax'], bias=True")
    again = eval(repr(net).split("  #")[0], {"Network": Network})
    assert again.activation_params == net.activation_params
    single = Network([2, 3, 3, 1], activation=("leaky_relu", 0.5))
    assert "activation=('leaky_relu', 0.5)" in repr(single)
    assert single.activations == ["leaky_relu"] * 3 and single.activation_params == [0.5] * 3
    assert nnext.ACTIVATIONS["maxout"] == list(_core.ACTIVATIONS).index("maxout")


# ------------------------------------------------------ copies and files

def assert_same(a, b):
    assert (a.sizes, a.activations, a.activation_params, a.bias, a.dtype) == \
        (b.sizes, b.activations, b.activation_params, b.bias, b.dtype)
    assert all(u.tobytes() == v.tobytes() for u, v in zip(a.weights, b.weights))
    if a.bias:
        assert all(u.tobytes() == v.tobytes() for u, v in zip(a.biases, b.biases))


@pytest.mark.parametrize("acts", ACTS, ids=IDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_copy_pickle_save_load(tmp_path, acts, dtype):
    net = make(acts, dtype)
    X, y = data(acts)
    loss = LOSS[out_name(acts)]
    net.fit(X, y, epochs=3, lr=0.01, loss=loss, optimizer="adam")
    for other in (net.copy(), copy.deepcopy(net), pickle.loads(pickle.dumps(net)),
                  Network.load(net.save(tmp_path / "net"))):
        assert_same(other, net)
        assert other.predict(X).tobytes() == net.predict(X).tobytes()
    # the optimizer state travels with copies and pickles: the same next steps
    a, b = net.copy(), pickle.loads(pickle.dumps(net))
    a.fit(X, y, epochs=2, lr=0.01, loss=loss, optimizer="adam")
    b.fit(X, y, epochs=2, lr=0.01, loss=loss, optimizer="adam")
    net.fit(X, y, epochs=2, lr=0.01, loss=loss, optimizer="adam")
    assert_same(a, net)
    assert_same(b, net)


def file_members(path):
    with zipfile.ZipFile(path) as z:
        return {n[:-4]: np.load(z.open(n)) for n in z.namelist()}


def test_file_versions(tmp_path):
    """Version 1 (what nnext wrote before parameters) when every parameter is its
    default; version 2 with "activation_params" otherwise."""
    plain = Network([3, 4, 2], activation=["leaky_relu", "elu"], seed=0)
    m = file_members(plain.save(tmp_path / "plain.npz"))
    assert int(m["version"]) == 1 and "activation_params" not in m
    net = Network([3, 4, 4, 2], activation=[("maxout", 3), ("elu", 0.5), "sigmoid"], seed=0)
    m = file_members(net.save(tmp_path / "params.npz"))
    assert int(m["version"]) == 2
    assert m["activation_params"].dtype == np.float64
    assert list(m["activation_params"][:2]) == [3.0, 0.5] and np.isnan(m["activation_params"][2])
    assert m["W0"].shape == (3, 12) and m["b0"].shape == (12,)


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def old_file(path, **change):
    """A file as nnext wrote it before activation parameters (version 1)."""
    rng = np.random.RandomState(0)
    arrays = {"format": np.array("nnext-network"), "version": np.array(1),
              "sizes": np.array([3, 4, 2], dtype=np.int64),
              "activations": np.array(["leaky_relu", "elu"]), "bias": np.array(True),
              "dtype": np.array("float64"), "W0": rng.normal(size=(3, 4)), "b0": rng.normal(size=4),
              "W1": rng.normal(size=(4, 2)), "b1": rng.normal(size=2)}
    arrays.update(change)
    return write_npz(path, **arrays), arrays


def test_old_files_still_load(tmp_path):
    path, arrays = old_file(tmp_path / "old.npz")
    net = Network.load(path)
    assert net.activations == ["leaky_relu", "elu"] and net.activation_params == [0.01, 1.0]
    X = np.random.RandomState(1).normal(size=(5, 3))
    want = R.forward([arrays["W0"], arrays["W1"]], [arrays["b0"], arrays["b1"]], ["leaky_relu", "elu"], X)
    assert rel_err(net.predict(X), want[-1]) <= 1e-12


BAD_FILES = [
    ("v1 with params", dict(activation_params=np.array([0.1, 1.0])), "activation_params"),
    ("v2 without params", dict(version=np.array(2)), "activation_params"),
    ("v2 bad slope", dict(version=np.array(2), activation_params=np.array([1.5, 1.0])), "slope"),
    ("v2 bad alpha", dict(version=np.array(2), activation_params=np.array([0.1, -1.0])), "alpha"),
    ("v2 wrong count", dict(version=np.array(2), activation_params=np.array([0.1])), "parameters"),
    ("v2 int params", dict(version=np.array(2), activation_params=np.array([1, 1])), "activation_params"),
    ("v3", dict(version=np.array(3)), "version 3"),
    ("maxout k not whole", dict(version=np.array(2), activations=np.array(["maxout", "elu"]),
                                 activation_params=np.array([1.5, 1.0])), "pieces"),
    ("maxout wrong shape", dict(version=np.array(2), activations=np.array(["maxout", "elu"]),
                                activation_params=np.array([2.0, 1.0])), "W0 has shape (3, 4), expected (3, 8)"),
]


@pytest.mark.parametrize("change,mention", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_files_are_refused(tmp_path, change, mention):
    path, _ = old_file(tmp_path / "bad.npz", **change)
    with pytest.raises(ValueError) as info:
        Network.load(path)
    assert mention in str(info.value)


def test_old_pickled_state_loads():
    """A state pickled before activation parameters (no "activation_params") gets the defaults."""
    net = Network([3, 4, 2], activation=["leaky_relu", "elu"], seed=0)
    state = net.__getstate__()
    assert "activation_params" not in state  # as before parameters: the defaults
    again = Network.__new__(Network)
    again.__setstate__(state)
    assert_same(again, net)
    net = Network([3, 4, 2], activation=[("leaky_relu", 0.2), "elu"], seed=0)
    assert net.__getstate__()["activation_params"] == [0.2, 1.0]


# ------------------------------------------------------------ bad input

BAD = [
    (("leaky_relu", -0.1), ValueError, r"activation\[0\] \(leaky_relu's slope\) must be a finite number in \[0.0, 1.0\], got -0.1"),
    (("leaky_relu", 1.5), ValueError, "slope"),
    (("leaky_relu", float("nan")), ValueError, "slope"),
    (("leaky_relu", float("inf")), ValueError, "slope"),
    (("leaky_relu", True), TypeError, "slope"),
    (("leaky_relu", None), TypeError, "slope"),
    (("elu", 0.0), ValueError, r"alpha\) must be a finite number in \(0.0, inf\], got 0.0"),
    (("elu", -1), ValueError, "alpha"),
    (("elu", float("nan")), ValueError, "alpha"),
    (("maxout", 0), ValueError, r"pieces\) must be >= 1, got 0"),
    (("maxout", 2.5), TypeError, r"pieces\) must be an integer, got 2.5"),
    (("maxout", 2.0), TypeError, "pieces"),
    (("maxout", True), TypeError, "pieces"),
    (("maxout", 2**40), ValueError, "pieces"),
    (("relu", 0.3), ValueError, "activation 'relu' takes no parameter, got 0.3"),
    (("sigmoid", 1), ValueError, "takes no parameter"),
    (("selu", 1.0), ValueError, "unknown activation 'selu'"),
    (("leaky_relu", 0.1, 2), TypeError, "name or a \\(name, parameter\\) pair"),
    ((0.1, "leaky_relu"), TypeError, "name or a \\(name, parameter\\) pair"),
]


@pytest.mark.parametrize("spec,exc,match", BAD, ids=[repr(b[0]) for b in BAD])
def test_bad_parameters_are_refused_everywhere(spec, exc, match):
    for build in (lambda: Network([3, 4, 2], activation=[spec, "linear"]),
                  lambda: Network.from_weights([np.ones((3, 4)), np.ones((4, 2))], None, activation=[spec, "linear"]),
                  lambda: nnext.sweep([3, 4, 2], np.ones((4, 3)), np.ones((4, 2)), lrs=[0.1], seeds=[0],
                                      activation=[spec, "linear"], epochs=1)):
        with pytest.raises(exc, match=match):
            build()


def test_placement_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"'maxout' is for hidden layers only; layer 1, the output layer"):
        Network([3, 4, 2], activation=["tanh", ("maxout", 2)])
    with pytest.raises(ValueError, match="hidden layers only"):
        Network([3, 2], activation="maxout")
    with pytest.raises(ValueError, match="multiple of 3 columns"):
        Network.from_weights([np.ones((3, 4)), np.ones((1, 2))], None, activation=[("maxout", 3), "linear"])
    with pytest.raises(ValueError, match="previous layer's 2 outputs"):
        Network.from_weights([np.ones((3, 4)), np.ones((4, 2))], None, activation=[("maxout", 2), "linear"])
    # a 2-tuple of names is two layers' names, not a pair
    net = Network([3, 4, 2], activation=("tanh", "sigmoid"))
    assert net.activations == ["tanh", "sigmoid"]
    with pytest.raises(ValueError, match="expected 3, got 2"):
        Network([3, 4, 4, 2], activation=[("elu", 0.5), "linear"])
    with pytest.raises(ValueError, match=r"activation\[1\]"):
        Network([3, 4, 4, 2], activation=["tanh", ("elu", -1), "linear"])


def test_errors_leave_the_network_unchanged():
    net = Network([3, 4, 2], activation=[("leaky_relu", 0.2), "linear"], seed=0)
    before = net.__getstate__()
    X = np.random.RandomState(0).normal(size=(4, 3))
    out = net.predict(X)
    bad = dict(before, activation_params=[1.5, None])
    with pytest.raises(ValueError, match="slope"):
        net.__setstate__(bad)
    bad = dict(before, activations=[("maxout", 2), "linear"])  # k would be 0.2
    with pytest.raises(TypeError, match="pieces"):
        net.__setstate__(bad)
    assert net.predict(X).tobytes() == out.tobytes()
    assert net.activation_params == [0.2, None] and net.weights[0].shape == (3, 4)
    with pytest.raises(ValueError, match="shape"):
        net.weights = [np.ones((3, 8)), np.ones((4, 2))]
    assert net.predict(X).tobytes() == out.tobytes()


def test_engine_checks_parameters_too():
    """The binding refuses what the core cannot run, whatever Python sends."""
    with pytest.raises(ValueError, match="not a valid parameter"):
        _core.Engine([3, 4, 2], [3, 5], True, "float64", [2.0, None])
    with pytest.raises(ValueError, match="takes no parameter"):
        _core.Engine([3, 4, 2], [0, 5], True, "float64", [2.0, None])
    with pytest.raises(ValueError, match="maxout as the last layer"):
        _core.Engine([3, 4, 2], [0, 7], True, "float64")
    with pytest.raises(ValueError, match="one entry per layer"):
        _core.Engine([3, 4, 2], [3, 5], True, "float64", [0.1])
    assert _core.ACTIVATION_PARAMS[nnext.ACTIVATIONS["leaky_relu"]][:2] == ("slope", 0.01)


# ------------------------------------------------------------------- sweep

def test_sweep_takes_pairs():
    """Each run of a sweep equals Network(...).fit with the same (name, parameter)s."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    acts = [("maxout", 3), ("leaky_relu", 0.1)]
    table = nnext.sweep([2, 3, 1], X, y, lrs=[0.1, 0.3], seeds=[0, 1], activation=acts, epochs=20,
                        as_frame=False)
    for lr, seed, final in zip(table["lr"], table["seed"], table["final_loss"]):
        net = Network([2, 3, 1], activation=acts, seed=int(seed))
        assert net.weights[0].shape == (2, 9)
        assert net.fit(X, y, epochs=20, lr=float(lr)).loss[-1] == final
        other = Network([2, 3, 1], activation=[("maxout", 3), ("leaky_relu", 0.2)], seed=int(seed))
        assert other.fit(X, y, epochs=20, lr=float(lr)).loss[-1] != final
