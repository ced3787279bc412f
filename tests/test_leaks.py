"""Leaks: every public call, succeeding and raising, thousands of times.

Memory is measured two ways: tracemalloc (every Python object and every numpy
buffer, byte-exact) and the process's resident set size (which also sees the C
core's own malloc'd workspaces).  The reference counts of the inputs must be
the same afterwards: a missing Py_DECREF in the binding shows up as a count
that grows with the number of calls, a spurious one as a count that shrinks.

Run under ASan (NNEXT_SANITIZED set by .ci/run) the RSS check is skipped:
ASan's quarantine keeps freed memory resident by design.
"""
import gc
import io
import os
import pickle
import sys
import tracemalloc

import numpy as np
import pytest

from nnext import Network

SANITIZED = bool(os.environ.get("NNEXT_SANITIZED"))
# Calls per operation (after a warm-up of WARMUP calls).  ~20 operations make
# this tens of thousands of calls in all.
N_CALLS = int(os.environ.get("NNEXT_LEAK_CALLS", "300" if SANITIZED else "2000"))
WARMUP = 50


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fast_dir(tmp_path):
    """A directory on tmpfs when there is one: save() fsyncs, and thousands of
    fsyncs on a real disk would measure the disk, not nnext."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        import tempfile
        return tempfile.mkdtemp(prefix="nnext-leaks-", dir=shm)
    return str(tmp_path)


@pytest.fixture(scope="module")
def data():
    rs = np.random.RandomState(0)
    # big enough that one leaked copy per call is megabytes over the loop
    X = rs.normal(size=(120, 40))
    Y = rs.uniform(0, 1, size=(120, 3))
    return X, Y


def make_ops(net, X, Y, folder):
    """(name, callable) pairs; every callable runs one public call and
    swallows only the exception it is meant to raise."""
    Xbad_cols = np.ones((5, 39))
    Xnan = X[:20].copy()
    Xnan[3, 4] = np.nan
    Xlist = X[:8].tolist()
    Xf = np.asfortranarray(X[:64])
    Xstrided = X[::3, :]
    Xint = (X[:30] * 10).astype(np.int32)
    Xcomplex = X[:4].astype(complex)
    Y1 = Y[:, :1]
    path = os.path.join(folder, "net.npz")
    net.save(path)
    broken = os.path.join(folder, "broken.npz")
    with open(path, "rb") as f:
        blob = f.read()
    with open(broken, "wb") as f:
        f.write(blob[: len(blob) // 2])
    diverging = Network([40, 8, 3], activation="linear", seed=1)
    # maxout: the binding's pre-activation arrays (forward, trace), its wider deltas
    maxout = Network([40, 8, 3], activation=[("maxout", 3), ("leaky_relu", 0.2)], seed=2)

    def expect(exc, fn):
        def run():
            try:
                fn()
            except exc:
                return
            raise AssertionError(f"{fn} did not raise {exc}")
        return run

    def fit_diverge():
        diverging.weights = [np.full((40, 8), 3.0), np.full((8, 3), 3.0)]
        diverging.fit(X, Y, epochs=3, lr=1e300)

    return [
        ("predict", lambda: net.predict(X)),
        ("predict_1d", lambda: net.predict(X[0])),
        ("predict_list", lambda: net.predict(Xlist)),
        ("predict_fortran", lambda: net.predict(Xf)),
        ("predict_strided", lambda: net.predict(Xstrided)),
        ("predict_int", lambda: net.predict(Xint)),
        ("forward", lambda: net.forward(X[:50])),
        ("loss", lambda: net.loss(X, Y)),
        ("fit", lambda: net.fit(X, Y, epochs=2, lr=0.01, batch_size=64)),
        ("fit_adam_shuffle", lambda: net.fit(X[:64], Y[:64], epochs=1, lr=1e-3, optimizer="adam",
                                             shuffle=True, seed=3, batch_size=16)),
        ("gradients", lambda: net.gradients(X, Y)),
        ("maxout_forward", lambda: maxout.forward(X[:50])),
        ("maxout_trace", lambda: maxout.fit(X[:50], Y[:50], epochs=2, lr=0.01, trace_every=1)),
        ("maxout_gradients", lambda: maxout.gradients(X, Y)),
        ("maxout_pickle", lambda: pickle.loads(pickle.dumps(maxout))),
        ("copy", lambda: net.copy()),
        ("pickle", lambda: pickle.loads(pickle.dumps(net))),
        ("weights_set", lambda: setattr(net, "weights", net.weights)),
        ("save", lambda: net.save(path)),
        ("load", lambda: Network.load(path)),
        # calls that raise
        ("predict_bad_cols", expect(ValueError, lambda: net.predict(Xbad_cols))),
        ("predict_nan", expect(ValueError, lambda: net.predict(Xnan))),
        ("predict_complex", expect(TypeError, lambda: net.predict(Xcomplex))),
        ("predict_str", expect((TypeError, ValueError), lambda: net.predict("abc"))),
        ("fit_nan", expect(ValueError, lambda: net.fit(Xnan, Y[:20], epochs=1))),
        ("fit_bad_y", expect(ValueError, lambda: net.fit(X, Y1, epochs=1))),
        ("fit_bad_lr", expect(ValueError, lambda: net.fit(X, Y, lr=-1.0))),
        ("fit_diverge", expect(FloatingPointError, fit_diverge)),
        ("gradients_bad_rows", expect(ValueError, lambda: net.gradients(X[:10], Y[:11]))),
        ("gradients_bad_loss", expect(ValueError, lambda: net.gradients(X, Y, loss="nope"))),
        ("load_truncated", expect(ValueError, lambda: Network.load(broken))),
        ("load_missing", expect(FileNotFoundError, lambda: Network.load(path + ".missing.npz"))),
        ("save_bad_dir", expect(OSError, lambda: net.save(os.path.join(folder, "no", "such", "x.npz")))),
    ], (X, Y, Xbad_cols, Xnan, Xlist, Xf, Xstrided, Xint, Xcomplex, Y1, path, broken)


@pytest.mark.slow
def test_no_leaks_and_refcounts_unchanged(data, tmp_path):
    X, Y = data
    net = Network([40, 32, 3], activation=["tanh", "sigmoid"], seed=0)
    folder = fast_dir(tmp_path)
    ops, inputs = make_ops(net, X, Y, folder)
    input_refs = [sys.getrefcount(o) for o in inputs]
    net_refs = sys.getrefcount(net)
    params_refs = sys.getrefcount(net._params)
    problems = []
    total_calls = 0
    np.seterr(all="ignore")
    for name, op in ops:
        for _ in range(WARMUP):
            op()
        gc.collect()
        rss0 = rss_bytes()
        tracemalloc.start()
        traced0 = tracemalloc.get_traced_memory()[0]
        for _ in range(N_CALLS):
            op()
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - traced0
        tracemalloc.stop()
        rss = rss_bytes() - rss0
        total_calls += WARMUP + N_CALLS
        # One leaked 8-byte pointer per call would be 16 KB over 2000 calls;
        # one leaked input copy (38 KB) would be ~75 MB.
        if traced > 32 * 1024:
            problems.append(f"{name}: tracemalloc grew by {traced} bytes over {N_CALLS} calls")
        if not SANITIZED and rss > 8 * 2**20:
            problems.append(f"{name}: RSS grew by {rss / 2**20:.1f} MiB over {N_CALLS} calls")
    np.seterr(all="warn")
    gc.collect()
    # measured with the operations (closures over the inputs) still alive, as before
    after = [sys.getrefcount(o) for o in inputs]
    for i, (b, a) in enumerate(zip(input_refs, after)):
        if a != b:
            problems.append(f"input {i} ({type(inputs[i]).__name__}): refcount {b} -> {a}")
    if sys.getrefcount(net) != net_refs:
        problems.append(f"network refcount {net_refs} -> {sys.getrefcount(net)}")
    if sys.getrefcount(net._params) != params_refs:
        problems.append(f"params refcount {params_refs} -> {sys.getrefcount(net._params)}")
    assert not problems, "\n".join(problems)
    assert total_calls >= 20 * N_CALLS
    assert np.all(np.isfinite(net.predict(X)))


def test_engine_refcounts_exact():
    """The binding directly: a call that succeeds and one that fails in every
    validation branch leave the refcounts of their arguments exactly as they
    were (no borrowed reference kept, none released twice)."""
    net = Network([4, 5, 2], seed=0)
    eng = net._engine
    X = np.random.RandomState(0).normal(size=(7, 4))
    Y = np.random.RandomState(1).uniform(size=(7, 2))
    grads = np.empty(net.n_params)
    losses = np.empty(3)
    state = np.zeros(0)
    Xf32 = X.astype(np.float32)
    Xbad = np.ones((7, 3))
    Xnan = X.copy()
    Xnan[0, 0] = np.inf
    objs = [X, Y, grads, losses, state, Xf32, Xbad, Xnan]
    before = [sys.getrefcount(o) for o in objs]
    train = dict(loss=0, optimizer=0, lr=0.1, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8,
                 batch_size=7, shuffle=False, rng_state=1, n_epochs=3)
    for _ in range(200):
        data = eng.data(X, Y)
        eng.predict(X)
        eng.predict(Xf32)
        eng.forward(X)
        eng.loss(data, 0)
        eng.gradients(data, 0)
        eng.train(data, losses=losses, **train)
        eng.optimizer_state()
        for bad in (lambda: eng.predict(Xbad), lambda: eng.predict(Xnan),
                    lambda: eng.data(X, Xbad), lambda: eng.loss(data, 99),
                    lambda: eng.gradients(X, 0),
                    lambda: eng.data(Xnan, Y),
                    lambda: eng.train(data, losses=grads[:1], **train),
                    lambda: eng.train(Xbad, losses=losses, **train),
                    lambda: eng.set_optimizer_state((0, 1, state, 0))):
            try:
                bad()
            except (ValueError, TypeError):
                pass
            else:
                raise AssertionError("expected an error")
        del data
    after = [sys.getrefcount(o) for o in objs]
    assert after == before


def test_pickle_and_save_roundtrip_many_times_stays_identical(tmp_path):
    """Thousands of save/load and pickle round trips do not drift a weight."""
    net = Network([5, 7, 2], activation="tanh", dtype="float32", seed=3)
    X = np.random.RandomState(2).normal(size=(9, 5))
    want = net.predict(X)
    folder = fast_dir(tmp_path)
    path = os.path.join(folder, "rt.npz")
    cur = net
    for i in range(300 if SANITIZED else 1000):
        cur = pickle.loads(pickle.dumps(cur)) if i % 2 else Network.load(cur.save(path))
        cur = cur.copy()
    assert np.array_equal(cur.predict(X), want)
    buf = io.BytesIO()
    pickle.dump(cur, buf)
    assert np.array_equal(pickle.loads(buf.getvalue()).predict(X), want)
