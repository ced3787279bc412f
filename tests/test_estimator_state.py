"""What a fit leaves behind, however it ends (issue 27, rule 1): early stopping
ends on the best epoch's weights *and* optimizer state, so that training on
equals training that many epochs from the start; an estimator's refit that
fails (Ctrl-C, MemoryError, bad data) leaves the estimator as it was; a warm
start applies the parameters set since (activation, dtype) as scikit-learn does."""
import warnings

import numpy as np
import pytest

from nnext import Network

from conftest import assert_same_params, interrupt_after, snapshot


def _data(seed=0, n=120):
    rs = np.random.RandomState(seed)
    X = rs.normal(size=(n, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    Xv = rs.normal(size=(40, 3))
    yv = np.sin(2 * Xv[:, 0]) + Xv[:, 1] * Xv[:, 2] + rs.normal(scale=0.8, size=40)
    return X, y, Xv, yv


def assert_same_optimizer_state(a, b):
    sa, sb = a._engine.optimizer_state(), b._engine.optimizer_state()
    assert (sa is None) == (sb is None)
    if sa is not None:
        assert sa[0] == sb[0] and sa[1] == sb[1] and sa[3] == sb[3]  # optimizer, blocks, step count
        assert np.array_equal(sa[2], sb[2])


@pytest.mark.parametrize("opt", [dict(optimizer="adam", lr=0.05), dict(optimizer="sgd", lr=0.05, momentum=0.9),
                                 dict(optimizer="sgd", lr=0.02, momentum=0.9, nesterov=True)])
def test_early_stopping_ends_on_the_best_epochs_optimizer_state(opt):
    X, y, Xv, yv = _data()
    net = Network([3, 16, 1], activation=["tanh", "linear"], seed=1)
    ref = net.copy()
    kw = dict(batch_size=16, **opt)
    history = net.fit(X, y, epochs=2000, validation_data=(Xv, yv), early_stopping=5, **kw)
    assert history.stopped_epoch is not None and history.best_epoch < history.stopped_epoch
    ref.fit(X, y, epochs=history.best_epoch + 1, **kw)
    assert_same_params(net, snapshot(ref))
    assert_same_optimizer_state(net, ref)
    # and so training on is training the best epoch's count and more from the start
    net.fit(X, y, epochs=7, **kw)
    ref.fit(X, y, epochs=7, **kw)
    assert_same_params(net, snapshot(ref))
    assert_same_optimizer_state(net, ref)
