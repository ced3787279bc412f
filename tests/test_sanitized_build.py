"""When .ci/run runs the suite under the sanitizers it sets NNEXT_SANITIZED to
the directory of the -fsanitize=address,undefined build: make sure that build
(and not the normal in-place one) is the one being tested, with ASan loaded.
Without NNEXT_SANITIZED these tests are skipped."""
import os

import pytest

import nnext
from nnext import _core

SANITIZED = os.environ.get("NNEXT_SANITIZED")
pytestmark = pytest.mark.skipif(not SANITIZED, reason="only under .ci/run's sanitizer stage")


def test_the_sanitized_extension_is_the_one_imported():
    where = os.path.realpath(_core.__file__)
    assert where.startswith(os.path.realpath(SANITIZED) + os.sep), (
        f"nnext._core comes from {where}, not from the sanitizer build in {SANITIZED}")
    assert os.path.realpath(nnext.__file__).startswith(os.path.realpath(SANITIZED) + os.sep)


def test_asan_and_ubsan_runtimes_are_loaded():
    with open("/proc/self/maps") as f:
        maps = f.read()
    assert "libasan" in maps, "the ASan runtime is not loaded (LD_PRELOAD)"
    with open(_core.__file__, "rb") as f:
        blob = f.read()
    assert b"__asan_report" in blob and b"__ubsan_handle" in blob, "the extension is not instrumented"
