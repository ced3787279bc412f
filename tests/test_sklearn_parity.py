"""nnext.sklearn's estimators against scikit-learn's own, number for number:
from the same starting coefs_/intercepts_, with shuffle=False and float64,
both end 20 epochs at the same parameters (1e-9 relative) with the same
loss_curve_."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network as sk  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from nnext import sklearn as nk  # noqa: E402

RS = np.random.RandomState(0)
X = RS.normal(size=(157, 6))
LABELS = np.array(["cat", "dog", "emu"])[(X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)]
BINARY = np.where(X[:, 3] > 0, "yes", "no")
MULTILABEL = np.c_[X[:, 0] > 0, X[:, 1] > 0.5, X[:, 0] * X[:, 2] > 0].astype(int)
Y1 = np.sin(X[:, 0]) + 0.3 * X[:, 1]
Y3 = np.c_[Y1, X[:, 2] * X[:, 3], np.cos(X[:, 4])]

SOLVERS = {
    "sgd-momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.05),
    "sgd-nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.05),
    "sgd-invscaling": dict(solver="sgd", momentum=0.8, learning_rate="invscaling", power_t=0.3,
                           learning_rate_init=0.3),
    "sgd-plain-invscaling": dict(solver="sgd", momentum=0.0, learning_rate="invscaling",
                                 learning_rate_init=0.5),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}
TARGETS = {"multiclass": (sk.MLPClassifier, nk.MLPClassifier, LABELS),
           "binary": (sk.MLPClassifier, nk.MLPClassifier, BINARY),
           "multilabel": (sk.MLPClassifier, nk.MLPClassifier, MULTILABEL),
           "regression": (sk.MLPRegressor, nk.MLPRegressor, Y1),
           "multi-output": (sk.MLPRegressor, nk.MLPRegressor, Y3)}


def relative(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - y)) / np.max(np.abs(y))) for x, y in zip(a, b))


def pair(target, epochs=20, **params):
    """Both estimators fitted 1 epoch, then set to the same parameters (drawn
    here) and fitted `epochs` more with warm_start; returns (theirs, ours)."""
    SkEst, NkEst, y = TARGETS[target]
    base = dict(hidden_layer_sizes=(8, 5), activation="tanh", alpha=0.05, batch_size=40,
                shuffle=False, random_state=1, tol=0.0, n_iter_no_change=1000, max_iter=1,
                warm_start=True)
    base.update(params)
    theirs, ours = SkEst(**base), NkEst(**base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
        ours.fit(X, y)
        rs = np.random.RandomState(5)
        start = [rs.uniform(-0.6, 0.6, w.shape) for w in theirs.coefs_]
        start_b = [rs.uniform(-0.3, 0.3, b.shape) for b in theirs.intercepts_]
        for est in (theirs, ours):
            est.coefs_ = [w.copy() for w in start]
            est.intercepts_ = [b.copy() for b in start_b]
            est.set_params(max_iter=epochs)
            est.fit(X, y)
    return theirs, ours


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_twenty_epochs_equal_scikit_learn(target, solver):
    theirs, ours = pair(target, **SOLVERS[solver])
    assert ours.n_iter_ == theirs.n_iter_ == 20 and ours.t_ == theirs.t_
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 21
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-9
    assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-9
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    assert ours.out_activation_ == theirs.out_activation_ and ours.n_outputs_ == theirs.n_outputs_
    if target in ("multiclass", "binary", "multilabel"):
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-12)
    assert ours.score(X, TARGETS[target][2]) == pytest.approx(theirs.score(X, TARGETS[target][2]), rel=1e-9)


@pytest.mark.parametrize("activation", ["identity", "logistic", "relu"])
def test_other_activations_and_batch_sizes(activation):
    for batch in (1, 7, 157, "auto"):
        theirs, ours = pair("multiclass", epochs=5, activation=activation, batch_size=batch,
                            solver="sgd", learning_rate_init=0.005)
        assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-9
        assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-9


def test_same_random_state_draws_the_same_start():
    a = sk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=3, shuffle=False)
    b = nk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=3, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X, LABELS)
        b.fit(X, LABELS)
    assert relative(b.coefs_ + b.intercepts_, a.coefs_ + a.intercepts_) < 1e-12


def test_adaptive_rate_and_stopping_rule():
    """'adaptive' divides the rate by 5 after n_iter_no_change epochs without
    improvement by tol; the stopping rule then ends both at the same epoch."""
    params = dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.5, momentum=0.9,
                  tol=1e-3, n_iter_no_change=3)
    theirs, ours = pair("multiclass", epochs=150, **params)
    assert theirs.n_iter_ < 150 and ours.n_iter_ == theirs.n_iter_
    assert ours._lr == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    assert theirs._optimizer.learning_rate < 0.5  # the rate was divided
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-9
    assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-9


@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_early_stopping(target):
    theirs, ours = pair(target, epochs=60, early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=4, tol=1e-3, **SOLVERS["adam"])
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-9)
    assert ours.best_loss_ is theirs.best_loss_ is None
    assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-9


@pytest.mark.parametrize("target", ["multiclass", "multilabel", "multi-output"])
def test_partial_fit_equals_scikit_learn(target):
    SkEst, NkEst, y = TARGETS[target]
    params = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=2, batch_size=50,
                  alpha=0.01, **SOLVERS["adam"])
    theirs, ours = SkEst(**params), NkEst(**params)
    extra = {"classes": np.unique(y) if y.ndim == 1 else [0, 1, 2]} if target != "multi-output" else {}
    for _ in range(3):
        for lo in (0, 80):
            theirs.partial_fit(X[lo:lo + 80], y[lo:lo + 80], **extra)
            ours.partial_fit(X[lo:lo + 80], y[lo:lo + 80], **extra)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_ == 3 * 157
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-9
    assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 1e-9


def test_divergence_raises_scikit_learns_error_with_finite_weights():
    for est in (sk.MLPClassifier(hidden_layer_sizes=(8, 5), activation="identity", solver="sgd",
                                 learning_rate_init=0.05, batch_size=1, shuffle=False,
                                 random_state=1, max_iter=5),
                nk.MLPClassifier(hidden_layer_sizes=(8, 5), activation="identity", solver="sgd",
                                 learning_rate_init=0.05, batch_size=1, shuffle=False,
                                 random_state=1, max_iter=5)):
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            est.fit(X, LABELS)
    # nnext's fit that raises leaves the estimator as it was (issue 27): here, not fitted
    assert not hasattr(est, "network_") and not hasattr(est, "classes_")
    # and a fitted one keeps its (finite) weights and classes
    est.set_params(learning_rate_init=1e-4, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, LABELS)
    before = [w.copy() for w in est.coefs_ + est.intercepts_]
    est.set_params(learning_rate_init=0.05, max_iter=5)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        est.fit(X, LABELS)
    assert all(np.array_equal(w, b) for w, b in zip(est.coefs_ + est.intercepts_, before))


@pytest.mark.parametrize("solver", ["sgd-nesterov", "adam"])
def test_float32_follows_scikit_learn_in_float32(solver):
    """scikit-learn computes in float32 for float32 X; dtype='float32' does too."""
    SkEst, NkEst = sk.MLPClassifier, nk.MLPClassifier
    params = dict(hidden_layer_sizes=(8,), activation="tanh", alpha=0.05, batch_size=40,
                  shuffle=False, random_state=1, tol=0.0, n_iter_no_change=1000, max_iter=20,
                  **SOLVERS[solver])
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkEst(**params).fit(X32, LABELS)
        ours = NkEst(dtype="float32", **params).fit(X32, LABELS)
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype == np.float32
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 2e-5  # seen: 2e-6
    assert relative(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < 5e-5
