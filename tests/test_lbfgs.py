"""Network.fit(optimizer="lbfgs") against scipy's L-BFGS-B driven by the
numpy reference's objective and gradient, from the same start."""

import subprocess
import sys

import numpy as np
import pytest

scipy_optimize = pytest.importorskip("scipy.optimize")
import reference as ref  # noqa: E402
from nnext import Network  # noqa: E402

RS = np.random.RandomState(4)
X = RS.normal(size=(60, 4))
LABELS = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
Y = np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]]
NOISY = (Y + RS.normal(scale=0.5, size=Y.shape) > 0).astype(float)  # not separable


def start(out, k, dtype="float64"):
    return Network([4, 6, k], activation=["tanh", out], init="xavier", seed=2, dtype=dtype)


def reference_lbfgs(net, y, loss, l2, max_iter):
    """scipy's L-BFGS-B on tests/reference.py's objective, in nnext's layout."""
    acts = net.activations
    shapes = [(w.shape, b.shape) for w, b in zip(net.weights, net.biases)]

    def unpack(x):
        weights, biases, i = [], [], 0
        for ws, bs in shapes:
            weights.append(x[i:i + ws[0] * ws[1]].reshape(ws))
            i += ws[0] * ws[1]
            biases.append(x[i:i + bs[0]])
            i += bs[0]
        return weights, biases

    def fun(x):
        weights, biases = unpack(x)
        value, dW, db = ref.loss_and_gradients(weights, biases, acts, X, y, loss)
        penalty, dR = ref.regularisation(weights, l2)
        return value + penalty, np.concatenate([np.r_[(g + r).ravel(), b]
                                                for g, r, b in zip(dW, dR, db)])

    x0 = net._params.astype(np.float64)
    return scipy_optimize.minimize(fun, x0, method="L-BFGS-B", jac=True,
                                   options={"maxiter": max_iter, "maxfun": 15000, "gtol": 1e-5})


@pytest.mark.parametrize("loss,out,y,k,l2", [("mse", "linear", Y, 2, 0.0),
                                             ("cross_entropy", "softmax", LABELS, 3, 0.01),
                                             ("bce", "sigmoid", NOISY, 2, 0.05)])
def test_lbfgs_equals_scipy_on_the_reference(loss, out, y, k, l2):
    net = start(out, k)
    want = reference_lbfgs(net, ref.prepare_targets(y, k, loss), loss, l2, 40)
    history = net.fit(X, y, epochs=40, loss=loss, optimizer="lbfgs", l2=l2)
    assert len(history.loss) == want.nit >= 30
    np.testing.assert_allclose(net._params, want.x, rtol=1e-6, atol=1e-8)
    assert history.loss[-1] == pytest.approx(want.fun, rel=1e-9)


def test_lbfgs_stops_when_converged_and_history_is_each_iterations_loss():
    net = start("linear", 2)
    history = net.fit(X, Y, epochs=5000, loss="mse", optimizer="lbfgs")
    assert 10 < len(history.loss) < 5000
    assert history.loss[-1] == pytest.approx(net.loss(X, Y, "mse"), rel=1e-12)
    assert all(a >= b for a, b in zip(history.loss, history.loss[1:]))


def test_lbfgs_in_float32():
    net32, net64 = start("softmax", 3, "float32"), start("softmax", 3)
    h32 = net32.fit(X, LABELS, epochs=15, loss="cross_entropy", optimizer="lbfgs")
    h64 = net64.fit(X, LABELS, epochs=15, loss="cross_entropy", optimizer="lbfgs")
    assert net32.dtype == np.float32 and net32.weights[0].dtype == np.float32
    assert h32.loss[-1] == pytest.approx(h64.loss[-1], rel=1e-3)


def test_lbfgs_callback_stops_and_sees_each_iterations_weights():
    net = start("linear", 2)
    seen = []

    def callback(epoch, network, loss):
        seen.append((epoch, loss, network.loss(X, Y, "mse")))
        return epoch < 4

    history = net.fit(X, Y, epochs=40, loss="mse", optimizer="lbfgs", callback=callback)
    assert [e for e, _, _ in seen] == [0, 1, 2, 3, 4]
    assert all(loss == pytest.approx(now, rel=1e-12) for _, loss, now in seen)
    assert len(history.loss) == 5 and net.loss(X, Y, "mse") == pytest.approx(seen[-1][1], rel=1e-12)


@pytest.mark.parametrize("kw", [dict(batch_size=10), dict(shuffle=True), dict(momentum=0.9),
                                dict(lr_schedule="invscaling"), dict(trace_every=2),
                                dict(validation_data=(X, Y))])
def test_lbfgs_refuses_what_it_does_not_use(kw):
    net = start("linear", 2)
    before = net._params.copy()
    name = next(iter(kw))
    with pytest.raises(ValueError, match=f"{name}=.*optimizer='lbfgs'"):
        net.fit(X, Y, epochs=3, optimizer="lbfgs", **kw)
    np.testing.assert_array_equal(net._params, before)
    with pytest.raises(ValueError, match="'lbfgs'"):
        net.fit(X, Y, optimizer="bfgs")


def test_lbfgs_on_overflowing_data_restores_the_weights():
    net = Network([4, 6, 2], activation="linear", init="xavier", seed=2)
    before = net._params.copy()
    with pytest.raises(FloatingPointError, match="L-BFGS.*restored"):
        net.fit(X * 1e200, Y, epochs=10, optimizer="lbfgs")
    np.testing.assert_array_equal(net._params, before)


def test_import_nnext_does_not_import_scipy(tmp_path):
    from conftest import child_env  # the child imports the nnext under test, never a source tree
    code = "import sys, nnext; import nnext.network; assert 'scipy' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=child_env())
    assert proc.returncode == 0, proc.stderr
