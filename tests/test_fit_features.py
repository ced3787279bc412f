"""Network.fit's regularisation (l2, l1), Nesterov momentum, learning-rate
schedules, verbose=True and the chaining History, against the numpy
reference (tests/reference.py) and finite differences."""

import numpy as np
import pytest

import nnext
import reference as R

RS = np.random.RandomState(7)
X = RS.normal(size=(23, 4))
Y = RS.uniform(0.1, 0.9, size=(23, 2))
SIZES = [4, 5, 3, 2]
ACTS = ["tanh", "elu", "sigmoid"]

OPTIMIZERS = [dict(optimizer="sgd", lr=0.2), dict(optimizer="sgd", lr=0.1, momentum=0.9),
              dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True),
              dict(optimizer="adam", lr=0.01)]


def start(dtype="float64", bias=True, seed=3):
    return nnext.Network(SIZES, activation=ACTS, bias=bias, dtype=dtype, init="xavier", seed=seed)


def reference_fit(net, epochs, batch_size, loss="mse", lrs=None, **kw):
    return R.fit([w.astype(np.float64) for w in net.weights],
                 None if net.biases is None else [b.astype(np.float64) for b in net.biases],
                 ACTS, X, Y, epochs, kw.pop("lr"), loss=loss, batch_size=batch_size, lrs=lrs, **kw)


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(1e-300, np.max(np.abs(b))))


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("reg", [dict(l2=0.05), dict(l1=0.01), dict(l2=0.02, l1=0.003)],
                         ids=["l2", "l1", "l2+l1"])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 2e-4)])
def test_regularised_training_matches_reference(opt, reg, dtype, tol):
    net = start(dtype)
    Ws, bs, hist = reference_fit(net, 15, 5, **opt, **reg)
    h = net.fit(X, Y, epochs=15, batch_size=5, **opt, **reg)
    assert rel(h.loss, np.array(hist)) < tol
    for a, b in zip(net.weights + net.biases, Ws + bs):  # the reference leaves biases alone
        assert rel(a, b) < tol


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("schedule", ["invscaling", "callable"])
def test_schedules_match_reference(opt, schedule):
    net = start()
    n, epochs, power_t = X.shape[0], 12, 0.4
    if schedule == "invscaling":
        lrs = [opt["lr"] / (e * n + 1) ** power_t for e in range(epochs)]
        arg = "invscaling"
    else:
        lrs = [opt["lr"] * 0.8 ** e for e in range(epochs)]
        arg = lambda e: opt["lr"] * 0.8 ** e  # noqa: E731
    Ws, bs, hist = reference_fit(net, epochs, 7, lrs=lrs, l2=0.01, **opt)
    h = net.fit(X, Y, epochs=epochs, batch_size=7, lr_schedule=arg, power_t=power_t, l2=0.01, **opt)
    assert rel(h.loss, np.array(hist)) < 1e-10
    for a, b in zip(net.weights + net.biases, Ws + bs):
        assert rel(a, b) < 1e-10


def test_adaptive_schedule_divides_by_five_after_a_plateau():
    # an independent loop: the reference one epoch at a time, with scikit-learn's rule
    net = start()
    lr, best, count, lrs, epochs = 0.05, np.inf, 0, [], 40
    Ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    hist = []
    for e in range(epochs):
        lrs.append(lr)
        Ws, bs, h = R.fit(Ws, bs, ACTS, X, Y, 1, lr, batch_size=None)
        hist += h
        loss = h[0]
        count = count + 1 if loss > best - 1e-4 else 0
        best = min(best, loss)
        if count > 10:
            lr, count = lr / 5, 0
    assert len(set(lrs)) > 1  # the rule fired at least once
    h = net.fit(X, Y, epochs=epochs, lr=0.05, lr_schedule="adaptive")
    assert rel(h.loss, np.array(hist)) < 1e-10
    for a, b in zip(net.weights + net.biases, Ws + bs):
        assert rel(a, b) < 1e-10


@pytest.mark.parametrize("reg", [dict(l2=0.3), dict(l1=0.02), dict(l2=0.1, l1=0.05)])
@pytest.mark.parametrize("loss", ["mse", "sse"])
def test_regularised_gradient_against_finite_differences(reg, loss):
    """One full-batch SGD step with lr = 1 moves each parameter by minus the
    gradient of the regularised loss; that equals central differences of
    the loss plus l2/2 sum W^2 + l1 sum |W| (the reference's numpy)."""
    net = start()
    W0, b0 = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    h = net.fit(X, Y, epochs=1, lr=1.0, loss=loss, **reg)
    got = [a - b for a, b in zip(W0 + b0, net.weights + net.biases)]

    def objective():
        return (R.loss_of(W0, b0, ACTS, X, Y, loss) + R.regularisation(W0, **reg)[0])

    assert abs(h.loss[0] - objective()) <= 1e-12 * abs(objective())
    eps = 1e-6
    for arr, g in zip(W0 + b0, got):
        for idx in np.ndindex(arr.shape):
            keep = arr[idx]
            step = eps * max(1.0, abs(keep))
            arr[idx] = keep + step
            up = objective()
            arr[idx] = keep - step
            down = objective()
            arr[idx] = keep
            fd = (up - down) / (2 * step)
            assert abs(g[idx] - fd) <= 1e-6 * max(1.0, abs(fd)), (idx, g[idx], fd)


def test_no_regularisation_keeps_old_results_and_the_fused_path():
    # defaults change nothing, bit for bit (Trask part 2 on the fused path)
    a = nnext.Network([3, 4, 1], bias=False, seed=1)
    b = a.copy()
    ha = a.fit(R.TRASK_X, R.TRASK_Y2, epochs=500, lr=1.0, loss="sse")
    hb = b.fit(R.TRASK_X, R.TRASK_Y2, epochs=500, lr=1.0, loss="sse", l2=0.0, l1=0.0,
               nesterov=False, lr_schedule="constant")
    assert ha.loss == hb.loss and all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))


def test_regularised_tiny_network_declines_the_fused_path_correctly():
    a = nnext.Network([3, 4, 1], bias=False, seed=1)
    Ws, _, hist = R.fit(a.weights, None, "sigmoid", R.TRASK_X, R.TRASK_Y2, 200, 1.0, loss="sse",
                        l2=0.01, momentum=0.5, nesterov=True)
    h = a.fit(R.TRASK_X, R.TRASK_Y2, epochs=200, lr=1.0, loss="sse", l2=0.01, momentum=0.5,
              nesterov=True)
    assert rel(h.loss, np.array(hist)) < 1e-10 and rel(a.weights[1], Ws[1]) < 1e-10


def test_verbose_true_prints_every_epoch(capsys):
    net = start()
    net.fit(X, Y, epochs=3, verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" loss")[0] for line in out] == ["Epoch 0", "Epoch 1", "Epoch 2"]
    net.fit(X, Y, epochs=3, verbose=False)
    assert capsys.readouterr().out == ""


def test_history_chains_to_the_network():
    net = start()
    h = net.fit(X, Y, epochs=2)
    assert h.network is net and len(h.loss) == 2
    np.testing.assert_array_equal(net.fit(X, Y, epochs=1).predict(X), net.predict(X))
    assert h.sizes == SIZES
    with pytest.raises(AttributeError):
        h.no_such_thing
    with pytest.raises(AttributeError):
        nnext.History().predict


@pytest.mark.parametrize("kw,exc,words", [
    (dict(l2=-1), ValueError, "l2"), (dict(l1="x"), TypeError, "l1"),
    (dict(l2=float("nan")), ValueError, "l2"), (dict(nesterov=1), TypeError, "nesterov"),
    (dict(lr_schedule="cosine"), ValueError, "lr_schedule"),
    (dict(lr_schedule=3), TypeError, "lr_schedule"),
    (dict(lr_schedule=lambda e: -1.0), ValueError, "lr_schedule(0)"),
    (dict(lr_schedule=lambda e: float("nan") if e == 2 else 0.1), ValueError, "lr_schedule(2)"),
    (dict(power_t=-0.5), ValueError, "power_t"),
    (dict(nesterov=True, optimizer="adam"), ValueError, "nesterov"), (dict(verbose=-1), ValueError, "verbose"),
    (dict(verbose=0.5), TypeError, "verbose"),
])
def test_bad_arguments_are_named_and_change_nothing(kw, exc, words):
    net = start()
    before = [w.copy() for w in net.weights]
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        net.fit(X, Y, epochs=5, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))
