"""Out-of-core training: a Dask array's blocks streamed through partial_fit
on a LocalCluster, one block in memory at a time, by hand and with
dask_ml.wrappers.Incremental (when installed); each equal to scikit-learn's
estimator fed the same blocks."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
da = pytest.importorskip("dask.array", reason="needs dask: pip install 'nnext[dask]'")
distributed = pytest.importorskip("distributed", reason="needs dask: pip install 'nnext[dask]'")
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402

from nnext.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

RS = np.random.RandomState(0)
X = RS.normal(size=(1200, 8))
LABELS = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
TARGET = np.sin(X[:, 0]) + 0.5 * X[:, 3]


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the cluster's port and resource notices)
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def relative(a, b):
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(y))) for x, y in zip(a, b))


def stream(est, Xd, yd, epochs, client, **fit_params):
    """partial_fit on each block in turn, each computed on the cluster when its
    turn comes: the only rows in this process are one block's."""
    for _ in range(epochs):
        for i in range(Xd.numblocks[0]):
            xb, yb = client.compute([Xd.blocks[i], yd.blocks[i]], sync=True)
            est.partial_fit(xb, yb, **fit_params)
    return est


@pytest.mark.parametrize("Ours,Theirs,y,fit_params", [
    (MLPClassifier, SkClassifier, LABELS, {"classes": [0, 1, 2]}),
    (MLPRegressor, SkRegressor, TARGET, {})])
def test_blocks_streamed_through_partial_fit_equal_scikit_learn(client, Ours, Theirs, y,
                                                                 fit_params):
    # blocks as a larger-than-memory source would give them: computed lazily
    Xd = da.from_array(X, chunks=(300, 8)).map_blocks(np.multiply, 1.0)
    yd = da.from_array(y, chunks=300)
    params = dict(hidden_layer_sizes=(16,), random_state=0, batch_size=50,
                  learning_rate_init=0.01)
    ours = stream(Ours(**params), Xd, yd, 3, client, **fit_params)
    theirs = stream(Theirs(**params), Xd, yd, 3, client, **fit_params)
    assert ours.t_ == theirs.t_ == 3 * 1200
    assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-9
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-9)
    assert ours.score(X, y) > (0.7 if Ours is MLPClassifier else 0.5)


def test_dask_ml_incremental(client):
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="needs dask-ml: pip install dask-ml")
    Xd = da.from_array(X, chunks=(300, 8))
    yd = da.from_array(LABELS, chunks=300)
    params = dict(hidden_layer_sizes=(16,), random_state=0, shuffle=False, batch_size=50,
                  learning_rate_init=0.01)
    # (the same block order: Incremental shuffles the blocks from its random_state)
    ours = wrappers.Incremental(MLPClassifier(**params), scoring="accuracy", random_state=3)
    theirs = wrappers.Incremental(SkClassifier(**params), scoring="accuracy", random_state=3)
    for inc in (ours, theirs):
        inc.fit(Xd, yd, classes=[0, 1, 2])
    a, b = ours.estimator_, theirs.estimator_
    assert relative(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_) < 1e-9
    assert ours.score(Xd, yd) == pytest.approx(theirs.score(Xd, yd), rel=1e-9)
