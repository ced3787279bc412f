"""The `state` fuzz target's corpus (tests/fuzz/corpus/state: seeds and the inputs
that found defects) replayed without atheris: Playground and MLPClassifier call
sequences, with issue 27's invariants checked after every call."""
import os
import runpy
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "fuzz", "corpus", "state")


def _target():
    sys.path.insert(0, os.path.join(HERE, "fuzz"))
    try:
        return runpy.run_path(os.path.join(HERE, "fuzz", "fuzz_state.py"), run_name="fuzz_state")
    finally:
        sys.path.pop(0)


@pytest.mark.parametrize("name", sorted(os.listdir(CORPUS)))
def test_corpus_input_keeps_the_invariants(name):
    pytest.importorskip("sklearn")
    target = _TARGET.get("t") or _TARGET.setdefault("t", _target())
    with open(os.path.join(CORPUS, name), "rb") as f:
        target["one_input"](f.read())


_TARGET = {}
