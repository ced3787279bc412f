"""Threads: the GIL is released while the C core trains, so two networks train
in parallel, with results identical to training them one after the other.
Concurrent calls on one network are serialised by its lock (or, when the lock
is bypassed, refused by the engine's busy flag) and never corrupt it."""
import os
import threading
import time

import numpy as np
import pytest

from nnext import Network

SANITIZED = bool(os.environ.get("NNEXT_SANITIZED"))


def n_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def problem(seed):
    rs = np.random.RandomState(seed)
    X = rs.normal(size=(256, 32))
    Y = rs.uniform(0, 1, size=(256, 4))
    return X, Y


def train(net, X, Y, epochs):
    net.fit(X, Y, epochs=epochs, lr=0.05, batch_size=32, shuffle=True, seed=5)
    return net


def calibrate_epochs(target_seconds):
    """Epochs that take about target_seconds for one network on this machine."""
    X, Y = problem(0)
    net = Network([32, 64, 4], seed=0)
    t = time.perf_counter()
    train(net, X, Y, 20)
    per_epoch = (time.perf_counter() - t) / 20
    return max(20, int(target_seconds / max(per_epoch, 1e-6)))


def test_two_threads_train_at_once_with_identical_results():
    """Two fits started together in two threads are inside the core at the same
    time (their calls overlap, which a C loop holding the GIL would forbid),
    and end with the bits of the same fits run one after the other.  How much
    faster the pair runs depends on the machine's load: that is measured in
    bench/, not here."""
    epochs = calibrate_epochs(0.4)
    data = [problem(1), problem(2)]

    def fresh():
        return [Network([32, 64, 4], activation="tanh", seed=s) for s in (10, 11)]

    seq = fresh()
    for net, (X, Y) in zip(seq, data):
        train(net, X, Y, epochs)

    par = fresh()
    start = threading.Barrier(2)
    spans = [None, None]

    def job(i):
        start.wait()
        began = time.monotonic()
        train(par[i], *data[i], epochs)
        spans[i] = (began, time.monotonic())

    threads = [threading.Thread(target=job, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(seq, par):
        for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
            assert np.array_equal(wa, wb), "threaded training differs from sequential training"
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, f"the two fits never ran at once: {spans}"


def test_training_releases_the_gil():
    """Load-independent: while one thread is in fit, the main thread keeps
    running Python.  With the GIL held by the C loop the main thread would only
    get in at the core's polls (every ~50 ms, for one 5 ms switch interval):
    about a tenth of its share of the CPU.  Measured as the main thread's CPU
    time relative to what the same loop gets alone over the same wall time."""
    X, Y = problem(7)
    epochs = calibrate_epochs(0.8)

    def spin(seconds):
        n, t_end = 0, time.perf_counter() + seconds
        c0 = time.thread_time()
        while time.perf_counter() < t_end:
            n += 1
        return n, time.thread_time() - c0

    shares = []
    for attempt in range(4):
        net = Network([32, 64, 4], seed=8)
        t = threading.Thread(target=train, args=(net, X, Y, epochs))
        t.start()
        time.sleep(0.05)
        t0 = time.perf_counter()
        n_during, cpu_during = spin(0.3)
        wall = time.perf_counter() - t0
        still_training = t.is_alive()
        t.join()
        n_alone, cpu_alone = spin(0.3)
        if not still_training:
            continue  # the fit ended during the measurement: not informative
        shares.append(round(n_during / max(n_alone, 1), 2))
        if shares[-1] > 0.3:
            return
    assert shares, "fit kept ending before the measurement; calibration failed"
    raise AssertionError(f"the main thread ran at {shares} of its speed while another thread trained: "
                         f"the GIL seems to be held by the training loop")


def test_concurrent_calls_on_one_network_are_serialised():
    """Four threads fit, predict, read gradients, copy, pickle and save the same
    network at once.  Full-batch SGD without shuffling is deterministic and
    fits add up (two fits of k epochs == one of 2k), so after the storm the
    weights must equal one single-threaded fit of all the epochs."""
    X, Y = problem(3)
    X, Y = X[:64], Y[:64]
    net = Network([32, 16, 4], seed=4)
    start = net.copy()
    n_threads, fits, epochs = 4, 6 if SANITIZED else 12, 7
    errors = []
    barrier = threading.Barrier(n_threads)

    def worker(i):
        try:
            barrier.wait()
            for j in range(fits):
                net.fit(X, Y, epochs=epochs, lr=0.1)
                out = net.predict(X)
                assert out.shape == (64, 4) and np.all(np.isfinite(out))
                dW, db = net.gradients(X, Y)
                assert all(np.all(np.isfinite(g)) for g in dW + db)
                c = net.copy()
                assert np.all(np.isfinite(c.predict(X)))
                if j % 4 == i:
                    net.loss(X, Y)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    start.fit(X, Y, epochs=n_threads * fits * epochs, lr=0.1)
    for a, b in zip(net.weights + net.biases, start.weights + start.biases):
        assert np.array_equal(a, b)


def test_engine_refuses_concurrent_entry_with_a_clear_error():
    """Bypassing Network's lock: while one thread is inside the C training
    loop (GIL released), another thread's call on the same engine raises
    RuntimeError instead of racing on the parameters; the training result is
    unaffected."""
    X, Y = problem(4)
    net = Network([32, 64, 4], seed=6)
    ref = net.copy()
    eng = net._engine
    epochs = calibrate_epochs(0.5)
    losses = np.empty(epochs)
    data = eng.data(X, Y)
    Xa = data.X
    # (a refused call must not change anything; the train attempted below has
    # lr=0, so that even if it got in before the trainer it would change nothing)
    settings = dict(loss=0, optimizer=0, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8,
                    batch_size=32, shuffle=False, rng_state=1)
    args = dict(settings, lr=0.05, n_epochs=epochs, losses=losses)
    done = threading.Event()
    out = {}

    def trainer():
        out["result"] = eng.train(data, **args)
        done.set()

    t = threading.Thread(target=trainer)
    t.start()
    refused = []
    while not done.is_set():
        for call in (lambda: eng.predict(Xa), lambda: eng.loss(data, 0),
                     lambda: eng.gradients(data, 0), lambda: eng.forward(Xa[:3]),
                     lambda: eng.train(data, **settings, lr=0.0, n_epochs=1, losses=np.empty(1)),
                     lambda: eng.set_optimizer_state(None)):
            try:
                call()
            except RuntimeError as e:
                assert "in use by another thread" in str(e)
                refused.append(e)
        time.sleep(0.001)
    t.join()
    assert refused, "no concurrent call was attempted while training ran"
    ref._engine.train(ref._engine.data(X, Y), **dict(args, losses=np.empty(epochs)))
    assert out["result"][0] == 0
    assert np.array_equal(net._params, ref._params), "a refused call changed the parameters"


def test_network_lock_serialises_a_fit_callback_reentrant():
    """fit's callback runs with the network's lock held (an RLock): calling the
    same network from inside it works instead of deadlocking."""
    X, Y = problem(5)
    net = Network([32, 8, 4], seed=7)
    seen = []

    def cb(epoch, n, loss):
        seen.append(n.predict(X[:2]).shape)
        n.gradients(X[:4], Y[:4])

    net.fit(X, Y, epochs=3, callback=cb)
    assert seen == [(2, 4)] * 3
