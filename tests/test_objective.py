"""The core's training objective over all rows (Engine.objective, L-BFGS's
one call per evaluation), scikit-learn's clipped log-loss (prob_clip) and
given row orders (train's orders), each against the numpy reference."""

import numpy as np
import pytest

import reference as ref
from nnext import Network
from nnext._checks import LOSSES, OPTIMIZERS

RS = np.random.RandomState(7)
X = RS.normal(size=(23, 5))
CASES = {  # loss: (output activation, targets)
    "mse": ("linear", RS.normal(size=(23, 3))),
    "sse": ("tanh", RS.uniform(-0.9, 0.9, size=(23, 3))),
    "bce": ("sigmoid", (RS.uniform(size=(23, 3)) > 0.5).astype(float)),
    "cross_entropy": ("softmax", np.eye(3)[RS.randint(0, 3, 23)]),
}


def network(out, dtype="float64", scale=1.0):
    rs = np.random.RandomState(3)
    weights = [rs.normal(size=(5, 4)) * scale, rs.normal(size=(4, 3)) * scale]
    biases = [rs.normal(size=4), rs.normal(size=3)]
    return Network.from_weights(weights, biases, activation=["tanh", out], dtype=dtype)


def reference_objective(net, Y, loss, loss_scale, grad_scale, l2, l1, reg_per_row):
    """(value, flat gradient in the network's layout) by tests/reference.py."""
    weights = [w.astype(np.float64) for w in net.weights]
    biases = [b.astype(np.float64) for b in net.biases]
    value, dW, db = ref.loss_and_gradients(weights, biases, net.activations, X, Y, loss)
    n = X.shape[0] if reg_per_row else 1
    penalty, dR = ref.regularisation(weights, l2 / n, l1 / n)
    flat = np.empty(net.n_params)
    fw, fb = net._views(flat)
    for i in range(2):
        fw[i][...] = dW[i] * grad_scale + dR[i]
        fb[i][...] = db[i] * grad_scale
    return value * loss_scale + penalty, flat


@pytest.mark.parametrize("loss", list(CASES))
@pytest.mark.parametrize("settings", [(1.0, 1.0, 0.0, 0.0, False), (0.5, 1.5, 0.3, 0.0, True),
                                      (3.0, 3.0, 0.2, 0.05, False)])
def test_objective_equals_the_reference(loss, settings):
    out, Y = CASES[loss]
    net = network(out)
    code, data = net.prepare(X, Y, loss)
    grads = np.empty(net.n_params)
    value = net._engine.objective(data, code, *settings, 0.0, None, grads)
    want, want_grads = reference_objective(net, Y, loss, *settings)
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(grads, want_grads, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss", list(CASES))
def test_objective_in_float32(loss):
    out, Y = CASES[loss]
    net = network(out, "float32")
    code, data = net.prepare(X, Y, loss)
    grads = np.empty(net.n_params, dtype=np.float32)
    value = net._engine.objective(data, code, 2.0, 2.0, 0.1, 0.0, True, 0.0, None, grads)
    want, want_grads = reference_objective(net, Y, loss, 2.0, 2.0, 0.1, 0.0, True)
    assert value == pytest.approx(want, rel=2e-5)
    np.testing.assert_allclose(grads, want_grads, rtol=2e-4, atol=2e-5)


def test_objective_at_a_given_point_leaves_the_network_unchanged():
    out, Y = CASES["cross_entropy"]
    net = network(out)
    before = net._params.copy()
    code, data = net.prepare(X, Y, "cross_entropy")
    point = before + np.random.RandomState(1).normal(scale=0.1, size=before.shape)
    grads = np.empty_like(point)
    value = net._engine.objective(data, code, 1.0, 1.0, 0.1, 0.0, True, 0.0, point, grads)
    np.testing.assert_array_equal(net._params, before)
    net._params[...] = point
    want, want_grads = reference_objective(net, Y, "cross_entropy", 1.0, 1.0, 0.1, 0.0, True)
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(grads, want_grads, rtol=1e-10, atol=1e-13)


def test_objective_gradient_matches_finite_differences():
    """The value and the gradient of one call describe the same function."""
    out, Y = CASES["bce"]
    net = network(out)
    code, data = net.prepare(X, Y, "bce")
    grads, scratch = np.empty(net.n_params), np.empty(net.n_params)
    x = net._params.copy()
    net._engine.objective(data, code, 3.0, 3.0, 0.2, 0.0, True, 0.0, x, grads)
    h = 1e-6
    for i in range(0, net.n_params, 3):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd = (net._engine.objective(data, code, 3.0, 3.0, 0.2, 0.0, True, 0.0, up, scratch)
              - net._engine.objective(data, code, 3.0, 3.0, 0.2, 0.0, True, 0.0, down, scratch)) / (2 * h)
        assert fd == pytest.approx(grads[i], rel=1e-6, abs=1e-9)


def clipped_log_loss(loss, p, Y, eps):
    """scikit-learn's log_loss / binary_log_loss (sklearn/neural_network/_base.py)."""
    p = np.clip(p, eps, 1 - eps)
    if loss == "bce":
        return float(-np.mean(np.sum(np.where(Y == 1, np.log(p), 0)
                                     + np.where(Y == 0, np.log(1 - p), 0), axis=1)) / Y.shape[1])
    return float(-np.sum(np.where(Y == 1, np.log(p), 0)) / Y.shape[0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_prob_clip_gives_the_clipped_value_and_the_exact_gradient(loss, dtype):
    out, Y = CASES[loss]
    net = network(out, dtype, scale=40.0)  # saturated: p rounds to 0 or 1 for many rows
    p = net.predict(X)
    eps = float(np.finfo(dtype).eps)
    assert ((p < eps) | (p > 1 - eps)).any()
    code, data = net.prepare(X, Y, loss)
    exact, clipped = np.empty(net.n_params, dtype), np.empty(net.n_params, dtype)
    v_exact = net._engine.objective(data, code, 1.0, 1.0, 0.0, 0.0, False, 0.0, None, exact)
    v_clip = net._engine.objective(data, code, 1.0, 1.0, 0.0, 0.0, False, eps, None, clipped)
    np.testing.assert_array_equal(clipped, exact)
    want = clipped_log_loss(loss, p.astype(np.float64), Y, np.float64(np.finfo(dtype).eps))
    assert v_clip == pytest.approx(want, rel=1e-12 if dtype == "float64" else 1e-5)
    assert v_exact > 1.5 * v_clip  # the exact loss is far larger on saturated outputs
    w, b = [a.astype(np.float64) for a in net.weights], [a.astype(np.float64) for a in net.biases]
    z = np.tanh(X @ w[0] + b[0]) @ w[1] + b[1]  # the exact loss, from z
    if loss == "bce":
        exact = np.mean(np.logaddexp(0, z) - Y * z)
    else:
        exact = np.mean(np.logaddexp.reduce(z, axis=1) - np.sum(Y * z, axis=1))
    assert v_exact == pytest.approx(exact, rel=1e-12 if dtype == "float64" else 1e-5)


def test_train_with_prob_clip_reports_the_clipped_epoch_loss():
    out, Y = CASES["bce"]
    net = network(out, scale=40.0)
    eps = float(np.finfo(np.float64).eps)
    want = clipped_log_loss("bce", net.predict(X), Y, eps)
    code, data = net.prepare(X, Y, "bce")
    losses = np.empty(1)
    net.train_epochs(data, 0, losses, loss=code, optimizer=OPTIMIZERS["sgd"], lr=0.0,
                     batch_size=23, loss_by_rows=True, loss_scale=1.0, prob_clip=eps)
    assert losses[0] == pytest.approx(want, rel=1e-12)


def test_orders_visit_the_rows_in_the_given_order():
    out, Y = CASES["cross_entropy"]
    net = network(out)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    rs = np.random.RandomState(11)
    orders = np.stack([rs.permutation(23) for _ in range(3)]).astype(np.int64)
    orders[2, :3] = 4  # any row indices, repeats included
    code, data = net.prepare(X, Y, "cross_entropy")
    losses = np.empty(3)
    status, done, _ = net.train_epochs(data, 0, losses, loss=code, optimizer=OPTIMIZERS["sgd"],
                                       lr=0.05, batch_size=5, orders=orders)
    assert (status, done) == (0, 3)
    history = []
    for order in orders:  # the reference, one epoch at a time on the reordered rows
        weights, biases, h = ref.fit(weights, biases, net.activations, X[order], Y[order], 1,
                                     0.05, loss="cross_entropy", batch_size=5)
        history += h
    np.testing.assert_allclose(losses, history, rtol=1e-12)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_orders_with_adam_equal_training_on_the_reordered_rows():
    """Adam's state carries across calls: three one-epoch calls on the rows
    reordered take the steps of one call with the three orders."""
    out, Y = CASES["cross_entropy"]
    net, net2 = network(out), network(out)
    orders = np.stack([np.random.RandomState(s).permutation(23) for s in range(3)])
    code, data = net.prepare(X, Y, "cross_entropy")
    losses = np.empty(3)
    net.train_epochs(data, 0, losses, loss=code, optimizer=OPTIMIZERS["adam"], lr=0.05,
                     batch_size=5, orders=orders.astype(np.int64))
    for e, order in enumerate(orders):
        code2, data2 = net2.prepare(X[order], Y[order], "cross_entropy")
        one = np.empty(1)
        net2.train_epochs(data2, 0, one, loss=code2, optimizer=OPTIMIZERS["adam"], lr=0.05,
                          batch_size=5)
        assert one[0] == losses[e]
    np.testing.assert_array_equal(net._params, net2._params)


def test_bad_orders_and_prob_clip_are_named():
    out, Y = CASES["mse"]
    net = network(out)
    code, data = net.prepare(X, Y, "mse")
    losses = np.empty(2)
    kw = dict(loss=code, optimizer=0, lr=0.1, batch_size=4)
    for orders, words in [(np.zeros(46, dtype=np.int32), "int64"),
                          (np.zeros(45, dtype=np.int64), "n_epochs \\* n"),
                          (np.full(46, 23, dtype=np.int64), "row indices in \\[0, 23\\)"),
                          (np.full(46, -1, dtype=np.int64), "got -1"),
                          ([0] * 46, "orders")]:
        with pytest.raises(ValueError, match=words):
            net.train_epochs(data, 0, losses, orders=orders, **kw)
    for clip in (-0.1, 0.5, float("nan")):
        with pytest.raises(ValueError, match="prob_clip"):
            net.train_epochs(data, 0, losses, prob_clip=clip, **kw)
    before = net._params.copy()
    grads = np.empty(net.n_params)
    for params, out_, words in [(None, np.empty(net.n_params, np.float32), "grads must be .*float64"),
                                (None, np.empty(3), "grads must be .*n_params = %d" % net.n_params),
                                (np.empty(net.n_params, np.float32), grads, "params must be"),
                                (None, np.empty(net.n_params)[::-1], "C-contiguous")]:
        with pytest.raises(ValueError, match=words):
            net._engine.objective(data, code, 1.0, 1.0, 0.0, 0.0, False, 0.0, params, out_)
    grads.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        net._engine.objective(data, code, 1.0, 1.0, 0.0, 0.0, False, 0.0, None, grads)
    np.testing.assert_array_equal(net._params, before)
    assert LOSSES["mse"] == code


def test_new_calls_keep_refcounts_exact():
    """objective, data with weights, train with orders and prob_clip, and each
    of their refusals leave their arguments' refcounts as they were."""
    import gc
    import sys
    out, Y = CASES["bce"]
    net = network(out)
    eng = net._engine
    w = np.linspace(0.5, 2, 23)
    grads, point = np.empty(net.n_params), net._params.copy()
    orders = np.tile(np.arange(23, dtype=np.int64), 2)
    bad_orders = np.full(46, 99, dtype=np.int64)
    losses = np.empty(2)
    objs = [w, grads, point, orders, bad_orders, losses, X, Y]
    before = [sys.getrefcount(o) for o in objs]
    train = dict(loss=LOSSES["bce"], optimizer=0, lr=0.01, momentum=0.0, beta1=0.9, beta2=0.999,
                 eps=1e-8, batch_size=5, shuffle=False, rng_state=1, n_epochs=2)
    for _ in range(100):
        data = eng.data(X, Y, w)
        assert data.W is not None and eng.data(X, Y).W is None
        eng.objective(data, LOSSES["bce"], 1.0, 1.0, 0.1, 0.0, True, 1e-16, point, grads)
        eng.objective(data, LOSSES["bce"], 1.0, 1.0, 0.1, 0.0, True, 0.0, None, grads)
        eng.train(data, losses=losses, orders=orders, prob_clip=1e-16, **train)
        for bad in (lambda: eng.data(X, Y, -w), lambda: eng.data(X, Y, w[:5]),
                    lambda: eng.data(X, Y, w * 1j),
                    lambda: eng.objective(data, 0, 1.0, 1.0, 0.0, 0.0, True, 0.0, w, grads),
                    lambda: eng.objective(data, 0, 1.0, 1.0, 0.0, 0.0, True, 0.7, None, grads),
                    lambda: eng.train(data, losses=losses, orders=bad_orders, **train)):
            try:
                bad()
            except (ValueError, TypeError):
                pass
            else:
                raise AssertionError("expected an error")
        del data
    gc.collect()
    assert [sys.getrefcount(o) for o in objs] == before
