"""Ctrl-C: a long fit in a subprocess gets SIGINT; KeyboardInterrupt must arrive
promptly, and the network must then still predict finite values and survive a
save/load round trip (what a Jupyter user does next).

"Promptly" is measured as the CPU time the child spends between the signal
and its KeyboardInterrupt (conftest.CTRL_C_CPU_SECONDS), which a loaded
machine does not inflate as it inflates the wall time; the wall-clock latency
is measured in bench/ctrl_c.py."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import CTRL_C_CPU_SECONDS, child_env, nnext_location


def cpu_seconds(pid):
    """The CPU time (user + system, every thread) process `pid` has used, from
    /proc (in clock ticks: 0.01 s here), or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

CHILD = textwrap.dedent(r"""
    import json, os, sys, time
    import numpy as np
    import nnext
    from nnext import Network

    kind = sys.argv[1]
    folder = sys.argv[2]
    rs = np.random.RandomState(0)
    X = rs.normal(size=(2000, 64))
    Y = rs.uniform(0, 1, size=(2000, 8))
    net = Network([64, 128, 8], activation=["relu", "sigmoid"], seed=0)
    kw = dict(optimizer="adam", lr=1e-3, batch_size=32, shuffle=True, seed=1)
    if kind == "verbose":
        kw["verbose"] = 1  # fit hands back to Python every epoch
    report = {}
    print("ready", time.monotonic(), os.path.realpath(os.path.dirname(nnext.__file__)), flush=True)
    try:
        net.fit(X, Y, epochs=10**9, **kw)
        report["finished"] = True
    except KeyboardInterrupt:
        report["caught_at"] = time.monotonic()
        report["cpu_at_catch"] = time.process_time()
    finally:
        out = net.predict(X)
        report["finite"] = bool(np.all(np.isfinite(out)))
        report["params_finite"] = bool(all(np.all(np.isfinite(w)) for w in net.weights + net.biases))
        path = net.save(os.path.join(folder, "after_interrupt.npz"))
        back = Network.load(path)
        report["roundtrip"] = bool(np.array_equal(back.predict(X), out))
        # and it can keep training
        net.fit(X[:64], Y[:64], epochs=2, lr=1e-3)
        report["trains_again"] = bool(np.all(np.isfinite(net.predict(X[:4]))))
        print("REPORT", json.dumps(report), flush=True)
""")


def run_once(kind, folder, settle):
    env = child_env()  # the child imports the nnext under test, never the source tree
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready"), (line, proc.stderr.read())
        assert line.split(None, 2)[2].rstrip("\n") == nnext_location(), line
        time.sleep(settle)  # well inside the C training loop
        assert proc.poll() is None, proc.stderr.read()
        cpu_sent = cpu_seconds(proc.pid)
        sent = time.monotonic()  # CLOCK_MONOTONIC: the same clock in both processes
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    reports = [json.loads(l[len("REPORT "):]) for l in out.splitlines() if l.startswith("REPORT ")]
    assert reports, (out, err)
    report = reports[0]
    assert "caught_at" in report, report
    report["wall"] = report["caught_at"] - sent
    report["cpu"] = None if cpu_sent is None else report["cpu_at_catch"] - cpu_sent
    return report


@pytest.mark.parametrize("kind", ["plain", "verbose"])
def test_sigint_interrupts_fit_quickly_and_leaves_a_usable_network(kind, tmp_path):
    report = run_once(kind, tmp_path, settle=0.8)
    assert report["finite"] and report["params_finite"], report
    assert report["roundtrip"] and report["trains_again"], report
    if report["cpu"] is not None:
        # (/proc counts in ticks: one tick of slack)
        assert report["cpu"] < CTRL_C_CPU_SECONDS + 2 / os.sysconf("SC_CLK_TCK"), (
            f"the child worked {report['cpu']:.3f} s of CPU after SIGINT "
            f"(limit {CTRL_C_CPU_SECONDS} s; wall {report['wall']:.3f} s)")
