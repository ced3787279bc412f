"""Seeing inside: trace, gradient check, validation and early stopping, sweeps, summary."""
import numpy as np
import pytest

import nnext
from nnext import Network

import reference as ref

X = ref.TRASK_X
Y2 = ref.TRASK_Y2


def trask_part2_recorded(iterations, every):
    """Trask part 2's script, keeping every variable at iterations 0, every, 2*every, ..., and the last."""
    rng = np.random.RandomState(1)
    syn0 = 2 * rng.random_sample((3, 4)) - 1
    syn1 = 2 * rng.random_sample((4, 1)) - 1
    rec = []
    for j in range(iterations):
        l0 = X
        l1 = 1 / (1 + np.exp(-np.dot(l0, syn0)))
        l2 = 1 / (1 + np.exp(-np.dot(l1, syn1)))
        l2_error = Y2 - l2
        l2_delta = l2_error * (l2 * (1 - l2))
        l1_error = l2_delta.dot(syn1.T)
        l1_delta = l1_error * (l1 * (1 - l1))
        if j % every == 0 or j == iterations - 1:
            rec.append(dict(epoch=j, l0=l0, l1=l1, l2=l2, l2_error=l2_error, l2_delta=l2_delta,
                            l1_error=l1_error, l1_delta=l1_delta, syn0=syn0.copy(), syn1=syn1.copy()))
        syn1 += l1.T.dot(l2_delta)
        syn0 += l0.T.dot(l1_delta)
    return rec


def test_trace_equals_trask_variables_at_recorded_iterations():
    iterations, every = 3000, 1000
    want = trask_part2_recorded(iterations, every)
    net = Network([3, 4, 1], bias=False, seed=1)
    h = net.fit(X, Y2, epochs=iterations, lr=1.0, loss="sse", trace_every=every)
    assert h.trace_epochs.tolist() == [r["epoch"] for r in want] == [0, 1000, 2000, 2999]
    assert set(h.trace) == {"l0", "l1", "l2", "l1_error", "l2_error", "l1_delta", "l2_delta", "syn0", "syn1"}
    for i, r in enumerate(want):
        for name, value in r.items():
            if name == "epoch":
                continue
            np.testing.assert_allclose(h.trace[name][i], value, rtol=1e-10, atol=1e-300, err_msg=f"{name} @ {r['epoch']}")


def test_trace_does_not_change_training():
    a = Network([3, 4, 1], bias=False, seed=1)
    b = a.copy()
    ha = a.fit(X, Y2, epochs=500, lr=1.0, loss="sse")
    hb = b.fit(X, Y2, epochs=500, lr=1.0, loss="sse", trace_every=7)
    assert np.array_equal(a.weights[0], b.weights[0]) and np.array_equal(a.weights[1], b.weights[1])
    assert ha.loss == hb.loss
    assert hb.trace_epochs[-1] == 499 and hb.trace_epochs[1] == 7


@pytest.mark.parametrize("loss,act", [("mse", ["tanh", "sigmoid"]), ("cross_entropy", ["relu", "softmax"]),
                                      ("bce", ["elu", "sigmoid"])])
def test_trace_deltas_are_minus_the_gradient(loss, act):
    rng = np.random.RandomState(3)
    Xr = rng.normal(size=(6, 3))
    k = 3 if act[-1] == "softmax" else 2
    yr = np.eye(k)[rng.randint(0, k, 6)] if loss == "cross_entropy" else rng.uniform(size=(6, k))
    net = Network([3, 5, k], activation=act, seed=2)
    h = net.fit(Xr, yr, epochs=1, lr=0.0, loss=loss, trace_every=1)
    dW, db = ref.gradients([w.copy() for w in net.weights], [b.copy() for b in net.biases], act, Xr, yr, loss)
    t = {k_: v[0] for k_, v in h.trace.items()}
    for l in range(2):
        np.testing.assert_allclose(-(t[f"l{l}"].T @ t[f"l{l + 1}_delta"]), dW[l], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(-t[f"l{l + 1}_delta"].sum(axis=0), db[l], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(t["l1_error"], t["l2_delta"] @ t["syn1"].T, rtol=1e-12, atol=1e-15)
    assert "b0" in t and "b1" in t


def test_trace_every_must_be_positive():
    net = Network([3, 1], seed=0)
    with pytest.raises(ValueError, match="trace_every"):
        net.fit(X, ref.TRASK_Y1, epochs=3, trace_every=0)


# ------------------------------------------------------------- gradient check

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_check_gradients_passes_on_the_real_gradient(dtype):
    rng = np.random.RandomState(0)
    Xr, yr = rng.normal(size=(5, 4)), rng.uniform(size=(5, 2))
    net = Network([4, 6, 2], activation=["tanh", "sigmoid"], dtype=dtype, seed=4)
    result = net.check_gradients(Xr, yr, loss="mse")
    assert result.ok, result.report()
    assert len(result.layers) == 2 and result.layers[0]["biases"] is not None
    assert "layer" in str(result) and "OK" in str(result)


def test_check_gradients_catches_a_wrong_gradient():
    rng = np.random.RandomState(0)
    Xr, yr = rng.normal(size=(5, 4)), rng.uniform(size=(5, 2))
    net = Network([4, 6, 2], activation=["tanh", "sigmoid"], seed=4)
    dW, db = net.gradients(Xr, yr, loss="mse")
    before = [w.copy() for w in net.weights]
    wrong_w = [dW[0], dW[1].copy()]
    wrong_w[1][2, 1] *= 1.05  # one entry off by 5%
    result = net.check_gradients(Xr, yr, loss="mse", gradients=(wrong_w, db))
    assert not result.ok
    assert result.layers[1]["weights"] > 1e-3 > result.layers[0]["weights"]
    assert "FAILED" in result.report()
    wrong_b = [db[0] * 0.9, db[1]]
    assert net.check_gradients(Xr, yr, loss="mse", gradients=(dW, wrong_b)).layers[0]["biases"] > 1e-3
    for w, b in zip(net.weights, before):
        assert np.array_equal(w, b)


def test_check_gradients_rejects_misshapen_gradients():
    net = Network([3, 2, 1], seed=0)
    dW, db = net.gradients(X, Y2)
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        net.check_gradients(X, Y2, gradients=([dW[0].T, dW[1]], db))


# --------------------------------------------------- validation and stopping

def test_val_loss_is_the_validation_loss_after_each_epoch():
    rng = np.random.RandomState(5)
    Xt, yt = rng.normal(size=(20, 3)), rng.uniform(size=(20, 1))
    Xv, yv = rng.normal(size=(7, 3)), rng.uniform(size=(7, 1))
    net = Network([3, 4, 1], seed=1)
    start = net.copy()
    h = net.fit(Xt, yt, epochs=5, lr=0.5, validation_data=(Xv, yv))
    assert len(h.val_loss) == 5
    for e in range(5):
        step = start.copy()
        step.fit(Xt, yt, epochs=e + 1, lr=0.5)
        assert h.val_loss[e] == pytest.approx(ref.loss_of([w for w in step.weights], [b for b in step.biases],
                                                          "sigmoid", Xv, yv, "mse"), rel=1e-12)


def test_early_stopping_restores_the_best_weights():
    rng = np.random.RandomState(6)
    Xt = rng.normal(size=(30, 2))
    yt = (Xt[:, :1] > 0).astype(float)
    yv = 1 - yt  # the better the fit, the worse the validation loss
    net = Network([2, 3, 1], seed=2)
    start = net.copy()
    patience = 4
    h = net.fit(Xt, yt, epochs=500, lr=1.0, validation_data=(Xt, yv), early_stopping=patience)
    assert h.best_epoch is not None and h.stopped_epoch == h.best_epoch + patience
    assert len(h.loss) == h.stopped_epoch + 1 == len(h.val_loss)
    assert h.val_loss[h.best_epoch] == min(h.val_loss)
    best = start.copy()
    best.fit(Xt, yt, epochs=h.best_epoch + 1, lr=1.0)
    for a, b in zip(net.weights + net.biases, best.weights + best.biases):
        assert np.array_equal(a, b)


def test_early_stopping_needs_validation_data():
    net = Network([3, 1], seed=0)
    before = net.weights[0].copy()
    with pytest.raises(ValueError, match="validation_data"):
        net.fit(X, ref.TRASK_Y1, epochs=3, early_stopping=2)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        net.fit(X, ref.TRASK_Y1, epochs=3, validation_data=(X[:, :2], ref.TRASK_Y1))
    assert np.array_equal(before, net.weights[0])


def test_history_to_dict_and_plot():
    net = Network([3, 4, 1], bias=False, seed=1)
    h = net.fit(X, Y2, epochs=50, lr=1.0, loss="sse", validation_data=(X, Y2), trace_every=25)
    d = h.to_dict()
    assert np.array_equal(d["loss"], np.array(h.loss)) and np.array_equal(d["val_loss"], np.array(h.val_loss))
    assert d["trace/syn0"].shape == (3, 3, 4) and d["trace_epochs"].tolist() == [0, 25, 49]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = h.plot()
    assert len(ax.get_lines()) == 2


# ------------------------------------------------------------------- sweep

def test_sweep_equals_separate_fits():
    lrs, seeds = [0.1, 1.0, 10.0], [1, 2]
    table = nnext.sweep([3, 4, 1], X, Y2, lrs=lrs, seeds=seeds, epochs=2000, target=0.05, bias=False,
                        loss="sse", as_frame=False)
    assert table["lr"].tolist() == [lr for lr in lrs for _ in seeds]
    assert table["seed"].tolist() == seeds * len(lrs)
    for i, (lr, seed) in enumerate(zip(table["lr"], table["seed"])):
        h = Network([3, 4, 1], bias=False, seed=int(seed)).fit(X, Y2, epochs=2000, lr=lr, loss="sse")
        assert table["final_loss"][i] == h.loss[-1]
        reached = [e for e, v in enumerate(h.loss) if v <= 0.05]
        if reached:
            assert table["epochs_to_target"][i] == reached[0]
        else:
            assert np.isnan(table["epochs_to_target"][i])
    assert not table["diverged"].any()


def test_sweep_marks_diverged_runs():
    rng = np.random.RandomState(0)
    Xr = rng.normal(size=(20, 3)) * 100
    yr = rng.normal(size=(20, 1)) * 100
    table = nnext.sweep([3, 8, 1], Xr, yr, lrs=[1e-9, 1e3], epochs=50, activation=["relu", "linear"],
                        as_frame=False)
    assert table["diverged"].tolist() == [False, True]
    assert np.isnan(table["final_loss"][1]) and np.isfinite(table["final_loss"][0])


# ----------------------------------------------------------------- summary

def test_summary_explains_layers_and_loss_scale(capsys):
    net = Network([3, 4, 1], bias=False, seed=1)
    net.summary(loss="mse", batch_size=4, lr=0.1)
    out = capsys.readouterr().out
    assert "(3, 4)" in out and "(4, 1)" in out and "16" in out and "sigmoid" in out
    assert "0.5" in out and "0.05" in out  # 2/(B k) with B=4, k=1; 0.1 * 0.5
    net.summary(loss="sse", batch_size=4, lr=1.0)
    assert "scaled by 1" in capsys.readouterr().out
