"""Per-row sample weights in the core: every loss's value and gradient
against the numpy reference (a weighted mean of the rows' losses; sse a
weighted sum), integer weights against repeated rows, training, the
argument's checks."""

import numpy as np
import pytest

import reference as ref
from nnext import Network

RS = np.random.RandomState(12)
X = RS.normal(size=(31, 4))
W = RS.uniform(0, 3, size=31)
W[[3, 17]] = 0.0  # rows that count for nothing
CASES = {  # loss: (output activation, targets)
    "mse": ("linear", RS.normal(size=(31, 2))),
    "sse": ("tanh", RS.uniform(-0.9, 0.9, size=(31, 2))),
    "bce": ("sigmoid", (RS.uniform(size=(31, 2)) > 0.5).astype(float)),
    "cross_entropy": ("softmax", np.eye(3)[RS.randint(0, 3, 31)]),
}


def network(loss, dtype="float64"):
    out, Y = CASES[loss]
    return Network([4, 5, Y.shape[1]], activation=["tanh", out], init="xavier", seed=3,
                   dtype=dtype)


def reference(net, loss, Y, w):
    """(weighted loss, dW, db) from the reference's per-row losses and gradients."""
    weights = [a.astype(np.float64) for a in net.weights]
    biases = [a.astype(np.float64) for a in net.biases]
    value, dW, db = 0.0, [0 * a for a in weights], [0 * a for a in biases]
    for r in range(X.shape[0]):
        v, gw, gb = ref.loss_and_gradients(weights, biases, net.activations, X[r:r + 1],
                                           Y[r:r + 1], loss)
        value += w[r] * v
        dW = [a + w[r] * g for a, g in zip(dW, gw)]
        db = [a + w[r] * g for a, g in zip(db, gb)]
    scale = 1.0 if loss == "sse" else 1.0 / w.sum()
    return value * scale, [a * scale for a in dW], [a * scale for a in db]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-11), ("float32", 2e-5)])
@pytest.mark.parametrize("loss", list(CASES))
def test_weighted_loss_and_gradients_equal_the_reference(loss, dtype, rtol):
    net = network(loss, dtype)
    Y = CASES[loss][1]
    value, dW, db = reference(net, loss, Y, W)
    assert net.loss(X, Y, loss, sample_weight=W) == pytest.approx(value, rel=rtol)
    gW, gb = net.gradients(X, Y, loss, sample_weight=W)
    for got, want in zip(gW + gb, dW + db):
        np.testing.assert_allclose(got, want, rtol=10 * rtol, atol=10 * rtol * np.abs(want).max())
    assert net.check_gradients(X, Y, loss, sample_weight=W).ok


@pytest.mark.parametrize("loss", list(CASES))
def test_integer_weights_equal_repeated_rows(loss):
    net = network(loss)
    Y = CASES[loss][1]
    counts = RS.randint(0, 4, size=31)
    counts[0] = 1
    Xr, Yr = np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0)
    assert net.loss(X, Y, loss, sample_weight=counts) == pytest.approx(net.loss(Xr, Yr, loss),
                                                                       rel=1e-12)
    for got, want in zip(*[sum(net.gradients(*args, loss, **kw), []) for args, kw in
                           (((X, Y), dict(sample_weight=counts)), ((Xr, Yr), {}))]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_unit_weights_change_nothing():
    for loss, (out, Y) in CASES.items():
        net = network(loss)
        ones = np.ones(31)
        assert net.loss(X, Y, loss, sample_weight=ones) == pytest.approx(net.loss(X, Y, loss),
                                                                         rel=1e-13)
        for got, want in zip(sum(net.gradients(X, Y, loss, sample_weight=ones), []),
                             sum(net.gradients(X, Y, loss), [])):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weighted_full_batch_fit_equals_repeated_rows(optimizer):
    counts = RS.randint(1, 4, size=31)
    Y = CASES["cross_entropy"][1]
    a, b = network("cross_entropy"), network("cross_entropy")
    ha = a.fit(X, Y, epochs=20, lr=0.05, loss="cross_entropy", optimizer=optimizer, l2=0.01,
               sample_weight=counts)
    hb = b.fit(np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0), epochs=20, lr=0.05,
               loss="cross_entropy", optimizer=optimizer, l2=0.01)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-11)
    np.testing.assert_allclose(a._params, b._params, rtol=1e-10, atol=1e-13)


def test_weighted_minibatches_equal_the_reference():
    """Batches of 8 in order, plain SGD: each step the reference's weighted
    gradient of its batch."""
    loss, (out, Y) = "mse", CASES["mse"]
    net = network(loss)
    weights = [a.copy() for a in net.weights]
    biases = [a.copy() for a in net.biases]
    history = net.fit(X, Y, epochs=3, lr=0.1, loss=loss, batch_size=8, sample_weight=W)
    shadow = Network.from_weights(weights, biases, activation=net.activations)
    losses = []
    for _ in range(3):
        batch_losses = []
        for lo in range(0, 31, 8):
            rows = slice(lo, lo + 8)
            value, dW, db = reference_rows(shadow, loss, X[rows], Y[rows], W[rows])
            batch_losses.append(value)
            shadow.weights = [w - 0.1 * g for w, g in zip(shadow.weights, dW)]
            shadow.biases = [b - 0.1 * g for b, g in zip(shadow.biases, db)]
        losses.append(np.mean(batch_losses))
    np.testing.assert_allclose(history.loss, losses, rtol=1e-11)
    np.testing.assert_allclose(net._params, shadow._params, rtol=1e-10, atol=1e-13)


def reference_rows(net, loss, Xb, Yb, wb):
    weights, biases = net.weights, net.biases
    value, dW, db = 0.0, [0 * a for a in weights], [0 * a for a in biases]
    for r in range(Xb.shape[0]):
        v, gw, gb = ref.loss_and_gradients(weights, biases, net.activations, Xb[r:r + 1],
                                           Yb[r:r + 1], loss)
        value += wb[r] * v
        dW = [a + wb[r] * g for a, g in zip(dW, gw)]
        db = [a + wb[r] * g for a, g in zip(db, gb)]
    s = wb.sum()
    return value / s, [a / s for a in dW], [a / s for a in db]


@pytest.mark.parametrize("weights,exc,words", [
    (np.ones(30), ValueError, "one weight per row of X \\(31\\), got shape \\(30,\\)"),
    (np.ones((31, 1)), ValueError, "1-D"),
    (-np.ones(31), ValueError, "finite and >= 0"),
    (np.r_[np.nan, np.ones(30)], ValueError, "finite and >= 0"),
    (np.zeros(31), ValueError, "positive, finite sum"),
    (np.ones(31) * 1j, TypeError, "complex"),
])
def test_bad_weights_are_named(weights, exc, words):
    net = network("mse")
    before = net._params.copy()
    with pytest.raises(exc, match=words):
        net.fit(X, CASES["mse"][1], epochs=2, sample_weight=weights)
    with pytest.raises(exc, match="sample_weight"):
        net.loss(X, CASES["mse"][1], sample_weight=weights)
    np.testing.assert_array_equal(net._params, before)
