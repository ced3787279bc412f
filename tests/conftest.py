"""Shared helpers for the nnext tests."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# The suite tests whatever nnext this interpreter imports (an editable install, a
# wheel or an installed sdist); it never reaches into the source tree for it.
try:
    import nnext  # noqa: F401
except ImportError as _e:
    _NNEXT_IMPORT_ERROR = _e
else:
    _NNEXT_IMPORT_ERROR = None


def child_env(**extra):
    """``os.environ`` for a child Python process (run with ``sys.executable``)
    that imports the very nnext this test run imports: ``PYTHONPATH`` is the
    folder that holds the imported package, then this interpreter's own
    ``sys.path``.  ``extra`` sets or overrides variables.

    ``python -c``/``-m`` would also put the child's working directory first on
    its path: PYTHONSAFEPATH (Python 3.11+) stops that, and the tests start
    their children in a temporary folder as well (for 3.10), so that a source
    tree in the working directory (an unpacked sdist) never shadows the
    package under test."""
    import nnext
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(nnext.__file__)))]
    paths += [os.path.abspath(p) for p in sys.path if p and os.path.exists(p)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONSAFEPATH"] = "1"
    env.update(extra)
    return env


def nnext_location():
    """The real path of the imported nnext package's folder (children report theirs)."""
    import nnext
    return os.path.realpath(os.path.dirname(os.path.abspath(nnext.__file__)))


def snapshot(net):
    """Copies of all parameters of ``net``: (weights, biases or None)."""
    ws = [np.array(w, copy=True) for w in net.weights]
    bs = None if net.biases is None else [np.array(b, copy=True) for b in net.biases]
    return ws, bs


def assert_same_params(net, snap):
    ws, bs = snap
    assert len(net.weights) == len(ws)
    for got, want in zip(net.weights, ws):
        assert np.array_equal(got, want, equal_nan=True)
    if bs is None:
        assert net.biases is None
    else:
        for got, want in zip(net.biases, bs):
            assert np.array_equal(got, want, equal_nan=True)


def raises_mentioning(exc, mentions, fn, net=None):
    """Calls fn(), expects ``exc`` whose message contains (case-insensitively)
    at least one of ``mentions``; when ``net`` is given, its parameters must be
    unchanged afterwards.  Returns the message."""
    snap = snapshot(net) if net is not None else None
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert any(m.lower() in msg.lower() for m in mentions), (
        "message %r mentions none of %r" % (msg, mentions))
    if net is not None:
        assert_same_params(net, snap)
    return msg


SANITIZED = bool(os.environ.get("NNEXT_SANITIZED"))

# The CPU time (every thread of this process) that a call may spend between
# Ctrl-C and its KeyboardInterrupt.  The core polls about every 50 ms of wall
# time, so even two busy threads spend about 0.1 s before the poll that sees
# the signal; on a loaded machine they get less CPU in those 50 ms, not more,
# which makes this a measure that load cannot fail.  Under the sanitizers the
# unwinding after the poll (freeing, the exception) costs several times more.
# The wall-clock promise (about 0.1 s) is measured in bench/ctrl_c.py.
CTRL_C_CPU_SECONDS = 3.0 if SANITIZED else 0.5


# How long interrupt_after waits for an answer before it sends SIGINT again
# (and the test fails): far beyond any poll interval, however loaded.
LOST_SIGNAL_SECONDS = 30


class Answer:
    """How a call answered a Ctrl-C: the polls it made after the signal, and
    the CPU and wall time from the signal to its KeyboardInterrupt."""

    def __init__(self, polls, cpu, wall):
        self.polls, self.cpu, self.wall = polls, cpu, wall

    def __repr__(self):
        return f"Answer(polls={self.polls}, cpu={self.cpu:.3f} s, wall={self.wall:.3f} s)"

    def check(self, what, polls=1):
        """At most `polls` polls after the signal (the first one that runs sees
        it; None: not counted, for calls whose polls run in other threads) and
        at most CTRL_C_CPU_SECONDS of CPU."""
        if polls is not None:
            assert self.polls <= polls, f"{what} went on polling after Ctrl-C: {self}"
        assert self.cpu < CTRL_C_CPU_SECONDS, (
            f"{what} worked {self.cpu:.3f} s of CPU after Ctrl-C "
            f"(limit {CTRL_C_CPU_SECONDS} s): {self}")


def interrupt_after(seconds, call):
    """Runs call() in this (the main) thread and sends it SIGINT from another
    thread after `seconds`, as Ctrl-C would; returns an Answer, or None when
    call() finished first.  The sender holds the GIL while it reads the poll
    count and signals, and the core counts a poll only with the GIL held, so
    the first poll after the signal is counted after it."""
    import signal
    import threading
    import time

    from nnext import _core

    main = threading.get_ident()
    sent = {}
    done = threading.Event()

    def sender():
        if done.wait(seconds):
            return
        sent["polls"], sent["cpu"], sent["wall"] = _core._polls(), time.process_time(), time.perf_counter()
        signal.pthread_kill(main, signal.SIGINT)
        # a signal the call never answers would hang the suite: sent again
        # every LOST_SIGNAL_SECONDS, and counted, so that the test fails instead
        while not done.wait(LOST_SIGNAL_SECONDS):
            sent["resent"] = sent.get("resent", 0) + 1
            signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        call()
    except KeyboardInterrupt:
        polls, cpu, wall = _core._polls(), time.process_time(), time.perf_counter()
        if not sent:
            raise  # a real Ctrl-C, not the test's
        assert not sent.get("resent"), (
            f"the call did not answer SIGINT for {LOST_SIGNAL_SECONDS} s; answered after "
            f"{sent['resent']} more")
        return Answer(polls - sent["polls"], cpu - sent["cpu"], wall - sent["wall"])
    finally:
        try:  # (a signal sent as the call ended may arrive in here)
            done.set()
            thread.join()
        except KeyboardInterrupt:
            if not sent:
                raise
            sent["arrived"] = True
    if sent and "arrived" not in sent:
        # the call ended as the signal was sent: the KeyboardInterrupt is still
        # pending in this thread, so let it arrive here, where it is expected
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            pass
    return None


@pytest.fixture
def rng():
    return np.random.RandomState(12345)


# ------------------------------------------------ what the machine may lack

# Skips for a missing optional package: pytest.importorskip's own reason, or a
# reason of this suite's that names the install command.
_MISSING_PACKAGE = ("could not import", "is not installed", "pip install")
_INSTALL_ALL = "pip install -e '.[all]' installs every optional package"


def _required(variable):
    return os.environ.get(variable) == "1"


def require_data(found, what, install):
    """Skips the test when `what` (data this machine may lack) was not found,
    saying which command installs it; under NNEXT_REQUIRE_DATA=1 (CI) that is
    a failure instead."""
    if found:
        return
    message = f"{what} is not on this machine: {install}"
    if _required("NNEXT_REQUIRE_DATA"):
        pytest.fail(message + " (NNEXT_REQUIRE_DATA=1: tests needing data must not skip)", pytrace=False)
    pytest.skip(message)


def _missing_package(report):
    """The skip's reason when `report` is a skip for a missing package, else None."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason = str(report.longrepr[2])
    return reason if any(m in reason for m in _MISSING_PACKAGE) else None


def _package_skip(report):
    """A skip for a missing package says how to install it, and under
    NNEXT_REQUIRE_EXTRAS=1 (CI, which installs every extra) it fails."""
    reason = _missing_package(report)
    if reason is None:
        return
    if _required("NNEXT_REQUIRE_EXTRAS"):
        report.outcome = "failed"
        report.longrepr = f"{reason} (NNEXT_REQUIRE_EXTRAS=1: no test may skip for a missing package)"
    elif "pip install" not in reason:
        path, line, _ = report.longrepr
        report.longrepr = (path, line, f"{reason} ({_INSTALL_ALL})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _package_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _package_skip(outcome.get_result())


def pytest_configure(config):
    if _NNEXT_IMPORT_ERROR is not None:
        raise pytest.UsageError(
            f"nnext cannot be imported by {sys.executable}: {_NNEXT_IMPORT_ERROR}\n"
            "The tests run against an installed nnext: `pip install -e \".[test]\"` in a "
            "checkout, or install a wheel or the sdist and run the tests from there.")
    config.addinivalue_line(
        "markers", "notebooks: executes the Jupyter notebooks in notebooks/ "
                   "(about a minute; deselect with -m 'not notebooks')")
    config.addinivalue_line(
        "markers", "slow: more than a few seconds (the quick suite, `make test`, deselects them)")
