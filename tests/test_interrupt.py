"""Ctrl-C: a long fit in a subprocess gets SIGINT; KeyboardInterrupt must arrive
within half a second, and the network must then still predict finite values
and survive a save/load round trip (what a Jupyter user does next)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import child_env, nnext_location

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
    return report["caught_at"] - sent, report


@pytest.mark.parametrize("kind", ["plain", "verbose"])
def test_sigint_interrupts_fit_quickly_and_leaves_a_usable_network(kind, tmp_path):
    latencies = []
    # retried: on a loaded 2-core CI machine the child may simply not be
    # scheduled for a while; one fast answer proves the mechanism
    # Under .ci/run's ASan+UBSan stage (NNEXT_SANITIZED) everything, the
    # interpreter's own allocations included, runs several times slower; there
    # the test checks the mechanism with a looser limit, and the 0.5 s promise
    # is held by the normal stage.
    sanitized = bool(os.environ.get("NNEXT_SANITIZED"))
    limit = 3.0 if sanitized else 0.5
    # (the sanitized stage has seen 3.2-5.4 s three times in a row with the
    # 2 cores at load average 5: more tries there, where memory safety of the
    # interrupted path is what is tested)
    for attempt in range(6 if sanitized else 3):
        latency, report = run_once(kind, tmp_path, settle=0.8)
        assert report["finite"] and report["params_finite"], report
        assert report["roundtrip"] and report["trains_again"], report
        latencies.append(round(latency, 3))
        if latency < limit:
            return
    raise AssertionError(f"KeyboardInterrupt took {latencies} s after SIGINT (limit {limit} s)")
