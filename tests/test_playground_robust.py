"""The playground under Ctrl-C, failing settings, listeners and racing threads
(issue 27): every call leaves the playground describing its network (epoch,
history, losses and code() agree with the weights), a failed call changes
nothing (not even the random draws to come), and no listener or thread can
make a call wait forever.  Timeouts here are deadlock detectors only (60 s for
what takes milliseconds), never the verdict."""
import threading

import numpy as np
import pytest

from nnext.playground import Playground

from conftest import interrupt_after

DEADLOCK = 60.0  # seconds: a call that has not returned by then never will

# an exception in a thread the test started is a failure, not a warning
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def call_within(fn, seconds=DEADLOCK):
    """fn() in another thread; its exception re-raised here; fails if it hangs."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: B902 - handed to the test
            out["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{getattr(fn, '__name__', fn)} did not return: a deadlock"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def playground_threads():
    return [t for t in threading.enumerate() if t.name == "nnext-playground" and t.is_alive()]


def stop_all(pg):
    call_within(pg.pause)
    for t in playground_threads():
        t.join(DEADLOCK)
    assert not playground_threads(), "a training thread is still running after pause()"


def assert_describes_its_network(pg):
    """epoch, history, losses and code() all describe pg.network's weights."""
    h = pg.history
    assert all(len(v) == len(h["epoch"]) for v in h.values())
    assert h["epoch"][-1] == pg.epoch == sum(seg[0] for seg in pg._segments)
    assert h["train_loss"][-1] == pg.train_loss and h["test_loss"][-1] == pg.test_loss or (
        np.isnan(pg.test_loss) and np.isnan(h["test_loss"][-1]))
    assert pg.train_loss == pg.network.loss(pg.F_train, pg.y_train, "mse")
    ns = {}
    exec(pg.code(), ns)
    for got, want in zip(ns["net"].weights + ns["net"].biases, pg.network.weights + pg.network.biases):
        assert np.array_equal(got, want)
    assert all(np.all(np.isfinite(w)) for w in pg.network.weights + pg.network.biases)


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_during_step_leaves_the_playground_describing_its_network():
    # epochs long enough (5,000 training points one at a time) for the signal to
    # land inside the C loop as well as between the records
    landed = 0
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):
        pg = Playground(dataset="spiral", n=10_000, batch_size=1, layers=[8, 8, 8, 8], seed=1)
        answer = interrupt_after(delay, lambda: pg.step(10**6))
        assert answer is not None, "step finished before Ctrl-C: make it longer"
        answer.check("Playground.step")
        landed += 1
        assert_describes_its_network(pg)
        pg.step(2)  # and it trains on
        assert_describes_its_network(pg)
    assert landed


def test_ctrl_c_while_another_playground_plays_leaves_both_consistent():
    playing = Playground(seed=2)
    playing.play(epochs_per_step=5)
    try:
        pg = Playground(dataset="xor", n=10_000, batch_size=1, layers=[8, 8, 8], seed=3)
        answer = interrupt_after(0.2, lambda: pg.step(10**6))
        assert answer is not None
        assert playing.playing and playing.error is None  # Ctrl-C was not aimed at it
    finally:
        stop_all(playing)
    assert_describes_its_network(pg)
    assert_describes_its_network(playing)


# ------------------------------------------------- failed settings change nothing

def _state(pg):
    return (pg.settings, pg.epoch, pg.network, pg.X_train, pg.history, pg.code())


def test_settings_that_leave_no_training_point_are_refused_naming_them():
    pg = Playground(seed=0)
    pg.step(3)
    before = _state(pg)
    for bad in (dict(n=2, train_ratio=0.1), dict(n=4, train_ratio=0.2), dict(train_ratio=0.001, n=500)):
        with pytest.raises(ValueError, match="train_ratio") as info:
            pg.set(**bad)
        assert "n=" in str(info.value) and "training point" in str(info.value)
        assert _state(pg)[:5] == before[:5] or all(
            a is b or a == b for a, b in zip(_state(pg), before))
        assert pg.code() == before[5]
    pg.set(n=2)                        # alone it is fine: 1 training point at the default ratio
    assert len(pg.y_train) == 1
    with pytest.raises(ValueError, match="train_ratio"):
        pg.set(train_ratio=0.1)        # n stays 2: still no training point
    pg.step(2)
    assert_describes_its_network(pg)


def test_a_huge_n_is_refused_naming_it():
    pg = Playground(seed=0)
    before = _state(pg)
    for bad in (10**400, 2**62):
        with pytest.raises(ValueError, match="n "):
            pg.set(n=bad)
        with pytest.raises(ValueError, match="n "):
            pg.set(n=bad, train_ratio=0.5)
    assert _state(pg)[1:] == before[1:] or pg.code() == before[5]
    assert pg.settings == before[0]


def test_a_failed_set_draws_nothing():
    """A set that fails while making the data (MemoryError for a huge n) leaves the
    settings, the data, the network and the random draws to come as they were."""
    a, b = Playground(seed=7), Playground(seed=7)
    a.step(2)
    b.step(2)
    before = _state(a)
    with pytest.raises(MemoryError, match="n="):
        a.set(n=10**13)
    after = _state(a)
    assert after[0] == before[0] and after[1] == before[1] and after[2] is before[2]
    assert after[3] is before[3] and after[4] is before[4] and after[5] == before[5]
    a.regenerate()
    b.regenerate()
    assert np.array_equal(a.X_train, b.X_train)
    assert np.array_equal(a.network.weights[0], b.network.weights[0])
    assert a.code() == b.code()


# ---------------------------------------------------------------- listeners

BUTTONS = [
    ("add_layer", lambda pg: pg.add_layer()),
    ("remove_layer", lambda pg: pg.remove_layer()),
    ("add_neuron", lambda pg: pg.add_neuron(0)),
    ("remove_neuron", lambda pg: pg.remove_neuron(0)),
    ("toggle_feature", lambda pg: pg.toggle_feature("x1^2")),
    ("set", lambda pg: pg.set(activation="relu")),
    ("set lr", lambda pg: pg.set(lr=0.1)),
    ("regenerate", lambda pg: pg.regenerate()),
    ("reset", lambda pg: pg.reset()),
    ("step", lambda pg: pg.step(3)),
]


@pytest.mark.parametrize("name, press", BUTTONS, ids=[b[0] for b in BUTTONS])
def test_a_listener_that_pauses_never_deadlocks_a_button(name, press):
    pg = Playground(layers=[4, 3], seed=0)
    calls = []

    def listener(p):
        calls.append(threading.current_thread().name)
        p.pause()

    try:
        pg.play(epochs_per_step=2)
        while pg.epoch < 4:
            call_within(lambda: pg.step(1))  # (its listener call pauses: play again)
            pg.play(epochs_per_step=2)
        pg.on_change(listener)
        call_within(lambda: press(pg))
        assert not pg.playing and calls
    finally:
        stop_all(pg)
    assert_describes_its_network(pg)


@pytest.mark.parametrize("action", ["step", "set", "play", "reset", "code"])
def test_a_listener_may_call_any_method_from_the_training_thread(action):
    pg = Playground(seed=4)
    done = threading.Event()

    def listener(p):
        if threading.current_thread().name != "nnext-playground" or done.is_set():
            return
        done.set()
        {"step": lambda: p.step(1), "set": lambda: p.set(lr=0.3), "play": p.play,
         "reset": p.reset, "code": p.code}[action]()

    pg.on_change(listener)
    try:
        pg.play(epochs_per_step=1)
        assert call_within(lambda: done.wait(DEADLOCK))
    finally:
        stop_all(pg)
    assert_describes_its_network(pg)


# ---------------------------------------------------------------- racing threads

def test_pause_racing_play_never_blocks_and_leaves_no_thread_behind():
    pg = Playground(seed=5)
    errors = []
    for _ in range(200):
        start = threading.Barrier(2)

        def pause():
            start.wait()
            try:
                pg.pause()
            except BaseException as e:  # noqa: B902 - reported below
                errors.append(e)

        def play():
            start.wait()
            try:
                pg.play(epochs_per_step=1)
            except BaseException as e:  # noqa: B902 - reported below
                errors.append(e)

        threads = [threading.Thread(target=pause, daemon=True), threading.Thread(target=play, daemon=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLOCK)
            assert not t.is_alive(), "pause() racing play() blocked"
        assert len(playground_threads()) <= 2
    assert not errors, errors
    stop_all(pg)
    assert_describes_its_network(pg)


def test_two_threads_pressing_buttons_while_playing():
    pg = Playground(seed=6)
    errors = []

    def press(i):
        try:
            for k in range(30):
                [lambda: pg.set(lr=0.1 if k % 2 else 0.03), lambda: pg.step(2), pg.play, pg.pause,
                 lambda: pg.toggle_feature("x1*x2"), pg.reset][(i + k) % 6]()
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)

    threads = [threading.Thread(target=press, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLOCK)
        assert not t.is_alive(), "buttons pressed from several threads deadlocked"
    stop_all(pg)
    assert not errors, errors
    assert_describes_its_network(pg)


# ---------------------------------------------------------------- overflowing weights

@pytest.mark.parametrize("seed", [0, 4])
def test_weights_that_overflow_the_loss_raise_as_a_nonfinite_loss(seed):
    """One training point and linear layers: every step's loss is finite, but the
    weights grow until the loss at them overflows (inf or NaN).  That is the
    documented FloatingPointError, with the weights of the last finite record,
    never a record of a non-finite loss (found by the state fuzz target)."""
    pg = Playground(dataset="multi_gaussian", train_ratio=0.001, features=["x1", "x1^2", "sin(x2)"],
                    layers=[2], activation="linear", seed=seed)
    with pytest.raises(FloatingPointError, match="weights restored"):
        pg.step(30)
    assert isinstance(pg.error, FloatingPointError)
    assert np.isfinite(pg.train_loss) and all(np.isfinite(v) for v in pg.history["train_loss"])
    assert_describes_its_network(pg)
