"""The paths that keep a tiny network's fixed costs down (issue 14), each held
to the slow path it replaces:

- starting weights from an int seed: the core draws them (nnext_random.c) as
  np.random.RandomState(seed) would, without building one; compared with
  numpy's own generator, to the bit, for many seeds, every scheme, both dtypes
  and shapes that cross MT19937's 624-word blocks;
- Engine.train's fast positional call against its keyword form;
- predict's lock-free path (small inputs, engine idle) against the locked one,
  and its stepping aside while another thread writes the parameters.
(The times themselves are measured in bench/, not asserted here.)"""
import numpy as np
import pytest

import nnext
import reference as R
from nnext import Network


def numpy_weights(seed, init, sizes, dtype):
    """The documented draws (Network's docstring), from numpy's RandomState."""
    rs = np.random.RandomState(seed)
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        shape = (n_in, n_out)
        if init == "uniform":
            w = 2 * rs.random_sample(shape) - 1
        elif init == "normal":
            w = rs.standard_normal(shape)
        elif init == "xavier":
            w = (2 * rs.random_sample(shape) - 1) * np.sqrt(6.0 / (n_in + n_out))
        else:
            w = rs.standard_normal(shape) * np.sqrt(2.0 / n_in)
        out.append(w.astype(dtype))
    return out


SEEDS = [0, 1, 2, 3, 42, 12345, 2**31 - 1, 2**31, 2**32 - 1]
SHAPES = [[2, 2, 1], [3, 4, 1], [5, 3], [1, 7, 1], [4, 9, 5, 3],   # odd counts: a kept gauss
          [30, 40, 2], [784, 3, 2]]                                  # 1,200 and 2,352 draws: several blocks


def test_inits_come_from_the_core():
    assert nnext.INITS == ("uniform", "normal", "xavier", "he")
    assert nnext.INITS == tuple(nnext._core.INITS)


@pytest.mark.parametrize("init", ["uniform", "normal", "xavier", "he"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_int_seed_draws_numpys_randomstate_to_the_bit(init, dtype):
    for seed in SEEDS:
        for sizes in SHAPES:
            net = Network(sizes, seed=seed, init=init, dtype=dtype)
            for w, ref in zip(net.weights, numpy_weights(seed, init, sizes, dtype)):
                assert w.dtype == np.dtype(dtype)
                np.testing.assert_array_equal(w, ref, err_msg=f"seed={seed} sizes={sizes}")
            for b in net.biases:
                assert not b.any()


@pytest.mark.parametrize("init", ["uniform", "normal", "xavier", "he"])
def test_int_seed_equals_a_randomstate_seed(init):
    """seed=s and seed=np.random.RandomState(s) (numpy draws) give the same network."""
    for seed in (0, 7, 2**32 - 1):
        a = Network([6, 5, 3, 2], seed=seed, init=init)
        b = Network([6, 5, 3, 2], seed=np.random.RandomState(seed), init=init)
        for wa, wb in zip(a.weights, b.weights):
            np.testing.assert_array_equal(wa, wb)


def test_numpy_integer_seeds_and_the_tutorials_weights():
    a = Network([3, 4, 1], bias=False, seed=np.uint32(1))
    np.random.seed(1)  # Trask's syn0 and syn1
    syn0 = 2 * np.random.random((3, 4)) - 1
    syn1 = 2 * np.random.random((4, 1)) - 1
    np.testing.assert_array_equal(a.weights[0], syn0)
    np.testing.assert_array_equal(a.weights[1], syn1)


def test_generator_and_none_still_draw_through_numpy():
    g = Network([3, 4, 1], seed=np.random.default_rng(5))
    ref = np.random.default_rng(5)
    np.testing.assert_array_equal(g.weights[0], 2 * ref.random((3, 4)) - 1)
    assert not np.array_equal(Network([3, 4, 1]).weights[0], Network([3, 4, 1]).weights[0])


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "1"])
def test_bad_seeds_are_refused(seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        Network([2, 2, 1], seed=seed)


def test_engine_init_weights_checks_its_arguments():
    eng = Network([2, 2, 1], seed=0)._engine
    for args in [(2**32, 0), (0, 4), (0, -1)]:
        with pytest.raises(ValueError, match="init_weights"):
            eng.init_weights(*args)
    with pytest.raises((TypeError, ValueError, OverflowError)):
        eng.init_weights(-1, 0)


# ------------------------------------------------ train's fast positional call

def _settings(**over):
    s = dict(loss=0, optimizer=1, lr=0.05, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8,
             batch_size=3, shuffle=True, rng_state=12345, n_epochs=7, lrs=None, l2=0.01, l1=0.001,
             reg_per_row=False, nesterov=False, adam_folded=False, loss_by_rows=False,
             loss_scale=0.0, grad_scale=0.0)
    s.update(over)
    return s


ORDER = ["loss", "optimizer", "lr", "momentum", "beta1", "beta2", "eps", "batch_size", "shuffle",
         "rng_state", "n_epochs", "losses", "lrs", "l2", "l1", "reg_per_row", "nesterov",
         "adam_folded", "loss_by_rows", "loss_scale", "grad_scale"]


def test_positional_train_equals_keyword_train():
    rs = np.random.RandomState(3)
    X, Y = rs.normal(size=(10, 4)), rs.uniform(size=(10, 2))
    for over in [{}, dict(optimizer=0, momentum=0.9, nesterov=True), dict(lrs=np.linspace(0.1, 0.01, 7))]:
        a, b = Network([4, 5, 2], seed=1), Network([4, 5, 2], seed=1)
        la, lb = np.empty(7), np.empty(7)
        s = _settings(**over)
        ra = a._engine.train(a._engine.data(X, Y), **dict(s, losses=la))
        sb = dict(s, losses=lb)
        rb = b._engine.train(b._engine.data(X, Y), *[sb[k] for k in ORDER])
        assert ra == rb
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_array_equal(a._engine.params, b._engine.params)


@pytest.mark.parametrize("name, bad", [("loss", 0.5), ("optimizer", "adam"), ("lr", "0.1"),
                                       ("batch_size", 2.0), ("rng_state", -1), ("n_epochs", None),
                                       ("losses", [0.0] * 7), ("l2", None), ("loss", 2**40)])
def test_positional_train_refuses_bad_types_and_changes_nothing(name, bad):
    net = Network([4, 5, 2], seed=1)
    before = net._engine.params.copy()
    data = net._engine.data(np.ones((3, 4)), np.ones((3, 2)))
    s = dict(_settings(), losses=np.empty(7))
    s[name] = bad
    with pytest.raises((TypeError, ValueError, OverflowError)):
        net._engine.train(data, *[s[k] for k in ORDER])
    np.testing.assert_array_equal(net._engine.params, before)


# ------------------------------------------------ predict's lock-free path

def test_predict_waits_for_a_python_level_write_in_progress():
    """While another thread writes the parameters (Network._writing: the lock and
    the engine marked busy), predict's lock-free path steps aside and waits for
    the lock, then sees the whole new parameters."""
    import threading
    net = Network([2, 3, 1], seed=0)
    x = np.array([[0.5, -1.0]])
    entered, results = threading.Event(), []
    with net._writing():
        assert net._engine.predict_nowait(x) is None  # busy: the fast path steps aside
        t = threading.Thread(target=lambda: (entered.set(), results.append(net.predict(x))))
        t.start()
        entered.wait()
        t.join(0.2)
        assert t.is_alive() and not results, "predict did not wait for the write to end"
        net._params[...] = 0.0
    t.join(5)
    assert results and results[0][0, 0] == 0.5  # sigmoid(0): the new parameters, whole


def test_set_busy_refuses_a_second_holder_and_predict_paths_agree():
    net = Network([3, 4, 2], seed=1)
    net._engine.set_busy(True)
    with pytest.raises(RuntimeError, match="in use"):
        net._engine.set_busy(True)
    net._engine.set_busy(False)
    rs = np.random.RandomState(0)
    small, large = rs.normal(size=(2, 3)), rs.normal(size=(5000, 3))  # large: above the GIL threshold
    assert net._engine.predict_nowait(large) is None
    for X in (small, large, small[0], small.T.copy().T, small.astype(np.float32), small.tolist()):
        np.testing.assert_array_equal(net.predict(X), net._engine.predict(X))
    out = net._engine.predict_nowait(small)
    np.testing.assert_array_equal(out, net._engine.predict(small))
    with pytest.raises(ValueError):
        net._engine.predict_nowait(np.ones((2, 5)))


def test_feedforward_returns_a_python_float_for_either_dtype():
    for dtype in ("float64", "float32"):
        net = Network([2, 2, 1], seed=0, dtype=dtype)
        y = net.feedforward(np.array([2.0, 3.0]))
        assert type(y) is float
        assert y == float(net.predict(np.array([[2.0, 3.0]]).astype(dtype))[0, 0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_feedforward_float_path_matches_predict_and_the_reference(dtype):
    """feedforward_nowait makes the float without an array: the same value as
    predict's, the reference's within the dtype's rounding, and arrays where
    the sample or the output is not single; the busy fallback agrees."""
    rs = np.random.RandomState(4)
    net = Network([3, 5, 1], activation=["tanh", "sigmoid"], seed=2, dtype=dtype)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for x in (rs.normal(size=3), rs.normal(size=3) * 40, [0.5, -1, 2], rs.normal(size=3).astype(np.float32)):
        y = net.feedforward(x)
        assert type(y) is float
        assert y == net.predict(np.asarray(x)).item()
        want = R.forward([w.astype(np.float64) for w in net.weights], [b.astype(np.float64) for b in net.biases],
                         ["tanh", "sigmoid"], np.asarray(x, np.float64)[None, :])[-1][0, 0]
        assert abs(y - want) <= tol * max(1.0, abs(want))
    assert net.feedforward(rs.normal(size=(2, 3))).shape == (2, 1)   # rows: an array
    assert net.feedforward(rs.normal(size=(1, 3))).shape == (1, 1)
    wide = Network([3, 2], seed=0, dtype=dtype)
    assert wide.feedforward(rs.normal(size=3)).shape == (2,)          # outputs: an array
    with pytest.raises(ValueError, match=r"\bx\b"):
        net.feedforward(np.ones(4))
    x = rs.normal(size=3)
    net._engine.set_busy(True)                                        # the locked path
    try:
        assert net._engine.feedforward_nowait(x) is None
    finally:
        net._engine.set_busy(False)
    assert net._engine.feedforward_nowait(x) == net.feedforward(x)
