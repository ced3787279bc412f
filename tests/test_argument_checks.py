"""Every argument is checked before anything changes, with an error that names it
(issue 27, rule 3): huge Python ints where a real number is expected, sizes numpy
cannot address, seeds, and files that are not regular files or declare more
dimensions than numpy allows.  Each case failed before its fix with an error that
named nothing (OverflowError, ZeroDivisionError, numpy's own messages) or hung."""
import os
import threading

import numpy as np
import pytest

import nnext
from nnext import Network, datasets

from conftest import raises_mentioning

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 0.0])
HUGE = 10**400  # an int that no float holds


@pytest.fixture
def net():
    return Network([2, 3, 1], seed=0)


@pytest.mark.parametrize("key", ["lr", "l2", "l1", "momentum", "beta1", "beta2", "eps", "power_t"])
def test_huge_int_for_a_real_fit_argument_names_it(net, key):
    msg = raises_mentioning(ValueError, [key], lambda: net.fit(X, Y, **{key: HUGE}), net=net)
    assert "too large" in msg


@pytest.mark.parametrize("sign", [1, -1])
def test_huge_int_activation_parameter(sign):
    raises_mentioning(ValueError, ["alpha"], lambda: Network([2, 1], activation=("elu", sign * HUGE)))
    raises_mentioning(ValueError, ["slope"], lambda: Network([2, 1], activation=("leaky_relu", sign * HUGE)))


def test_huge_int_check_gradients_eps_and_tolerance(net):
    raises_mentioning(ValueError, ["eps"], lambda: net.check_gradients(X, Y, eps=HUGE), net=net)
    raises_mentioning(ValueError, ["tolerance"], lambda: net.check_gradients(X, Y, tolerance=HUGE), net=net)


@pytest.mark.parametrize("make", sorted({**datasets.TOY_CLASSIFICATION, **datasets.TOY_REGRESSION}))
def test_huge_int_dataset_noise(make):
    raises_mentioning(ValueError, ["noise"], lambda: getattr(datasets, make)(n=10, noise=HUGE))


def test_huge_int_playground_settings():
    from nnext.playground import Playground
    pg = Playground(seed=0)
    before = pg.settings
    for key in ("lr", "rate", "noise", "train_ratio"):
        raises_mentioning(ValueError, [key], lambda: pg.set(**{key: HUGE}))
    assert pg.settings == before


def test_playground_epochs_as_fit_takes_them():
    from nnext.playground import Playground
    pg = Playground(seed=0)
    for bad in (10**400, 2**62):
        raises_mentioning(ValueError, ["epochs"], lambda: pg.step(bad))
        raises_mentioning(ValueError, ["epochs_per_step"], lambda: pg.play(epochs_per_step=bad))
    assert pg.epoch == 0 and not pg.playing


def test_summary_checks_its_arguments(net):
    raises_mentioning(ValueError, ["batch_size"], lambda: net.summary(loss="mse", batch_size=0))
    raises_mentioning(ValueError, ["batch_size"], lambda: net.summary(loss="mse", batch_size=-3))
    raises_mentioning(TypeError, ["batch_size"], lambda: net.summary(loss="mse", batch_size=2.5))
    raises_mentioning(ValueError, ["lr"], lambda: net.summary(loss="mse", batch_size=4, lr=HUGE))
    raises_mentioning(ValueError, ["lr"], lambda: net.summary(loss="mse", batch_size=4, lr=-1.0))
    raises_mentioning(ValueError, ["loss"], lambda: net.summary(loss="hinge"))
    raises_mentioning(TypeError, ["loss"], lambda: net.summary(loss=3))


@pytest.mark.parametrize("epochs", [10**30, 2**62, 2**61])
def test_fit_epochs_beyond_what_numpy_addresses(net, epochs):
    raises_mentioning(ValueError, ["epochs"], lambda: net.fit(X, Y, epochs=epochs), net=net)


def test_fit_epochs_too_many_for_memory_names_epochs(net):
    raises_mentioning(MemoryError, ["epochs"], lambda: net.fit(X, Y, epochs=2**50), net=net)


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                       ("0", TypeError), (True, TypeError)])
def test_check_gradients_seed_named(net, seed, exc):
    raises_mentioning(exc, ["seed"], lambda: net.check_gradients(X, Y, samples=2, seed=seed), net=net)


def test_check_gradients_seed_kinds(net):
    ok = [net.check_gradients(X, Y, samples=2, seed=s).ok
          for s in (None, 0, 7, np.random.default_rng(1), np.random.RandomState(2))]
    assert all(ok)


def test_idx_with_more_dimensions_than_numpy_names_the_file(tmp_path):
    path = tmp_path / "many.idx"
    path.write_bytes(bytes([0, 0, 0x08, 65]) + b"\0\0\0\1" * 65 + b"\7")
    msg = raises_mentioning(ValueError, [str(path)], lambda: datasets.load_idx(path))
    assert "65 dimensions" in msg


def test_idx_on_a_fifo_is_refused_not_waited_on(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "pipe.idx"
    os.mkfifo(fifo)
    result = {}

    def load():
        try:
            datasets.load_idx(fifo)
        except BaseException as e:  # noqa: B902 - reported to the test
            result["error"] = e

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(60)  # a deadlock detector, not a time limit: the answer comes at once
    if worker.is_alive():
        # unblock the reader before failing, so that no thread is left behind
        with open(fifo, "wb"):
            pass
        worker.join(10)
        pytest.fail("load_idx blocked on a FIFO")
    assert isinstance(result.get("error"), ValueError), result
    assert str(fifo) in str(result["error"]) and "FIFO" in str(result["error"])


def test_idx_on_a_directory_names_it(tmp_path):
    raises_mentioning(ValueError, [str(tmp_path)], lambda: datasets.load_idx(tmp_path))


def test_from_torch_refuses_complex_linear():
    torch = pytest.importorskip("torch")
    for dtype in (torch.complex64, torch.complex128):
        module = torch.nn.Sequential(torch.nn.Linear(2, 3, dtype=dtype), torch.nn.Tanh(),
                                     torch.nn.Linear(3, 1, dtype=dtype))
        msg = raises_mentioning(ValueError, ["complex"], lambda: Network.from_torch(module))
        assert "[0]" in msg
    # a real first layer and a complex second one: the second is named
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1, dtype=torch.complex64))
    msg = raises_mentioning(ValueError, ["complex"], lambda: Network.from_torch(module))
    assert "[1]" in msg


def test_summary_file_named(net):
    raises_mentioning(TypeError, ["file"], lambda: net.summary(file=3))


@pytest.mark.parametrize("make", sorted({**datasets.TOY_CLASSIFICATION, **datasets.TOY_REGRESSION}))
def test_toy_set_n_beyond_what_numpy_addresses(make):
    raises_mentioning(ValueError, ["n "], lambda: getattr(datasets, make)(n=HUGE))


@pytest.mark.parametrize("name", ["alpha", "learning_rate_init", "power_t", "tol", "momentum", "beta_1",
                                  "epsilon"])
def test_estimator_huge_int_parameter_named(name):
    pytest.importorskip("sklearn")
    from nnext.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, solver="sgd", **{name: HUGE})
    raises_mentioning(ValueError, [name], lambda: clf.fit(X, [0, 1, 1, 0]))
    assert not hasattr(clf, "network_")


def test_estimator_huge_hidden_layer_size_named():
    pytest.importorskip("sklearn")
    from nnext.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(3, HUGE), max_iter=2)
    raises_mentioning(ValueError, ["hidden_layer_sizes[1]"], lambda: clf.fit(X, [0, 1, 1, 0]))
    assert not hasattr(clf, "network_")
