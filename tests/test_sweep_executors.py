"""sweep(..., executor=...): the same table from a process pool and from a Dask cluster as
from the default threads, bit for bit.  Dask is a test extra; its test skips without it."""
import math
import os
import pickle
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import pytest

import nnext
from nnext import Network
from nnext.sweep import train_one

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)
LRS, SEEDS = [0.001, 0.03, 0.1, 1.0], [1, 2]
SWEEP = dict(lrs=LRS, seeds=SEEDS, epochs=3000, target=0.05, activation=["tanh", "linear"], loss="sse",
             as_frame=False)


def assert_same_table(got, want):
    assert list(got) == list(want)
    for key in want:
        assert got[key].dtype == want[key].dtype, key
        # bit for bit: the same float64 bit patterns (NaN included)
        assert np.array_equal(got[key], want[key], equal_nan=True), (key, got[key], want[key])
        if want[key].dtype == np.float64:
            assert got[key].tobytes() == want[key].tobytes(), key


@pytest.fixture(scope="module")
def in_process():
    table = nnext.sweep([3, 4, 1], X, Y, **SWEEP)
    # the grid has a run that diverges and runs that do and do not reach the target
    assert table["diverged"].any() and not table["diverged"].all()
    reached = np.isfinite(table["epochs_to_target"])
    assert reached.any() and not reached.all()
    return table


def test_rows_equal_separate_fits(in_process):
    for i, (lr, seed) in enumerate((lr, seed) for lr in LRS for seed in SEEDS):
        net = Network([3, 4, 1], activation=["tanh", "linear"], seed=seed)
        try:
            final = net.fit(X, Y, epochs=3000, lr=lr, loss="sse").loss[-1]
        except FloatingPointError:
            final = math.nan
        assert np.array_equal(in_process["final_loss"][i], final, equal_nan=True)


class PicklingExecutor:
    """Runs each task after a round trip through the standard pickle (no cloudpickle):
    what a cluster does to it, minus the network."""

    def __init__(self):
        self.payloads = []

    def submit(self, fn, *args):
        blob = pickle.dumps((fn, args))
        self.payloads.append(blob)
        fn, args = pickle.loads(blob)
        future = Future()
        future.set_result(pickle.loads(pickle.dumps(fn(*args))))
        return future


def test_what_crosses_the_wire_pickles_by_reference(in_process):
    executor = PicklingExecutor()
    assert_same_table(nnext.sweep([3, 4, 1], X, Y, executor=executor, **SWEEP), in_process)
    assert len(executor.payloads) == len(LRS) * len(SEEDS)
    blob = executor.payloads[0]
    assert b"nnext.sweep" in blob and b"train_one" in blob  # the function goes by name
    fn, args = pickle.loads(blob)
    assert fn is train_one
    assert not any(isinstance(a, Network) for a in args)


def test_process_pool(in_process):
    with ProcessPoolExecutor(max_workers=2) as pool:
        table = nnext.sweep([3, 4, 1], X, Y, executor=pool, **SWEEP)
    assert_same_table(table, in_process)


def test_dask_local_cluster(in_process):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed "
                                      "(pip install 'dask[distributed]')")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        table = nnext.sweep([3, 4, 1], X, Y, executor=client, **SWEEP)
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, not this one
    assert_same_table(table, in_process)
    assert cluster.status.name == "closed"


def test_executor_arguments_are_checked():
    with pytest.raises(TypeError, match="executor.*submit.*list"):
        nnext.sweep([3, 4, 1], X, Y, lrs=[0.1], executor=[])
    with pytest.raises(ValueError, match="n_jobs"):
        with ProcessPoolExecutor(max_workers=1) as pool:
            nnext.sweep([3, 4, 1], X, Y, lrs=[0.1], executor=pool, n_jobs=2)
    with pytest.raises(ValueError, match="sizes"):  # bad arguments fail before any submit
        nnext.sweep([3, 0, 1], X, Y, lrs=[0.1], executor=PicklingExecutor())


def test_a_pickled_network_is_small():
    """What the README says crosses the wire with a network: 8 bytes per float64 parameter
    and a header of under 300 bytes (it quotes 402 and 19,563 bytes for these two,
    measured with Python 3.11 and numpy 2.4; the exact count varies with their versions)."""
    for net in (Network([3, 4, 1], bias=False, seed=1),
                Network([64, 32, 10], activation=["tanh", "softmax"], seed=0)):
        blob = pickle.dumps(net)
        assert 0 < len(blob) - 8 * net.n_params < 300, (net, len(blob))
        copy = pickle.loads(blob)
        x = np.linspace(-1, 1, net.sizes[0])
        assert np.array_equal(copy.predict(x), net.predict(x))
