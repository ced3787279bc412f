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


# ---------------------------------------------------------------- the estimators

sklearn = pytest.importorskip("sklearn")


def _estimators():
    from nnext.sklearn import MLPClassifier, MLPRegressor
    return MLPClassifier, MLPRegressor


def _fitted_state(est):
    """What predict and a further fit depend on, copied."""
    net = est.network_
    params, opt = net._checkpoint()
    return dict(classes=None if not hasattr(est, "classes_") else list(est.classes_), network=net,
                params=params, opt=opt, n_iter=est.n_iter_, curve=list(getattr(est, "loss_curve_", None) or []),
                keys=sorted(est.__dict__))


def assert_unchanged(est, before):
    after = _fitted_state(est)
    assert after["classes"] == before["classes"] and after["network"] is before["network"]
    assert np.array_equal(after["params"], before["params"])
    assert (after["opt"] is None) == (before["opt"] is None)
    if before["opt"] is not None:
        assert np.array_equal(after["opt"][2], before["opt"][2]) and after["opt"][3] == before["opt"][3]
    assert after["n_iter"] == before["n_iter"] and after["curve"] == before["curve"]
    assert after["keys"] == before["keys"]


def assert_consistent(clf, X):
    """predict's labels are classes_, from a network with one output per class (or one for two)."""
    k = len(clf.classes_)
    assert clf.network_.sizes[-1] == (1 if k == 2 else k)
    assert set(clf.predict(X)) <= set(clf.classes_)


def test_refit_that_runs_out_of_memory_leaves_the_estimator_as_it_was():
    MLPClassifier, _ = _estimators()
    rs = np.random.RandomState(0)
    X = rs.normal(size=(60, 4))
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, np.where(X[:, 0] > 0, "yes", "no"))
    before = _fitted_state(clf)
    predicted = clf.predict(X)
    clf.set_params(hidden_layer_sizes=(10**6, 10**6))
    with pytest.raises(MemoryError):
        clf.fit(X, np.arange(60) % 3)  # three new classes, and a network that cannot be built
    assert_unchanged(clf, before)
    assert np.array_equal(clf.predict(X), predicted)
    assert_consistent(clf, X)


def test_refit_with_bad_data_leaves_the_estimator_as_it_was():
    MLPClassifier, MLPRegressor = _estimators()
    from sklearn.base import is_classifier
    rs = np.random.RandomState(1)
    X = rs.normal(size=(40, 3))
    for est, y in ((MLPClassifier(hidden_layer_sizes=(4,), max_iter=5), np.arange(40) % 2),
                   (MLPRegressor(hidden_layer_sizes=(4,), max_iter=5), X[:, 0])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
            before = _fitted_state(est)
            bad = X.copy()
            bad[3, 1] = np.nan
            with pytest.raises(ValueError):
                est.fit(bad, y)
            assert_unchanged(est, before)
            with pytest.raises(ValueError):
                est.partial_fit(X[:, :2], y)  # the wrong width for the fitted network
            assert_unchanged(est, before)
            est.set_params(warm_start=True)
            with pytest.raises(ValueError):
                # new classes, or a second output: not the fitted network's
                est.fit(X, np.arange(40) % 3 if is_classifier(est) else np.column_stack([y, y]))
            assert_unchanged(est, before)


def test_a_failed_first_partial_fit_leaves_the_estimator_unfitted():
    MLPClassifier, _ = _estimators()
    from sklearn.exceptions import NotFittedError
    rs = np.random.RandomState(2)
    X = rs.normal(size=(20, 3))
    X[0, 0] = np.inf
    clf = MLPClassifier(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError):
        clf.partial_fit(X, np.arange(20) % 2, classes=[0, 1])
    assert not hasattr(clf, "classes_") and not hasattr(clf, "network_")
    with pytest.raises(NotFittedError):
        clf.predict(X[1:])


def test_ctrl_c_during_a_refit_leaves_the_estimator_whole():
    """Ctrl-C at different points of a refit to new classes and a new, larger network:
    when it stops the call, the estimator is as it was; when it lands in the training
    loop (which stops with a warning, as scikit-learn's), the new classes come with
    the new network.  Either way predict answers with labels of classes_."""
    MLPClassifier, _ = _estimators()
    rs = np.random.RandomState(3)
    X = rs.normal(size=(3000, 20))
    raised = 0
    for delay in (0.02, 0.04, 0.07, 0.1, 0.2, 0.4):  # (conftest sends the signal once started)
        clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X[:50], np.where(X[:50, 0] > 0, "yes", "no"))
            before = _fitted_state(clf)
            clf.set_params(hidden_layer_sizes=(1500, 1500), max_iter=10**6)
            answer = interrupt_after(delay, lambda: clf.fit(X, np.arange(3000) % 4))
        if answer is not None and list(clf.classes_) == before["classes"]:
            raised += 1
            assert_unchanged(clf, before)
        assert_consistent(clf, X[:20])


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_warm_start_applies_a_new_activation_as_scikit_learn_does(kind):
    from sklearn.neural_network import MLPClassifier as SkC, MLPRegressor as SkR
    MLPClassifier, MLPRegressor = _estimators()
    rs = np.random.RandomState(4)
    X = rs.normal(size=(80, 3))
    y = X[:, 0] - X[:, 1] ** 2 if kind == "regressor" else (X[:, 0] > 0).astype(int)
    ours, theirs = (MLPRegressor, SkR) if kind == "regressor" else (MLPClassifier, SkC)
    kw = dict(hidden_layer_sizes=(6,), activation="relu", solver="sgd", learning_rate_init=0.05,
              shuffle=False, random_state=0, max_iter=4, batch_size=16)
    a, b = ours(dtype="float64", **kw), theirs(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.fit(X, y)
        b.fit(X, y)
        for est in (a, b):
            est.set_params(warm_start=True, activation="tanh")
            est.fit(X, y)
    assert a.network_.activations[:-1] == ["tanh"]
    for got, want in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # partial_fit too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (a, b):
            est.set_params(activation="logistic")
            est.partial_fit(X, y)
    assert a.network_.activations[:-1] == ["sigmoid"]
    for got, want in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_warm_start_applies_a_new_dtype():
    _, MLPRegressor = _estimators()
    rs = np.random.RandomState(5)
    X = rs.normal(size=(50, 3))
    y = X[:, 0]
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y)
        coefs = [w.copy() for w in reg.coefs_]
        reg.set_params(warm_start=True, dtype="float32", max_iter=1)
        reg.partial_fit(X, y)
    assert reg.network_.dtype == np.float32 and reg.predict(X).dtype == np.float32
    # trained on from the same (rounded) weights, not from new ones
    assert all(np.abs(w - c).max() < 0.1 for w, c in zip(reg.coefs_, coefs))


def test_estimator_early_stopping_ends_on_the_best_epochs_optimizer_state():
    MLPClassifier, _ = _estimators()
    rs = np.random.RandomState(6)
    X = rs.normal(size=(300, 5))
    y = (X[:, 0] + 0.8 * rs.normal(size=300) > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(20,), early_stopping=True, n_iter_no_change=3, max_iter=300,
                        batch_size=32, learning_rate_init=0.05, random_state=0, dtype="float64")
    clf.fit(X, y)
    best = int(np.argmax(clf.validation_scores_))  # the first best score's epoch
    assert best + 1 < clf.n_iter_, "early stopping did not stop after its best epoch"
    n_train = 300 - int(np.ceil(0.1 * 300))
    steps = (best + 1) * -(-n_train // 32)
    assert clf.network_._engine.optimizer_state()[3] == steps  # Adam's step count of the best epoch


def test_partial_fit_docstring_says_what_the_call_requires():
    MLPClassifier, _ = _estimators()
    doc = " ".join(MLPClassifier.partial_fit.__doc__.split())
    assert "unless y is a multilabel" not in doc and "classes=np.arange(k)" in doc
    rs = np.random.RandomState(7)
    X = rs.normal(size=(30, 3))
    Y = (rs.uniform(size=(30, 4)) > 0.5).astype(int)  # a multilabel indicator matrix
    clf = MLPClassifier(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, Y)
    assert not hasattr(clf, "classes_")
    clf.partial_fit(X, Y, classes=np.arange(4))  # as the docstring says
    assert clf.predict(X).shape == (30, 4) and list(clf.classes_) == [0, 1, 2, 3]
