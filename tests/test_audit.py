"""The defects an adversarial audit found (issue 11), one or more tests each.
Every test here failed on the code before its fix (checked against that build)."""
import os
import pickle
import signal
import sys
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import nnext
from nnext import Network, _core

from conftest import interrupt_after, assert_same_params, raises_mentioning, snapshot

SANITIZED = bool(os.environ.get("NNEXT_SANITIZED"))


def all_finite(net):
    state = net._engine.optimizer_state()
    values = net.weights + (net.biases or []) + ([state[2]] if state else [])
    return all(np.all(np.isfinite(v)) for v in values)


def interrupted_after(seconds, call):
    """Runs call() with SIGINT (Ctrl-C: KeyboardInterrupt) sent from another
    thread after `seconds`; returns the latency from the signal to the
    exception (an Answer), or None if call finished first."""
    return interrupt_after(seconds, call)


# ------------------------------------------------ 1. Ctrl-C during the replay

def test_interrupt_during_replay_leaves_finite_parameters():
    """A non-finite loss makes the core replay the call's epochs with checks on;
    an interrupt inside that replay must still end with finite parameters."""
    rs = np.random.RandomState(0)
    X, Y = rs.normal(size=(4000, 800)), 10 * rs.normal(size=(4000, 1))

    def fit(net):
        try:
            net.fit(X, Y, epochs=3, lr=1e308)
        except FloatingPointError:
            pass

    hits = 0
    for delay in (0.05, 0.15, 0.3, 0.45):
        net = Network([800, 800, 1], activation="linear", seed=0)
        hits += interrupted_after(delay, lambda: fit(net)) is not None
        assert all_finite(net)
    assert hits, "no interrupt landed inside the fit: make it longer"


# ---------------------------------------- 2. optimizer state in step with params

def test_adam_state_describes_the_parameters_after_an_interrupt():
    rs = np.random.RandomState(1)
    X, Y = rs.normal(size=(256, 64)), rs.uniform(size=(256, 4))
    net = Network([64, 256, 4], seed=2)
    start = net.copy()
    latency = interrupted_after(0.3, lambda: net.fit(X, Y, epochs=10**7, optimizer="adam", lr=1e-3))
    assert latency is not None
    _, _, state, t = net._engine.optimizer_state()
    assert t > 0
    start.fit(X, Y, epochs=t, optimizer="adam", lr=1e-3)  # one full-batch step per epoch
    _, _, state_ref, t_ref = start._engine.optimizer_state()
    assert t_ref == t
    assert np.array_equal(state, state_ref)
    assert_same_params(net, snapshot(start))


def test_a_fit_nested_in_a_callback_keeps_the_step_count():
    X, Y = np.random.RandomState(3).normal(size=(8, 3)), np.zeros((8, 1))
    net = Network([3, 4, 1], seed=0)

    def inner(epoch, n, loss):
        if epoch == 0:
            n.fit(X, Y, epochs=2, optimizer="adam", lr=1e-3)

    net.fit(X, Y, epochs=3, optimizer="adam", lr=1e-3, callback=inner)
    assert net._engine.optimizer_state()[3] == 5


# ------------------------------------------------------- 3. load's memory bound

def saved(tmp_path, **kw):
    net = Network([3, 4, 2], seed=0, **kw)
    return net, net.save(os.path.join(tmp_path, "net.npz"))


def add_member(path, name, data_bytes, chunk=1 << 20):
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(name, "w", force_zip64=True) as f:
            header = np.lib.format.header_data_from_array_1_0(np.zeros(0, np.uint8))
            header["shape"] = (data_bytes,)
            np.lib.format.write_array_header_1_0(f, header)
            zeros = bytes(chunk)
            for _ in range(data_bytes // chunk):
                f.write(zeros)


def test_load_refuses_an_unknown_member_without_reading_it(tmp_path):
    net, path = saved(tmp_path)
    add_member(path, "junk.npy", 256 << 20)
    assert os.path.getsize(path) < 2 << 20
    tracemalloc.start()
    raises_mentioning(ValueError, ["junk"], lambda: Network.load(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_load_refuses_members_larger_than_their_declared_shape(tmp_path):
    net, path = saved(tmp_path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["W0.npy"] += bytes(64 << 20)  # the right header, then far more data
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    tracemalloc.start()
    raises_mentioning(ValueError, ["W0"], lambda: Network.load(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_load_refuses_a_fifo_without_blocking(tmp_path):
    fifo = os.path.join(tmp_path, "pipe.npz")
    os.mkfifo(fifo)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("e", pytest.raises(ValueError, Network.load, fifo)))
    t.daemon = True
    t.start()
    t.join(5)
    assert not t.is_alive(), "load blocked on a FIFO"
    assert "regular file" in str(out["e"].value)


# -------------------------------------------- 4. the loss values, exact from z

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bce_loss_is_exact_over_the_whole_range(dtype):
    z = np.concatenate([-np.logspace(-6, 2.6, 40), [0.0], np.logspace(-6, 2.6, 40)])
    if dtype == "float32":
        z = z[np.abs(z) < 80]
    net = Network.from_weights([np.ones((1, 1))], [np.zeros(1)], dtype=dtype)
    for y in (0.0, 1.0, 0.25):
        want = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)  # float64, no cancellation
        got = np.array([net.loss([[zi]], [[y]], loss="bce") for zi in z.astype(dtype)])
        want = y * np.logaddexp(0, -z.astype(dtype).astype(np.float64)) + \
            (1 - y) * np.logaddexp(0, z.astype(dtype).astype(np.float64))
        tol = 8 * np.finfo(dtype).eps
        np.testing.assert_allclose(got, want, rtol=tol, atol=0)
    assert net.loss([[40.0]], [[0.0]], loss="bce") == pytest.approx(40.0, rel=4 * float(np.finfo(dtype).eps))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cross_entropy_loss_is_exact_for_saturated_softmax(dtype):
    rs = np.random.RandomState(4)
    net = Network.from_weights([np.eye(4)], [np.zeros(4)], activation="softmax", dtype=dtype)
    for scale in (0.1, 1, 10, 50, 80 if dtype == "float32" else 700):
        Z = (rs.normal(size=(6, 4)) * scale).astype(dtype)
        labels = rs.randint(0, 4, 6)
        Zl = Z.astype(np.longdouble)
        m = Zl.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(Zl - m).sum(axis=1))
        want = float(np.mean(lse - Zl[np.arange(6), labels]))
        got = net.loss(Z, labels, loss="cross_entropy")
        assert got == pytest.approx(want, rel=16 * float(np.finfo(dtype).eps), abs=1e-300)


def test_history_loss_of_a_saturated_bce_fit_is_exact():
    net = Network.from_weights([np.full((1, 1), 50.0)], [np.zeros(1)])
    h = net.fit([[1.0]], [[0.0]], epochs=1, lr=0.0, loss="bce")
    assert h.loss[0] == pytest.approx(50.0, rel=1e-15)


# ------------------------------------------------------ 5. check_gradients sound

def test_check_gradients_fails_non_finite_gradients():
    X, y = np.random.RandomState(5).normal(size=(5, 3)), np.zeros((5, 1))
    net = Network([3, 4, 1], seed=0)
    dW, db = net.gradients(X, y)
    for bad in (np.nan, np.inf):
        wrong = [dW[0].copy(), dW[1]]
        wrong[0][1, 2] = bad
        result = net.check_gradients(X, y, gradients=(wrong, db))
        assert not result.ok and not result
        assert result.max_error == np.inf


def test_check_gradients_refuses_to_check_nothing():
    X, y = np.ones((2, 3)), np.zeros((2, 1))
    net = Network([3, 2, 1], seed=0)
    raises_mentioning(ValueError, ["samples"], lambda: net.check_gradients(X, y, samples=0))
    raises_mentioning(ValueError, ["eps"], lambda: net.check_gradients(X, y, eps=0))
    raises_mentioning(ValueError, ["tolerance"], lambda: net.check_gradients(X, y, tolerance=0))


def test_check_gradients_defaults_pass_the_right_gradient_reliably():
    """The audit saw about 1 in 40 untrained 3-4-1 networks fail with the
    right gradient; none may."""
    rs = np.random.RandomState(6)
    X, y = rs.normal(size=(4, 3)), rs.uniform(size=(4, 1))
    failures = [seed for seed in range(200)
                if not Network([3, 4, 1], seed=seed).check_gradients(X, y, loss="mse").ok]
    assert failures == []


# -------------------------------------------- 6. inputs that alias the network

def test_inputs_sharing_the_networks_memory_behave_as_copies():
    a = Network([6, 6, 1], activation="tanh", seed=1)  # 6 rows: the general path
    b = a.copy()
    y = np.ones((6, 1))
    ha = a.fit(a.weights[0], y, epochs=20, lr=0.1)
    hb = b.fit(b.weights[0].copy(), y, epochs=20, lr=0.1)
    assert ha.loss == hb.loss
    assert_same_params(a, snapshot(b))
    assert np.array_equal(a.gradients(a.weights[0], y)[0][0], b.gradients(b.weights[0].copy(), y)[0][0])


# ------------------------------------------------ 7. every long call answers Ctrl-C

WIDE = [64, 3072, 3072, 1]


@pytest.fixture(scope="module")
def wide_net():
    return Network(WIDE, activation=["relu", "relu", "linear"], dtype="float32", init="he", seed=0)


@pytest.mark.parametrize("call", ["predict", "gradients", "loss", "forward", "fit_one_step"])
def test_long_calls_answer_ctrl_c(wide_net, call):
    rows = {"predict": 40000, "loss": 40000, "forward": 20000, "gradients": 16000, "fit_one_step": 16000}[call]
    X = np.random.RandomState(7).normal(size=(rows, WIDE[0])).astype(np.float32)
    y = np.zeros((rows, 1), np.float32)
    before = snapshot(wide_net)
    run = {"predict": lambda: wide_net.predict(X), "loss": lambda: wide_net.loss(X, y),
           "forward": lambda: wide_net.forward(X), "gradients": lambda: wide_net.gradients(X, y),
           "fit_one_step": lambda: wide_net.fit(X, y, epochs=1, lr=1e-9)}[call]
    answer = interrupted_after(0.15, run)
    assert answer is not None, f"{call} finished within 0.15 s: make it longer"
    assert_same_params(wide_net, before)  # an interrupted step is not taken
    answer.check(call)


def test_sweep_answers_ctrl_c_without_waiting_for_its_runs():
    X = np.random.RandomState(8).normal(size=(512, 64))
    y = np.zeros((512, 1))
    answer = interrupted_after(0.3, lambda: nnext.sweep([64, 512, 1], X, y, lrs=[1e-9, 2e-9], seeds=[0, 1],
                                                        epochs=10**6, n_jobs=2, as_frame=False))
    assert answer is not None, "the sweep finished within 0.3 s: make it longer"
    # its runs train in worker threads, each polling: the caller's answer is
    # the work done after the signal, not a count of its own polls
    answer.check("sweep", polls=None)


# ------------------------------------------------ 8. no deadlock across threads

def test_a_callback_may_use_the_network_from_another_thread():
    X, Y = np.ones((4, 3)), np.zeros((4, 1))
    net = Network([3, 2, 1], seed=0)
    seen = []

    def callback(epoch, n, loss):
        t = threading.Thread(target=lambda: seen.append(n.predict(X).shape))
        t.start()
        t.join(5)
        assert not t.is_alive(), "deadlock: the other thread never got the network"

    net.fit(X, Y, epochs=3, callback=callback)
    assert seen == [(4, 1)] * 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_holds_the_network_does_not_hang_the_child():
    X, Y = np.random.RandomState(9).normal(size=(512, 64)), np.zeros((512, 1))
    net = Network([64, 512, 1], seed=0)
    stop = threading.Event()

    def trainer():
        while not stop.is_set():
            net.fit(X, Y, epochs=20, lr=1e-9)

    t = threading.Thread(target=trainer)
    t.start()
    try:
        time.sleep(0.2)
        pid = os.fork()
        if pid == 0:  # the child: the network either works or says it is busy
            code = 0
            try:
                net.predict(X[:2])
            except RuntimeError:
                pass
            except BaseException:
                code = 2
            os._exit(code)
        deadline = time.time() + 20
        while time.time() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the network's lock")
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        stop.set()
        t.join()


# --------------------------------------------------- 9. size arithmetic checked

def test_sizes_whose_products_overflow_are_refused():
    big = 2**31
    with pytest.raises(ValueError):
        _core.Engine([big, big, big], [0, 0], True, "float64")
    raises_mentioning(ValueError, ["parameters"], lambda: Network([big, big, 4]))
    raises_mentioning(ValueError, ["sizes[1]"], lambda: Network([3, 2**40, 1]))


# ------------------------------------------------ 10. clear errors, no surprises

def test_bias_must_be_a_bool():
    raises_mentioning(TypeError, ["bias"], lambda: Network([2, 1], bias="no"))
    raises_mentioning(TypeError, ["bias"], lambda: Network([2, 1], bias=1))


def test_load_refuses_a_string_bias_and_stray_bias_arrays(tmp_path):
    net = Network([2, 3, 1], seed=0)
    path = net.save(os.path.join(tmp_path, "a.npz"))
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["bias"] = np.array("False")
    np.savez(os.path.join(tmp_path, "b.npz"), **arrays)
    raises_mentioning(ValueError, ["bias"], lambda: Network.load(os.path.join(tmp_path, "b.npz")))
    arrays["bias"] = np.array(False)  # biases declared absent, but present
    np.savez(os.path.join(tmp_path, "c.npz"), **arrays)
    raises_mentioning(ValueError, ["b0"], lambda: Network.load(os.path.join(tmp_path, "c.npz")))


def test_unpickling_refuses_non_finite_parameters():
    state = Network([2, 1], seed=0).__getstate__()
    state["params"] = state["params"].copy()
    state["params"][0] = np.nan
    net = Network.__new__(Network)
    raises_mentioning(ValueError, ["NaN"], lambda: net.__setstate__(state))
    good = Network([2, 1], seed=0)
    assert np.array_equal(pickle.loads(pickle.dumps(good)).weights[0], good.weights[0])


def test_values_too_large_for_float32_are_named_as_such():
    net = Network([2, 1], dtype="float32", seed=0)
    msg = raises_mentioning(ValueError, ["too large"], lambda: net.predict([[1e300, 0.0]]), net)
    assert "NaN" not in msg
    raises_mentioning(ValueError, ["NaN or infinity"], lambda: net.predict([[np.nan, 0.0]]), net)


def test_bad_epochs_seed_eps_n_jobs_threads_are_named():
    net = Network([2, 1], seed=0)
    X, y = np.ones((2, 2)), np.zeros((2, 1))
    raises_mentioning(MemoryError, ["epochs"], lambda: net.fit(X, y, epochs=10**15), net)
    raises_mentioning(ValueError, ["seed"], lambda: net.fit(X, y, shuffle=True, seed=-1), net)
    raises_mentioning(ValueError, ["eps"], lambda: net.check_gradients(X, y, eps=0))
    raises_mentioning(ValueError, ["n_jobs"], lambda: nnext.sweep([2, 1], X, y, lrs=[0.1], n_jobs=0))
    raises_mentioning(ValueError, ["n (threads)"], lambda: nnext.set_num_threads(10**6))
    assert nnext.get_num_threads() <= _core.MAX_THREADS


def test_relu_keeps_nan_as_numpy_does():
    """Inputs are checked finite, so NaN reaches an activation only from
    overflow inside the network; it must not be hidden as 0."""
    net = Network.from_weights([np.array([[1e308, 1e308]]), np.array([[1.0], [-1.0]])],
                               [np.zeros(2), np.zeros(1)], activation=["linear", "relu"])
    with np.errstate(all="ignore"):
        want = np.maximum(np.array([[10.0]]) @ net.weights[0] @ net.weights[1], 0)
    assert np.isnan(want).all() and np.isnan(net.predict([[10.0]])).all()


def test_save_writes_through_a_symbolic_link(tmp_path):
    target = os.path.join(tmp_path, "real.npz")
    link = os.path.join(tmp_path, "link.npz")
    Network([2, 1], seed=0).save(target)
    os.symlink(target, link)
    net = Network([2, 1], seed=1)
    net.save(link)
    assert os.path.islink(link)
    assert np.array_equal(Network.load(target).weights[0], net.weights[0])


# ------------------------------- what is bit for bit across instruction sets

TINY_RUN = r"""
import hashlib, numpy as np
from nnext import Network
X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
h = hashlib.sha256()
for dtype in ("float64", "float32"):
    for act in ("sigmoid", "tanh", "relu", "elu", "leaky_relu"):
        net = Network([3, 4, 1], activation=act, bias=False, seed=1, dtype=dtype)
        hist = net.fit(X, [[0], [1], [1], [0]], epochs=3000, lr=0.1, loss="sse")
        net2 = Network([3, 8, 2], activation=act, seed=1, dtype=dtype)
        hist2 = net2.fit(X, [[0, 1], [1, 0], [1, 1], [0, 0]], epochs=300, lr=0.05, batch_size=3,
                         shuffle=True, seed=1, optimizer="adam")
        for a in net.weights + net2.weights + net2.biases + [np.array(hist.loss), np.array(hist2.loss)]:
            h.update(np.ascontiguousarray(a).tobytes())
print(h.hexdigest())
"""


def test_tiny_networks_give_the_same_bits_on_every_instruction_set(tmp_path):
    """README, 'Bit for bit': products small enough for the simple loops give
    the same results whichever instruction set the hot functions use."""
    import subprocess
    from conftest import interrupt_after, child_env
    env = child_env()
    digests = {}
    for isa in ("base", "avx2", ""):
        run = subprocess.run([sys.executable, "-c", TINY_RUN], env=dict(env, NNEXT_ISA=isa),
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        digests[isa or "best"] = run.stdout.strip()
    assert len(set(digests.values())) == 1, digests
