"""The typed user script (tests/typing/user_script.py, which .ci/packaging.sh
checks with `mypy --strict` against the installed wheel) runs: every call in
it works."""
import os
import runpy


def test_the_typed_user_script_runs(capsys):
    runpy.run_path(os.path.join(os.path.dirname(__file__), "typing", "user_script.py"))
    assert "[3, 4, 1]" in capsys.readouterr().out
