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


@pytest.fixture
def rng():
    return np.random.RandomState(12345)


def pytest_configure(config):
    if _NNEXT_IMPORT_ERROR is not None:
        raise pytest.UsageError(
            f"nnext cannot be imported by {sys.executable}: {_NNEXT_IMPORT_ERROR}\n"
            "The tests run against an installed nnext: `pip install -e \".[test]\"` in a "
            "checkout, or install a wheel or the sdist and run the tests from there.")
    config.addinivalue_line(
        "markers", "notebooks: executes the Jupyter notebooks in notebooks/ "
                   "(about a minute; deselect with -m 'not notebooks')")
