"""scikit-learn's own MLP tests against nnext.sklearn: the installed
scikit-learn's sklearn/neural_network/tests/test_mlp.py, copied at run time
with only its import of the estimators changed, run by pytest in a
subprocess.  Every test passes except those listed in KNOWN, each with its
reason; a listed test that starts passing fails this test too, so that the
list stays true."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed: its MLP tests "
                              "cannot run against nnext.sklearn")

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OURS = "from nnext.sklearn import MLPClassifier, MLPRegressor"

#: scikit-learn's tests that fail against nnext.sklearn, by name (all their
#: parametrisations), and why.
KNOWN = {}

#: The fixture scikit-learn's conftest.py provides (its default seed, 42, when
#: SKLEARN_TESTS_GLOBAL_RANDOM_SEED is not set), for the copied file.
CONFTEST = '''import pytest


@pytest.fixture
def global_random_seed():
    return 42
'''


def test_scikit_learns_mlp_tests_pass(tmp_path):
    source = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not source.is_file():
        pytest.skip(f"this scikit-learn ({sklearn.__version__}) does not ship its tests: "
                    f"{source} is missing")
    text = source.read_text(encoding="utf-8")
    assert text.count(IMPORT) == 1, (f"scikit-learn {sklearn.__version__}'s test_mlp.py no "
                                     f"longer imports the estimators as {IMPORT!r}")
    (tmp_path / "test_mlp_nnext.py").write_text(text.replace(IMPORT, OURS), encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not nnext's settings
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"),
         f"--junitxml={report}", "test_mlp_nnext.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert report.is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = ("failed" if kinds & {"failure", "error"} else
                   "skipped" if "skipped" in kinds else "passed")
        outcomes[case.get("name")] = outcome
    failed = sorted(name for name, o in outcomes.items() if o == "failed")
    unexpected = [name for name in failed if name.split("[")[0] not in KNOWN]
    assert not unexpected, (f"scikit-learn's tests failing against nnext.sklearn: {unexpected}"
                            f"\n{run.stdout[-6000:]}")
    now_passing = [name for name in KNOWN
                   if any(n.split("[")[0] == name for n in outcomes)
                   and all(o == "passed" for n, o in outcomes.items() if n.split("[")[0] == name)]
    assert not now_passing, f"these now pass: remove them from KNOWN: {now_passing}"
    passed = sum(o == "passed" for o in outcomes.values())
    assert passed >= 40, f"only {passed} of scikit-learn's MLP tests ran and passed:\n{run.stdout}"
