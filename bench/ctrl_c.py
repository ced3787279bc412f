"""Ctrl-C's wall-clock latency: the promise the tests hold by CPU time.

Each long call of a wide network (64-3072-3072-1, float32, the default
threads) gets SIGINT from another thread at a random moment; the time from
the signal to its KeyboardInterrupt is reported, with the CPU time spent in
between and the polls made.  The promise: about 0.1 s on an unloaded machine.

    python bench/ctrl_c.py [trials]      (about 1 minute with 10 trials)
"""
import os
import signal
import statistics
import sys
import threading
import time

import numpy as np

import nnext
from nnext import Network, _core

WIDE = [64, 3072, 3072, 1]


def answer(call, after):
    """(wall s, cpu s, polls) from SIGINT to KeyboardInterrupt, or None."""
    main, sent, done = threading.get_ident(), {}, threading.Event()

    def sender():
        if not done.wait(after):
            sent.update(polls=_core._polls(), cpu=time.process_time(), wall=time.perf_counter())
            signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        call()
    except KeyboardInterrupt:
        now = time.perf_counter(), time.process_time(), _core._polls()
        return now[0] - sent["wall"], now[1] - sent["cpu"], now[2] - sent["polls"]
    finally:
        done.set()
        thread.join()
    return None


def main(trials):
    rng = np.random.default_rng(0)
    net = Network(WIDE, activation=["relu", "relu", "linear"], dtype="float32", init="he", seed=0)
    X = rng.normal(size=(20000, WIDE[0])).astype(np.float32)
    y = np.zeros((20000, 1), np.float32)
    calls = {"predict": lambda: net.predict(X), "forward": lambda: net.forward(X),
             "loss": lambda: net.loss(X, y), "gradients": lambda: net.gradients(X[:16000], y[:16000]),
             "fit (one step)": lambda: net.fit(X[:16000], y[:16000], epochs=1, lr=1e-9),
             "fit (adam, batch 256)": lambda: net.fit(X, y, epochs=10**6, lr=1e-9, optimizer="adam",
                                                     batch_size=256, shuffle=True)}
    print(f"nnext {nnext.__version__}, {_core.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; {trials} trials per call, SIGINT 0.05-0.4 s in")
    print(f"{'call':24s} {'wall median':>12s} {'wall max':>10s} {'cpu max':>9s} {'polls max':>10s}")
    for name, call in calls.items():
        got = [a for a in (answer(call, rng.uniform(0.05, 0.4)) for _ in range(trials)) if a]
        if not got:
            print(f"{name:24s} finished before the signal every time")
            continue
        walls = [a[0] for a in got]
        print(f"{name:24s} {statistics.median(walls) * 1e3:10.1f} ms {max(walls) * 1e3:7.1f} ms "
              f"{max(a[1] for a in got) * 1e3:6.1f} ms {max(a[2] for a in got):10d}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
