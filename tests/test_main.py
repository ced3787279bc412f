"""The main job (`python -m nnext`) and the tutorial code it shows."""
import subprocess
import sys

import numpy as np

from nnext import tutorials

import reference as ref
from conftest import child_env


def test_tutorial_numpy_code_matches_the_reference():
    """nnext/tutorials.py writes the tutorials' numpy code out for readers; it
    must compute what the tests' reference computes."""
    first, last, syn0 = tutorials.trask_part1_numpy()
    r_first, r_last, r_syn0 = ref.trask_part1()
    assert np.array_equal(first, r_first) and np.array_equal(last, r_last) and np.array_equal(syn0, r_syn0)
    errors, l2, s0, s1 = tutorials.trask_part2_numpy(iterations=20000)
    r_errors, r_l2, r_s0, r_s1 = ref.trask_part2(iterations=20000)
    assert np.array_equal(errors, r_errors) and np.array_equal(l2, r_l2)
    theirs = tutorials.OurNeuralNetwork(np.random.RandomState(7))
    params = ref.zhou_draw_params(np.random.RandomState(7))
    theirs.train(tutorials.ZHOU_DATA, tutorials.ZHOU_Y, epochs=50)
    want = ref.ZhouNetwork(params)
    want.train(ref.ZHOU_DATA, ref.ZHOU_Y, epochs=50)
    assert all(getattr(theirs, k) == v for k, v in want.params().items())


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


def test_python_dash_m_nnext_exits_zero(tmp_path):
    env = child_env()  # `python -m nnext` runs the nnext under test
    proc = subprocess.run([sys.executable, "-m", "nnext"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "All tutorials agree with numpy" in proc.stdout
