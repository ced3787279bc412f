"""When .ci/packaging.sh runs the suite against a wheel or an sdist installed in
a fresh virtual environment, it sets NNEXT_INSTALLED to that environment's
site-packages folder: make sure the nnext under test (its Python files and its
C extension) is that installed copy, not a source tree next to the tests, and
that child processes import the same one.  Without NNEXT_INSTALLED these tests
are skipped."""
import os
import subprocess
import sys

import pytest

import nnext
from nnext import _core

from conftest import child_env, nnext_location

INSTALLED = os.environ.get("NNEXT_INSTALLED")
pytestmark = pytest.mark.skipif(not INSTALLED, reason="only under .ci/packaging.sh")


def _inside(path, folder):
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)


def test_the_installed_package_is_the_one_imported():
    for module in (nnext, _core):
        assert _inside(module.__file__, INSTALLED), (
            f"{module.__name__} comes from {module.__file__}, not from {INSTALLED}")


def test_no_c_sources_or_tests_are_installed():
    from importlib.metadata import files
    installed = [str(f) for f in files("nnext")]
    assert any(f.startswith("nnext/_core") for f in installed), installed
    stray = [f for f in installed
             if not (f.startswith("nnext/") or f.split("/")[0].endswith(".dist-info"))
             or f.endswith((".c", ".h")) or "/csrc/" in f
             or f.split("/")[-1].startswith("test_") or f.endswith("conftest.py")]
    assert not stray, f"installed besides the package: {stray}"
    assert not os.path.exists(os.path.join(nnext_location(), "csrc")), "the C sources were installed"


def test_a_child_process_imports_the_same_package(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import nnext, nnext._core as c; print(c.__file__)"],
                         env=child_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=True)
    assert os.path.realpath(out.stdout.strip()) == os.path.realpath(_core.__file__)
