"""Defects the fuzz targets (tests/fuzz/, issue 18) found, each kept as an
ordinary test: unpickled states and loaded files that escaped the documented
ValueError/TypeError, or made a small input allocate a huge architecture."""
import io
import os
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

from nnext import Network


def fitted(momentum=0.5):
    net = Network([2, 3, 1], seed=0)
    net.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, momentum=momentum)
    return net


def unpickle_with(net, **changes):
    """pickle.loads of net's pickle with its state's entries replaced."""
    state = net.__getstate__()
    state.update(changes)
    fresh = Network.__new__(Network)
    fresh.__setstate__(state)
    return fresh


def peak_bytes(call):
    """(result or exception, tracemalloc's peak: numpy's buffers included)."""
    tracemalloc.start()
    try:
        try:
            out = call()
        except Exception as e:  # noqa: BLE001 - returned for the test to judge
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_optimizer_state_as_a_list_is_a_type_error():
    # fuzz_load: a list where the state holds a tuple was SystemError
    # ("new style getargs format but argument is not a tuple")
    net = fitted()
    opt = net.__getstate__()["opt"]
    with pytest.raises(TypeError, match="optimizer state must be None or a tuple"):
        unpickle_with(net, opt=list(opt))
    with pytest.raises(TypeError, match="optimizer state"):
        unpickle_with(net, opt="adam")


@pytest.mark.parametrize("where", [0, 1, 3])
def test_optimizer_state_with_huge_integers_is_a_value_error(where):
    # an int beyond C's range was OverflowError
    net = fitted()
    opt = list(net.__getstate__()["opt"])
    opt[where] = 2 ** 70
    with pytest.raises(ValueError, match="optimizer state"):
        unpickle_with(net, opt=tuple(opt))
