"""Fork: a network trained before os.fork() (multiprocessing's "fork" start
method, the default on Linux before Python 3.14) trains and predicts in the
child, with the same results as in the parent.  Large enough layers that the
core's parallel kernels (if any) have started worker threads before the fork."""
import multiprocessing as mp
import os
import sys
import threading

import numpy as np
import pytest

from nnext import Network

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or "fork" not in mp.get_all_start_methods(),
                                reason="needs os.fork (POSIX)")

TIMEOUT = 120


def problem():
    rs = np.random.RandomState(0)
    return rs.normal(size=(512, 128)), rs.uniform(0, 1, size=(512, 16))


def continue_training(net, X, Y):
    net.fit(X, Y, epochs=3, lr=0.05, batch_size=256, optimizer="adam")
    return net.predict(X), [w.copy() for w in net.weights + net.biases]


def child_main(net, X, Y, queue):
    try:
        out, params = continue_training(net, X, Y)
        queue.put(("ok", out, params))
    except BaseException as e:  # reported to the parent
        queue.put(("error", repr(e), None))


def run_child(net, X, Y):
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=child_main, args=(net, X, Y, queue))
    proc.start()
    try:
        result = queue.get(timeout=TIMEOUT)
    except Exception:
        result = None
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    assert result is not None, "the forked child hung or died without an answer"
    assert result[0] == "ok", result[1]
    assert proc.exitcode == 0
    return result[1], result[2]


def test_network_trained_before_fork_trains_and_predicts_in_child():
    X, Y = problem()
    net = Network([128, 256, 16], activation=["relu", "sigmoid"], seed=1)
    net.fit(X, Y, epochs=2, lr=0.05, batch_size=256, optimizer="adam")  # optimizer state too
    twin = net.copy()
    out_child, params_child = run_child(net, X, Y)
    out_parent, params_parent = continue_training(twin, X, Y)
    assert np.all(np.isfinite(out_child))
    np.testing.assert_allclose(out_child, out_parent, rtol=1e-12, atol=1e-14)
    for a, b in zip(params_child, params_parent):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(net.predict(X)))


def test_fork_while_another_thread_trains():
    """A fork while a parent thread is inside the C core (GIL released, kernel
    threads possibly busy): the child can still train its own network."""
    X, Y = problem()
    busy = Network([128, 256, 16], seed=2)
    mine = Network([128, 256, 16], seed=3)
    mine.fit(X, Y, epochs=1, lr=0.05, batch_size=256)
    stop = threading.Event()

    def trainer():
        while not stop.is_set():
            busy.fit(X, Y, epochs=1, lr=0.01, batch_size=512)

    t = threading.Thread(target=trainer)
    t.start()
    try:
        out_child, _ = run_child(mine, X, Y)
    finally:
        stop.set()
        t.join()
    out_parent, _ = continue_training(mine.copy(), X, Y)
    np.testing.assert_allclose(out_child, out_parent, rtol=1e-12, atol=1e-14)


def test_pool_of_forked_workers_predicts():
    """multiprocessing.Pool with fork: each worker predicts with the parent's
    trained network (inherited by fork, and also sent by pickle)."""
    X, Y = problem()
    net = Network([128, 32, 16], seed=4)
    net.fit(X, Y, epochs=2, lr=0.05)
    want = net.predict(X)
    global _POOL_NET
    _POOL_NET = net
    with mp.get_context("fork").Pool(2) as pool:
        inherited = pool.map(_predict_inherited, [X[:100], X[100:]], chunksize=1)
        pickled = pool.starmap(_predict_given, [(net, X[:100]), (net, X[100:])], chunksize=1)
    assert np.array_equal(np.vstack(inherited), want)
    assert np.array_equal(np.vstack(pickled), want)


_POOL_NET = None


def _predict_inherited(X):
    return _POOL_NET.predict(X)


def _predict_given(net, X):
    return net.predict(X)
