"""Shared helpers for the nnext tests."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

try:  # an installed nnext wins; otherwise use the in-place build of this checkout
    import nnext  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(HERE))


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
    config.addinivalue_line(
        "markers", "notebooks: executes the Jupyter notebooks in notebooks/ "
                   "(about a minute; deselect with -m 'not notebooks')")
