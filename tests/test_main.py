"""The main job (`python -m nnext`)."""
import subprocess
import sys

import numpy as np
import pytest

from nnext import tutorials

from conftest import child_env


@pytest.mark.slow
def test_run_reports_agreement_with_the_printed_numbers():
    lines = []
    report = tutorials.run(out=lines.append)
    text = "\n".join(lines)
    assert report["agree"]
    for name in ("trask_part1", "trask_part2", "zhou"):
        assert report[name]["max_rel_diff"] <= 1e-10
        assert report[name]["nnext_s"] > 0 and report[name]["numpy_s"] > 0
    # TUTORIALS.md: Trask part 1's last l1, as the tutorial prints it
    assert "[0.00966449 0.00786506 0.99358898 0.99211957]" in text
    assert "0.7216325609518421" in text and "0.9990889488055994" in text
    assert "Epoch 900" in text


@pytest.mark.slow
def test_python_dash_m_nnext_exits_zero(tmp_path):
    env = child_env()  # `python -m nnext` runs the nnext under test
    proc = subprocess.run([sys.executable, "-m", "nnext"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "All tutorials agree with numpy" in proc.stdout
