"""Issue 14's yardsticks compute the tutorials' math: bench/limits/zhou.c and
trask.c, compiled with the system C compiler, end their trainings from the
tutorials' starting weights where nnext and the tutorials' own numpy code end
(final weights to 1e-12 relative).  Their timings are bench/run.py's (case L),
not checked here.

Skipped without a C compiler, or where bench/ is not shipped (the sdist and
the wheel hold the package and its tests only).
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import reference as R
from conftest import child_env
from nnext import Network

LIMITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "bench", "limits")
CC = os.environ.get("CC") or shutil.which("cc")

pytestmark = [pytest.mark.skipif(not os.path.isfile(os.path.join(LIMITS, "zhou.c")),
                                 reason="bench/limits/ is not here (an installed sdist or wheel)"),
              pytest.mark.skipif(CC is None or shutil.which(CC.split()[0]) is None,
                                 reason="no C compiler (cc) to build bench/limits/")]

TOL = 1e-12


def build(tmp_path, name, flags=()):
    out = str(tmp_path / name)
    cmd = [CC, "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", *flags, os.path.join(LIMITS, name + ".c"),
           "-o", out, "-lm"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, f"{' '.join(cmd)}:\n{p.stderr}"
    return out


def run(tmp_path, exe, steps, start):
    p = subprocess.run([exe, "1", str(steps)] + [repr(float(v)) for v in start], capture_output=True, text=True,
                       cwd=tmp_path, env=child_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    return {d["variant"]: np.array(d["values"]) for d in lines if "skipped" not in d}


def rel(a, b):
    return np.max(np.abs(a - b) / np.abs(b))


def test_zhou_c_ends_where_nnext_and_his_loop_end(tmp_path):
    params = R.zhou_draw_params(np.random.RandomState(0))
    start = [params[k] for k in R.ZHOU_PARAM_NAMES]
    W, b = R.zhou_to_layers(params)
    net = Network.from_weights(W, b)
    net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=1000, lr=0.1, loss="mse", batch_size=1)
    Wn, bn = net.weights, net.biases
    nnext_final = np.array([Wn[0][0, 0], Wn[0][1, 0], Wn[0][0, 1], Wn[0][1, 1], Wn[1][0, 0], Wn[1][1, 0],
                            bn[0][0], bn[0][1], bn[1][0]])
    trained = R.zhou_train(params, epochs=1000)[0]
    his_final = np.array([trained[k] for k in R.ZHOU_PARAM_NAMES])
    assert rel(nnext_final, np.array(start)) > 0.1  # training moved the weights
    variants = run(tmp_path, build(tmp_path, "zhou"), 1000, start)
    assert set(variants) == {"libm", "fast", "libm_folded", "nnext_bits"}
    # nnext's own arithmetic, hand-written in registers: nnext's weights to the bit
    assert np.array_equal(variants["nnext_bits"][:9], nnext_final)
    for name, values in variants.items():
        assert rel(values[:9], his_final) <= TOL, name
        assert rel(values[:9], nnext_final) <= TOL, name
        mse = np.mean((R.ZHOU_Y - net.predict(R.ZHOU_DATA).ravel()) ** 2)
        assert values[9] == pytest.approx(mse, rel=1e-10), name


@pytest.mark.parametrize("flags", [(), ("-mavx2", "-mfma")], ids=["baseline", "avx2"])
def test_trask_c_ends_where_nnext_and_his_script_end(tmp_path, flags):
    if flags and not _cpu_has_avx2_fma():
        pytest.skip("this CPU has no AVX2+FMA")
    net = Network([3, 4, 1], bias=False, seed=1)
    start = np.concatenate([w.ravel() for w in net.weights])
    net.fit(R.TRASK_X, R.TRASK_Y2, epochs=60000, lr=1.0, loss="sse")
    nnext_final = np.concatenate([w.ravel() for w in net.weights])
    *_, syn0, syn1 = R.trask_part2()
    assert rel(np.concatenate([syn0.ravel(), syn1.ravel()]), nnext_final) <= TOL  # the tutorial and nnext agree
    variants = run(tmp_path, build(tmp_path, "trask", flags), 60000, start)
    expected = {"scalar_libm", "scalar_fast", "nnext_bits", "nnext_bits_lanes"}
    expected |= {"avx2_fast", "avx2_fast_folded"} if flags else set()
    assert set(variants) == expected
    # nnext's own arithmetic, in plain loops and in nnext's lanes: nnext's weights to the bit
    assert np.array_equal(variants["nnext_bits"][:16], nnext_final)
    assert np.array_equal(variants["nnext_bits_lanes"][:16], nnext_final)
    for name, values in variants.items():
        assert rel(values[:16], nnext_final) <= TOL, name


def _cpu_has_avx2_fma():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags
