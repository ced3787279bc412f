"""loss="poisson": half the Poisson deviance of the rate exp(p), p the
network's (linear) output, against numpy: its value, its gradient
(backpropagated by hand and by finite differences), the fused path, weights,
float32, and the targets' check."""

import numpy as np
import pytest

from nnext import Network, _core

RS = np.random.RandomState(21)
X = RS.normal(size=(37, 3))
Y = RS.poisson(np.exp(np.c_[0.4 * X[:, 0], -0.3 * X[:, 1] + 0.5]), size=(37, 2)).astype(float)


def network(dtype="float64"):
    return Network([3, 4, 2], activation=["tanh", "linear"], init="xavier", seed=5, dtype=dtype)


def numpy_loss_and_gradients(net, X, Y, w=None):
    """The loss and (dW, db) by hand: tanh hidden layer, linear output p."""
    W0, W1 = (a.astype(np.float64) for a in net.weights)
    b0, b1 = (a.astype(np.float64) for a in net.biases)
    h = np.tanh(X @ W0 + b0)
    p = h @ W1 + b1
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(Y > 0, Y * np.log(Y), 0.0)
    terms = np.exp(p) - Y * p + ylogy - Y
    n, k = Y.shape
    rows = np.ones(n) if w is None else w
    value = np.sum(rows[:, None] * terms) / (rows.sum() * k)
    delta = rows[:, None] * (np.exp(p) - Y) / (rows.sum() * k)
    dW1, db1 = h.T @ delta, delta.sum(0)
    dh = (delta @ W1.T) * (1 - h * h)
    return value, [X.T @ dh, dW1], [dh.sum(0), db1]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-5)])
def test_value_and_gradients_equal_numpy(dtype, rtol):
    net = network(dtype)
    value, dW, db = numpy_loss_and_gradients(net, X, Y)
    assert net.loss(X, Y, "poisson") == pytest.approx(value, rel=rtol)
    gW, gb = net.gradients(X, Y, "poisson")
    for got, want in zip(gW + gb, dW + db):
        np.testing.assert_allclose(got, want, rtol=10 * rtol, atol=10 * rtol * np.abs(want).max())
    assert net.check_gradients(X, Y, "poisson").ok


def test_weighted_poisson_equals_numpy():
    net = network()
    w = RS.uniform(0.1, 2.0, size=37)
    value, dW, db = numpy_loss_and_gradients(net, X, Y, w)
    assert net.loss(X, Y, "poisson", sample_weight=w) == pytest.approx(value, rel=1e-12)
    for got, want in zip(sum(net.gradients(X, Y, "poisson", sample_weight=w), []), dW + db):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_training_lowers_the_deviance_and_the_fused_path_agrees():
    net = network()
    history = net.fit(X, Y, epochs=200, lr=0.05, loss="poisson", batch_size=8)
    assert history.loss[-1] < 0.8 * history.loss[0]
    tiny = {}
    for fused in (True, False):  # a 2-2-1 network at batch 4 runs on the fused path
        _core._set_fused_path(fused)
        try:
            small = Network([3, 2, 1], activation=["tanh", "linear"], init="xavier", seed=1)
            h = small.fit(X, Y[:, :1], epochs=30, lr=0.05, loss="poisson", batch_size=4)
            tiny[fused] = (small._params.copy(), list(h.loss))
        finally:
            _core._set_fused_path(True)
    np.testing.assert_array_equal(tiny[True][0], tiny[False][0])
    assert tiny[True][1] == tiny[False][1]


def test_negative_targets_are_refused():
    net = network()
    with pytest.raises(ValueError, match="poisson.*>= 0"):
        net.fit(X, -Y, loss="poisson")
