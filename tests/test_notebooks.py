"""The notebooks in notebooks/ run clean in a fresh kernel.

Each notebook is copied to a temporary folder and executed from top to bottom
with nbclient and an ipykernel ``python3`` kernel; any error in any cell fails
the test.  The key numbers (nnext equals the numpy original, the digits
accuracy, ...) are asserted by the notebooks themselves, so a notebook that
stops agreeing fails here.  The stored outputs are not compared with the fresh
run (timings and progress bars differ from run to run); a separate check makes
sure the committed notebooks carry their outputs and plots and no errors.

Deselect with ``-m "not notebooks"``.
"""
import glob
import os
import shutil
import sys

import pytest

from conftest import require_data

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOK_DIR = os.path.join(os.path.dirname(HERE), "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))
CELL_TIMEOUT = 300  # seconds, per cell

pytestmark = pytest.mark.notebooks

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat: pip install '.[test]'")


def _missing_for_execution():
    """Names of the packages the executed notebooks need but are not installed."""
    import importlib.util
    wanted = {"nbclient": "nbclient", "ipykernel": "ipykernel", "matplotlib": "matplotlib",
              "scikit-learn": "sklearn", "tqdm": "tqdm"}
    return [name for name, module in wanted.items() if importlib.util.find_spec(module) is None]


TUTORIAL_NOTEBOOKS = ["01_trask_part1.ipynb", "02_trask_part2.ipynb", "03_zhou_intro.ipynb", "04_beyond.ipynb",
                      # the rest of the seeds, and real data (notebook 08 needs Debian's dataset-fashion-mnist)
                      "06_miller_xor_by_hand.ipynb", "07_student_pass_fail.ipynb", "08_fashion_mnist.ipynb",
                      "10_cs231n_spiral.ipynb"]
IMAGE_DIR = os.path.join(os.path.dirname(HERE), "docs", "images")
# Too slow for .ci/run's ASan+UBSan stage (NNEXT_SANITIZED): 20 epochs of a 784-300-100-10 network
# take about 1 minute normally and passed the 300 s cell timeout under ASan.  They run in the normal
# stage; under the sanitizers the code they use (float32, ReLU, softmax, Adam, mini-batches, threaded
# products) is exercised by the other tests (property tests, threads, the C test program).
TOO_SLOW_UNDER_SANITIZERS = ["08_fashion_mnist.ipynb"]
# Notebooks that read data a machine may lack: what, whether it is here, the command that installs it.
NEEDS_DATA = {"08_fashion_mnist.ipynb": "fashion"}


def _mnist_found(kind):
    """Whether load_mnist(kind) finds its files without downloading (the places it searches)."""
    from nnext import datasets
    subdir = datasets.KINDS[kind][0]
    return any(datasets._find_files(folder) for folder in
               datasets._search_dirs(subdir, datasets.default_cache_dir()))


def test_notebooks_are_there():
    names = [os.path.basename(p) for p in NOTEBOOKS]
    assert set(TUTORIAL_NOTEBOOKS) <= set(names), names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_committed_notebook_has_outputs(path):
    """The committed notebook was executed: every code cell ran in order, with
    its plots stored, and none of the stored outputs is an error."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    counts = [c.get("execution_count") for c in code]
    assert None not in counts, f"{os.path.basename(path)}: some code cells were not executed"
    assert counts == list(range(1, len(code) + 1)), f"cells not executed top to bottom once: {counts}"
    outputs = [o for c in code for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"stored error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    images = [o for o in outputs if "data" in o and "image/png" in o["data"]]
    assert images, "no plots in the stored outputs"
    assert any("assert" in c.source for c in code), "the notebook asserts none of its numbers"
    stem = os.path.splitext(os.path.basename(path))[0]
    if os.path.basename(path) in TUTORIAL_NOTEBOOKS:
        # its README image, docs/images/<stem>.png, is the figure of the cell tagged "headline"
        headline = [c for c in code if "headline" in c.metadata.get("tags", [])]
        assert len(headline) == 1, "exactly one code cell should be tagged 'headline'"
        assert any("data" in o and "image/png" in o["data"] for o in headline[0].outputs)
        assert os.path.isfile(os.path.join(IMAGE_DIR, stem + ".png")), f"docs/images/{stem}.png is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes(path, tmp_path, monkeypatch):
    if os.environ.get("NNEXT_SANITIZED") and os.path.basename(path) in TOO_SLOW_UNDER_SANITIZERS:
        pytest.skip("too slow under the sanitizers (minutes of training); runs in the normal test stage")
    missing = _missing_for_execution()
    if missing:
        pytest.skip("executing the notebooks needs " + ", ".join(missing) + ": pip install '.[test]'")
    kind = NEEDS_DATA.get(os.path.basename(path))
    if kind:
        require_data(_mnist_found(kind), f"{kind.capitalize()}-MNIST (for {os.path.basename(path)})",
                     "apt-get install dataset-fashion-mnist, or python -c \"from nnext.datasets import "
                     "load_mnist; load_mnist('fashion', download=True)\"")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from conftest import child_env

    # The kernel is a fresh process: make sure it imports the same nnext as this test run
    # (an editable install, a wheel, an installed sdist), with this interpreter's sys.path.
    monkeypatch.setenv("PYTHONPATH", child_env()["PYTHONPATH"])
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # The python3 kernelspec usually runs plain "python": let that be this interpreter (e.g. a venv's).
    monkeypatch.setenv("PATH", os.pathsep.join(
        p for p in (os.path.dirname(sys.executable), os.environ.get("PATH")) if p))

    copy = tmp_path / os.path.basename(path)
    shutil.copy(path, copy)
    nb = nbformat.read(str(copy), as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{os.path.basename(path)} failed:\n{e}", pytrace=False)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("data" in o and "image/png" in o["data"] for o in outputs), "the fresh run drew no plot"
