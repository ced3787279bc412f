"""The fused training path for tiny networks (nnext_core_impl.h, "the fused
path"): a whole step in one C function over batches of at most 4 rows (float64;
8 for float32).  It must give the general path's results to the bit, through
the whole Python API: the same weights, biases, losses and optimizer state.
`nnext._core._set_fused_path(False)` forces the general path for comparison.
"""
import contextlib

import numpy as np
import pytest

import nnext
from nnext import Network, _core
from nnext.tutorials import TRASK_X, TRASK_Y2


@contextlib.contextmanager
def general_path():
    assert _core._get_fused_path()
    _core._set_fused_path(False)
    try:
        yield
    finally:
        _core._set_fused_path(True)


def _train_both(make, X, y, **fit):
    a, b = make(), make()
    ha = a.fit(X, y, **fit)
    with general_path():
        hb = b.fit(X, y, **fit)
    return a, b, ha, hb


def _assert_identical(a, b, ha, hb):
    for u, v in zip(a.weights, b.weights):
        assert u.tobytes() == v.tobytes()
    if a.biases is not None:
        for u, v in zip(a.biases, b.biases):
            assert u.tobytes() == v.tobytes()
    assert np.asarray(ha.loss).tobytes() == np.asarray(hb.loss).tobytes()


def test_trask_part2_bit_for_bit():
    a, b, ha, hb = _train_both(lambda: Network([3, 4, 1], bias=False, seed=1),
                               TRASK_X, TRASK_Y2, epochs=3000, lr=1.0, loss="sse")
    _assert_identical(a, b, ha, hb)
    # and it learned XOR, as Trask's network does
    assert np.all(np.abs(a.predict(TRASK_X) - TRASK_Y2) < 0.1)


CASES = [
    # sizes, activation, loss, batch_size, optimizer, dtype
    ([2, 2, 1], "sigmoid", "mse", 1, "sgd", "float64"),          # Zhou: per-sample SGD
    ([3, 4, 1], ["tanh", "sigmoid"], "bce", None, "sgd", "float64"),
    ([2, 5, 3, 2], ["relu", "elu", "linear"], "mse", 3, "adam", "float64"),
    ([4, 8, 1], ["leaky_relu", "sigmoid"], "sse", 2, "sgd", "float64"),
    ([3, 6, 2], "tanh", "mse", 8, "adam", "float32"),            # 8 lanes of float32
    ([3, 4, 4, 1], "sigmoid", "bce", 5, "sgd", "float32"),
    # activations with parameters (issue 17): leaky_relu and elu at other
    # parameters take the fused path; maxout is declined (the general path both times)
    ([4, 8, 1], [("leaky_relu", 0.2), "sigmoid"], "sse", 2, "sgd", "float64"),
    ([2, 5, 3, 2], [("elu", 0.5), ("leaky_relu", 0.3), ("elu", 2.0)], "mse", 3, "adam", "float64"),
    ([3, 6, 2], [("elu", 2.0), ("leaky_relu", 0.0)], "mse", 8, "adam", "float32"),
    ([3, 4, 4, 1], [("leaky_relu", 0.05), ("elu", 0.25), "sigmoid"], "bce", 5, "sgd", "float32"),
    ([3, 4, 1], [("maxout", 2), "sigmoid"], "bce", None, "sgd", "float64"),
]


@pytest.mark.parametrize("sizes,act,loss,batch,opt,dtype", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_bit_for_bit(sizes, act, loss, batch, opt, dtype, bias):
    rng = np.random.RandomState(7)
    n = 4 if batch is None else 10  # full batch: the fused path takes up to 4 rows
    X = rng.uniform(-2, 2, (n, sizes[0]))
    y = rng.uniform(0, 1, (n, sizes[-1])) if loss == "bce" else rng.uniform(-1, 1, (n, sizes[-1]))
    kw = dict(epochs=25, lr=0.05 if opt == "adam" else 0.3, loss=loss, batch_size=batch,
              optimizer=opt, shuffle=batch is not None, seed=3)
    if opt == "sgd" and batch == 2:
        kw["momentum"] = 0.9
    a, b, ha, hb = _train_both(
        lambda: Network(sizes, activation=act, bias=bias, dtype=dtype, init="xavier", seed=5),
        X, y, **kw)
    _assert_identical(a, b, ha, hb)
    # training continues identically (optimizer state included)
    ha2 = a.fit(X, y, **kw)
    with general_path():
        hb2 = b.fit(X, y, **kw)
    _assert_identical(a, b, ha2, hb2)


def test_divergence_is_restored_the_same_way():
    """A non-finite loss: the fused path replays the call's epochs with the
    checks on, and ends where the general path ends."""
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    y = np.array([[1.0], [-2.0], [0.0]])
    nets, errs = [], []
    for fused in (True, False):
        net = Network([2, 3, 1], activation="linear", seed=0)
        _core._set_fused_path(fused)
        try:
            with pytest.raises(FloatingPointError) as e:
                net.fit(X, y, epochs=200, lr=1e150, batch_size=1)
        finally:
            _core._set_fused_path(True)
        nets.append(net)
        errs.append(str(e.value))
    assert errs[0] == errs[1]
    for u, v in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        assert u.tobytes() == v.tobytes()
        assert np.all(np.isfinite(u))


def test_nnext_exports_nothing_new():
    # the switch is a test hook of the extension, not public API
    assert not hasattr(nnext, "_set_fused_path")
