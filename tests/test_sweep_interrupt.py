"""Ctrl-C during `sweep` stops that sweep's runs and nothing else (issue 27, rule 1):
another thread's fit, another sweep and a playing playground go on; with
``executor=`` a thread pool's runs stop at their next poll, so that the
executor's shutdown does not wait for them; and every argument is checked
before any run trains (rule 3).

What is measured cannot be slowed by a loaded machine: polls made, epochs
run, CPU time; waits are deadlock detectors (60 s for what takes a poll)."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import nnext
from nnext import Network, _core

from conftest import CTRL_C_CPU_SECONDS, interrupt_after

DEADLOCK = 60.0
RS = np.random.RandomState(0)
X = RS.normal(size=(4000, 64))
Y = RS.normal(size=(4000, 1))
LONG = dict(lrs=[1e-9, 2e-9], seeds=[0, 1], epochs=10**7, activation=["relu", "linear"], as_frame=False)


def wait_for_polls(n):
    """Returns once n more polls have been made (by whatever still runs)."""
    start = _core._polls()
    deadline = time.monotonic() + DEADLOCK
    while _core._polls() < start + n:
        assert time.monotonic() < deadline, "nothing polled: the background fit is not running"
        time.sleep(0.01)


class Background:
    """A long fit in another thread, stopped by its own token at the end: it reports
    how it ended (the token's KeyboardInterrupt says 'cancelled'; any other
    KeyboardInterrupt came from somewhere else)."""

    def __init__(self):
        self.token = threading.Event()
        self.ended = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        before = _core._watch(self.token)
        try:
            Network([64, 128, 1], activation=["relu", "linear"], seed=5).fit(X, Y, epochs=10**7, lr=1e-9)
            self.ended = "finished"
        except KeyboardInterrupt as e:
            self.ended = str(e) or "KeyboardInterrupt from elsewhere"
        finally:
            _core._watch(before)

    def stop(self):
        self.token.set()
        self.thread.join(DEADLOCK)
        assert not self.thread.is_alive()
        return self.ended


def test_ctrl_c_during_sweep_leaves_another_threads_fit_running():
    bg = Background()
    wait_for_polls(2)  # the background fit is in its C loop
    answer = interrupt_after(0.3, lambda: nnext.sweep([64, 128, 1], X, Y, **LONG))
    assert answer is not None, "the sweep finished before Ctrl-C"
    answer.check("sweep", polls=None)
    wait_for_polls(3)  # the background fit polled after the sweep's Ctrl-C
    assert bg.thread.is_alive()
    assert bg.stop() == "cancelled", "the sweep's Ctrl-C stopped a fit it was not aimed at"


def wait_for(what, condition):
    deadline = time.monotonic() + DEADLOCK
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen: stopped, or a deadlock"
        time.sleep(0.01)


# epochs long enough (about 0.1 s and more) for the core to poll inside each
BIG_X = np.random.RandomState(1).normal(size=(20000, 64))
BIG_Y = np.random.RandomState(2).normal(size=(20000, 1))


def test_ctrl_c_during_one_sweep_leaves_another_sweep_running():
    stop = threading.Event()
    out = {}
    epochs = []

    def callback(e, net, loss):
        epochs.append(e)
        return not stop.is_set()

    def other_sweep():
        try:
            out["table"] = nnext.sweep([64, 256, 1], BIG_X, BIG_Y, lrs=[1e-9], seeds=[3], epochs=10**6,
                                       activation=["relu", "linear"], as_frame=False, callback=callback)
        except BaseException as e:  # noqa: B902 - reported below
            out["error"] = e

    thread = threading.Thread(target=other_sweep, daemon=True)
    thread.start()
    wait_for("the other sweep's first epoch", lambda: epochs)
    answer = interrupt_after(0.3, lambda: nnext.sweep([64, 128, 1], X, Y, **LONG))
    assert answer is not None
    after = len(epochs)
    wait_for("two more epochs of the other sweep", lambda: len(epochs) >= after + 2 or "error" in out)
    stop.set()
    thread.join(DEADLOCK)
    assert not thread.is_alive()
    assert "error" not in out, out
    assert 0 < out["table"]["epochs"][0] < 10**6


def test_ctrl_c_during_sweep_leaves_a_playing_playground_playing():
    from nnext.playground import Playground
    # epochs of 100,000 steps: the core polls inside each
    pg = Playground(dataset="spiral", n=200_000, batch_size=1, layers=[8, 8, 8], seed=0)
    pg.play(epochs_per_step=1)
    try:
        wait_for("the playground's first epoch", lambda: pg.epoch > 0 or not pg.playing)
        answer = interrupt_after(0.3, lambda: nnext.sweep([64, 128, 1], X, Y, **LONG))
        assert answer is not None
        after = pg.epoch
        wait_for("two more epochs of the playground", lambda: pg.epoch >= after + 2 or not pg.playing)
        assert pg.playing and pg.error is None, pg.error
    finally:
        pg.pause()
    assert pg.error is None


def test_ctrl_c_during_sweep_on_a_thread_pool_executor_stops_its_runs():
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        answer = interrupt_after(0.3, lambda: nnext.sweep([64, 128, 1], X, Y, executor=pool, **LONG))
        assert answer is not None, "the sweep finished before Ctrl-C"
        answer.check("sweep", polls=None)
        # the runs were told to stop: shutting the pool down waits a poll, not a run
        cpu = time.process_time()
        closer = threading.Thread(target=pool.shutdown, kwargs=dict(wait=True), daemon=True)
        closer.start()
        closer.join(DEADLOCK)
        assert not closer.is_alive(), "the executor's shutdown waits for the sweep's runs"
        spent = time.process_time() - cpu
        assert spent < CTRL_C_CPU_SECONDS, f"the runs worked {spent:.3f} s of CPU after Ctrl-C"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_a_sweep_after_an_interrupted_one_runs_normally():
    answer = interrupt_after(0.3, lambda: nnext.sweep([64, 128, 1], X, Y, **LONG))
    assert answer is not None
    table = nnext.sweep([3, 4, 1], X[:8, :3], Y[:8], lrs=[0.1, 0.2], seeds=[0], epochs=50, as_frame=False)
    assert list(table["epochs"]) == [50, 50]
    # and a fit of this thread is not cancelled by anything the sweep left behind
    Network([64, 128, 1], seed=0).fit(X, Y, epochs=2)


# ---------------------------------------------------------------- arguments

SMALL_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
SMALL_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


@pytest.mark.parametrize("kw, exc, names", [
    (dict(target="0.01"), TypeError, ["target"]),
    (dict(target=float("nan")), ValueError, ["target"]),
    (dict(target=10**400), ValueError, ["target"]),
    (dict(lrs=["0.1"]), TypeError, ["lrs[0]"]),
    (dict(lrs=[0.1, -1.0]), ValueError, ["lrs[1]"]),
    (dict(lrs=[10**400]), ValueError, ["lrs[0]"]),
    (dict(lrs=0.1), TypeError, ["lrs"]),
    (dict(lrs="0.1"), TypeError, ["lrs"]),
    (dict(seeds=[-1]), ValueError, ["seeds[0]"]),
    (dict(seeds=[0, "1"]), TypeError, ["seeds[1]"]),
    (dict(epochs=-1), ValueError, ["epochs"]),
    (dict(epochs=2.5), TypeError, ["epochs"]),
    (dict(as_frame="yes"), TypeError, ["as_frame"]),
    (dict(loss="hinge"), ValueError, ["loss"]),
    (dict(batch_size=0), ValueError, ["batch_size"]),
    (dict(optimizer="adamw"), ValueError, ["optimizer"]),
    (dict(momentum=10**400), ValueError, ["momentum"]),
    (dict(y=np.zeros((3, 1))), ValueError, ["rows", "shape"]),
    (dict(X=np.zeros((4, 3))), ValueError, ["X"]),
])
def test_every_argument_is_checked_before_any_run(kw, exc, names):
    epochs_run = []
    args = dict(X=SMALL_X, y=SMALL_Y, lrs=[0.1], seeds=[0], epochs=20, as_frame=False,
                callback=lambda e, net, loss: epochs_run.append(e))
    args.update(kw)
    X_, y_ = args.pop("X"), args.pop("y")
    with pytest.raises(exc) as info:
        nnext.sweep([2, 3, 1], X_, y_, **args)
    assert any(n.lower() in str(info.value).lower() for n in names), str(info.value)
    assert not epochs_run, "a run trained before the bad argument was refused"


# ---------------------------------------------------------------- the token itself

def test_watch_keeps_reference_counts_and_refuses_what_is_not_an_event():
    import sys
    token = threading.Event()
    net = Network([64, 128, 1], seed=0)
    count = sys.getrefcount(token)
    for _ in range(50):
        before = _core._watch(token)
        net.fit(X[:500], Y[:500], epochs=1)  # a call long enough to release the GIL
        assert _core._watch(before) is token
    assert sys.getrefcount(token) == count
    token.set()
    before = _core._watch(token)
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X[:4], Y[:4], epochs=1)  # a cancelled token stops a call before it starts
    finally:
        _core._watch(before)
    net.fit(X[:4], Y[:4], epochs=1)  # watched no more
    with pytest.raises(TypeError, match="Event"):
        _core._watch(3)


def test_a_failed_run_stops_the_other_runs():
    """One run's callback raises: the sweep raises it, and its other runs stop at their
    next poll instead of training on while the pool waits for them."""
    calls = []

    def callback(epoch, net, loss):
        calls.append(epoch)
        if len(calls) == 3:
            raise RuntimeError("a run failed")

    with pytest.raises(RuntimeError, match="a run failed"):
        nnext.sweep([64, 256, 1], BIG_X, BIG_Y, lrs=[1e-9, 2e-9], seeds=[0], epochs=200,
                    activation=["relu", "linear"], as_frame=False, callback=callback, n_jobs=2)
    # each epoch is one call that polls: the other run saw the token within a poll,
    # so both together ran about the three epochs the callback counted, not thousands
    assert len(calls) <= 6, f"the runs went on for {len(calls)} epochs after one failed"
