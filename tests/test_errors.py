"""Bad inputs: the right exception, a message naming the offending thing, and
the network's parameters unchanged afterwards.  Divergence handling."""
import numpy as np
import pytest

import reference as R
from conftest import raises_mentioning, snapshot, assert_same_params
from nnext import Network

X4 = np.random.RandomState(0).normal(size=(4, 3))
Y4 = np.random.RandomState(1).uniform(0, 1, (4, 1))


def net341(**kw):
    return Network([3, 4, 1], seed=0, **kw)


def call(net, method, X, y=Y4, loss="mse"):
    if method == "predict":
        return lambda: net.predict(X)
    if method == "forward":
        return lambda: net.forward(X)
    if method == "gradients":
        return lambda: net.gradients(X, y, loss=loss)
    if method == "fit":
        return lambda: net.fit(X, y, epochs=3, lr=0.1, loss=loss)
    raise AssertionError(method)


METHODS = ["predict", "forward", "gradients", "fit"]


# --- X --------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_x_wrong_number_of_columns(method):
    net = net341()
    X = np.ones((4, 2))
    raises_mentioning(ValueError, ["(4, 2)"], call(net, method, X), net)


def test_x_1d_wrong_length_predict():
    net = net341()
    raises_mentioning(ValueError, ["(2,)", "2 "], lambda: net.predict(np.ones(2)), net)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_x_non_finite(method, bad):
    net = net341()
    X = X4.copy()
    X[2, 1] = float(bad)
    mentions = ["nan"] if bad == "nan" else ["inf", "finite"]
    raises_mentioning(ValueError, mentions, call(net, method, X), net)


@pytest.mark.parametrize("method", METHODS)
def test_x_empty(method):
    net = net341()
    X = np.zeros((0, 3))
    y = np.zeros((0, 1))
    raises_mentioning(ValueError, ["(0, 3)", "empty", "0 rows", "no rows", "zero rows"],
                      call(net, method, X, y), net)


@pytest.mark.parametrize("method", METHODS)
def test_x_three_dims(method):
    net = net341()
    X = np.ones((2, 2, 3))
    raises_mentioning(ValueError, ["(2, 2, 3)", "3-d", "3d", "3 dim", "ndim", "dimension"],
                      call(net, method, X), net)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["complex", "str", "object"])
def test_x_bad_dtype(method, kind):
    net = net341()
    if kind == "complex":
        X = X4.astype(np.complex128)
        mentions = ["complex"]
    elif kind == "str":
        X = np.full((4, 3), "a")
        mentions = ["<U1", "str", "unicode"]
    else:
        X = X4.astype(object)
        mentions = ["object", "dtype('O')"]
    raises_mentioning(TypeError, mentions, call(net, method, X), net)


@pytest.mark.parametrize("method", ["gradients", "fit"])
@pytest.mark.parametrize("kind", ["complex", "str", "object"])
def test_y_bad_dtype(method, kind):
    net = net341()
    if kind == "complex":
        y = Y4.astype(np.complex128)
        mentions = ["complex"]
    elif kind == "str":
        y = np.full((4, 1), "a")
        mentions = ["<U1", "str", "unicode"]
    else:
        y = Y4.astype(object)
        mentions = ["object", "dtype('O')"]
    raises_mentioning(TypeError, mentions, call(net, method, X4, y), net)


# --- y ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_y_wrong_rows(method):
    net = net341()
    y = np.ones((3, 1))
    raises_mentioning(ValueError, ["(3, 1)"], call(net, method, X4, y), net)


@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_y_wrong_columns(method):
    net = net341()
    y = np.ones((4, 2))
    raises_mentioning(ValueError, ["(4, 2)"], call(net, method, X4, y), net)


@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_y_wrong_columns_multi_output(method):
    net = Network([3, 4, 3], seed=0)
    y = np.ones((4, 2))
    raises_mentioning(ValueError, ["(4, 2)"], call(net, method, X4, y), net)


@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_y_nan(method):
    net = net341()
    y = Y4.copy()
    y[1, 0] = np.nan
    raises_mentioning(ValueError, ["nan"], call(net, method, X4, y), net)


# --- names --------------------------------------------------------------------------

def test_unknown_activation():
    raises_mentioning(ValueError, ["sigmod"], lambda: Network([3, 4, 1], activation="sigmod"))
    raises_mentioning(ValueError, ["swish"],
                      lambda: Network([3, 4, 1], activation=["relu", "swish"]))
    raises_mentioning(ValueError, ["swish"],
                      lambda: Network.from_weights([np.ones((3, 1))], None, activation="swish"))


def test_activation_list_wrong_length():
    with pytest.raises(ValueError):
        Network([3, 4, 1], activation=["relu"])
    with pytest.raises(ValueError):
        Network([3, 4, 1], activation=["relu", "sigmoid", "tanh"])


@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_unknown_loss(method):
    net = net341()
    raises_mentioning(ValueError, ["hinge"], call(net, method, X4, Y4, loss="hinge"), net)


def test_unknown_init():
    raises_mentioning(ValueError, ["glorot_bogus"],
                      lambda: Network([3, 4, 1], init="glorot_bogus", seed=0))


def test_unknown_optimizer():
    net = net341()
    raises_mentioning(ValueError, ["rmsprop"],
                      lambda: net.fit(X4, Y4, epochs=2, lr=0.1, loss="mse", optimizer="rmsprop"),
                      net)


@pytest.mark.parametrize("dtype", ["float16", "int32", "bogus"])
def test_unknown_dtype(dtype):
    raises_mentioning(ValueError, [dtype], lambda: Network([3, 4, 1], dtype=dtype))


def test_softmax_on_hidden_layer():
    raises_mentioning(ValueError, ["softmax"],
                      lambda: Network([3, 4, 2], activation=["softmax", "sigmoid"]))
    raises_mentioning(ValueError, ["softmax"], lambda: Network([3, 4, 2], activation="softmax"))
    raises_mentioning(ValueError, ["softmax"],
                      lambda: Network.from_weights([np.ones((3, 4)), np.ones((4, 2))], None,
                                                   activation=["softmax", "softmax"]))


@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_bce_needs_sigmoid_output(method):
    net = Network([3, 4, 2], activation=["sigmoid", "softmax"], seed=0)
    y = np.eye(2)[[0, 1, 1, 0]]
    raises_mentioning(ValueError, ["bce", "sigmoid"], call(net, method, X4, y, loss="bce"), net)
    net = Network([3, 4, 1], activation=["sigmoid", "linear"], seed=0)
    raises_mentioning(ValueError, ["bce", "sigmoid"], call(net, method, X4, Y4, loss="bce"), net)


@pytest.mark.parametrize("method", ["gradients", "fit"])
def test_cross_entropy_needs_softmax_output(method):
    net = Network([3, 4, 2], activation=["tanh", "sigmoid"], seed=0)
    y = np.eye(2)[[0, 1, 1, 0]]
    raises_mentioning(ValueError, ["cross_entropy", "softmax"],
                      call(net, method, X4, y, loss="cross_entropy"), net)


@pytest.mark.parametrize("method", ["gradients", "fit"])
@pytest.mark.parametrize("labels,bad", [([0, 1, 7, 2], "7"), ([0, -1, 1, 2], "-1")])
def test_integer_labels_out_of_range(method, labels, bad):
    net = Network([3, 4, 3], activation=["tanh", "softmax"], seed=0)
    raises_mentioning(ValueError, [bad],
                      call(net, method, X4, np.array(labels), loss="cross_entropy"), net)


# --- fit settings ---------------------------------------------------------------------

def fit_with(net, **kw):
    args = dict(epochs=3, lr=0.1, loss="mse")
    args.update(kw)
    return lambda: net.fit(X4, Y4, **args)


@pytest.mark.parametrize("kw,exc,mentions", [
    ({"epochs": -1}, ValueError, ["epochs"]),
    ({"epochs": 1.5}, TypeError, ["epochs"]),
    ({"epochs": "10"}, TypeError, ["epochs"]),
    ({"batch_size": 0}, ValueError, ["batch_size"]),
    ({"batch_size": -2}, ValueError, ["batch_size"]),
    ({"lr": -0.1}, ValueError, ["lr", "learning rate"]),
    ({"momentum": 1.0}, ValueError, ["momentum"]),
    ({"momentum": -0.1}, ValueError, ["momentum"]),
    ({"momentum": 1.5}, ValueError, ["momentum"]),
])
def test_bad_fit_settings(kw, exc, mentions):
    net = net341()
    raises_mentioning(exc, mentions, fit_with(net, **kw), net)


def test_momentum_just_below_one_is_accepted():
    net = net341()
    net.fit(X4, Y4, epochs=1, lr=0.1, loss="mse", momentum=0.999)


# --- sizes / from_weights ---------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[3], []])
def test_too_few_sizes(sizes):
    raises_mentioning(ValueError, ["sizes", "2", "layer"], lambda: Network(sizes))


@pytest.mark.parametrize("sizes,bad", [([3, 0, 1], "0"), ([3, -2, 1], "-2"), ([0, 2], "0")])
def test_non_positive_width(sizes, bad):
    raises_mentioning(ValueError, [str(sizes), bad], lambda: Network(sizes))


def test_from_weights_mismatched_shapes():
    raises_mentioning(ValueError, ["(3, 4)", "(5, 1)"],
                      lambda: Network.from_weights([np.ones((3, 4)), np.ones((5, 1))], None))
    raises_mentioning(ValueError, ["(3, 4)", "(3,)"],
                      lambda: Network.from_weights([np.ones((3, 4)), np.ones((4, 1))],
                                                   [np.zeros(3), np.zeros(1)]))
    with pytest.raises(ValueError):
        Network.from_weights([np.ones((3, 4)), np.ones((4, 1))], [np.zeros(4)])


def test_from_weights_bad_arrays():
    with pytest.raises(ValueError):
        Network.from_weights([np.ones(3)], None)
    with pytest.raises(ValueError):
        Network.from_weights([], None)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_from_weights_non_finite_named(bad, dtype):
    """A NaN or infinity is named as such whether or not the values need a
    conversion (float64 given to a float32 network, or the same dtype)."""
    W = [np.ones((2, 3)), np.ones((3, 1))]
    W[1][2, 0] = bad
    raises_mentioning(ValueError, ["weights[1]", "NaN or infinity"],
                      lambda: Network.from_weights(W, [np.zeros(3), np.zeros(1)], dtype=dtype))
    b = [np.zeros(3), np.array([bad])]
    raises_mentioning(ValueError, ["biases[1]", "NaN or infinity"],
                      lambda: Network.from_weights([np.ones((2, 3)), np.ones((3, 1))], b, dtype=dtype))


def test_from_weights_converts_exactly():
    """Integer, float32 and float64 inputs land as the network's dtype, value for value."""
    W = [np.arange(6).reshape(2, 3), np.array([[0.5], [-1.25], [3.0]], np.float32)]
    b = [np.array([1, -2, 3], np.int8), np.array([0.1])]
    for dtype in ("float64", "float32"):
        net = Network.from_weights(W, b, dtype=dtype)
        for got, want in zip(list(net.weights) + list(net.biases), W + b):
            assert got.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got, np.asarray(want).astype(dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_from_weights_any_layout(dtype):
    """Parameters given in every layout the C copy declines (strided, Fortran
    order, byte-swapped, read-only, a subclass, overlapping views of one
    buffer) or takes (C order, same dtype) land value for value, and a
    failing copy leaves the network as it was."""
    rng = np.random.RandomState(3)
    base = rng.standard_normal((8, 12)).astype(dtype)
    ro = base[:3, :4].copy()
    ro.flags.writeable = False
    layouts = [base[:3, :4].copy(), base[::2, ::3][:3, :4], np.asfortranarray(base[:3, :4]),
               base[:3, :4].astype(np.dtype(dtype).newbyteorder()), ro,
               base[:3, :4].copy().view(np.matrix), base[:3, :4]]
    for W0 in layouts:
        W1 = base[1:5, :1]  # overlaps W0's buffer in the last layout
        net = Network.from_weights([W0, W1], [base[0, :4], base[2, :1]], dtype=dtype)
        np.testing.assert_array_equal(net.weights[0], np.asarray(W0).astype(dtype))
        np.testing.assert_array_equal(net.weights[1], np.asarray(W1).astype(dtype))
        np.testing.assert_array_equal(net.biases[0], base[0, :4].astype(dtype))
        before = [w.copy() for w in net.weights]
        bad = np.array(W0, dtype=dtype)
        bad[-1, -1] = np.nan
        raises_mentioning(ValueError, ["weights[0]", "NaN or infinity"],
                          lambda: setattr(net, "weights", [bad, W1]))
        for got, want in zip(net.weights, before):
            np.testing.assert_array_equal(got, want)


# --- divergence ------------------------------------------------------------------------

def test_divergence_raises_and_restores_finite_weights():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1e3, 1e3, (20, 4))
    y = rng.uniform(-1e3, 1e3, (20, 2))
    net = Network([4, 8, 2], activation=["relu", "linear"], seed=0)
    calls = []
    with pytest.raises(FloatingPointError) as info:
        net.fit(X, y, epochs=200, lr=1e6, loss="mse", callback=lambda e, n, l: calls.append(l))
    assert "epoch" in str(info.value).lower()
    for p in list(net.weights) + list(net.biases):
        assert np.all(np.isfinite(p))
    # the losses reported before the failure were finite
    assert all(np.isfinite(l) for l in calls)


def test_divergence_momentum_minibatch_keeps_weights_finite():
    rng = np.random.RandomState(1)
    X = rng.uniform(-1e3, 1e3, (16, 3))
    y = rng.uniform(-1e3, 1e3, (16, 1))
    net = Network([3, 6, 1], activation=["linear", "linear"], seed=1)
    with pytest.raises(FloatingPointError) as info:
        net.fit(X, y, epochs=500, lr=1e6, loss="sse", batch_size=4, momentum=0.5)
    assert "epoch" in str(info.value).lower()
    for p in list(net.weights) + list(net.biases):
        assert np.all(np.isfinite(p))
