"""nnext.sklearn as a drop-in for scikit-learn's MLPs where parity used to
stop: the clipped log-loss (loss_, loss_curve_, best_loss_, n_iter_ on
saturated, unscaled data), shuffled training (scikit-learn's draws), L-BFGS
(the same iterations and coefs_), dtype following X, divergence under early
stopping, partial_fit hidden for lbfgs, sample_weight; each against
scikit-learn itself."""

import time
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")
from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_digits, load_iris, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from nnext import sklearn as nk  # noqa: E402

RS = np.random.RandomState(0)
X = RS.normal(size=(157, 6))
LABELS = np.array(["cat", "dog", "emu"])[(X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)]
BINARY = np.where(X[:, 3] > 0, "yes", "no")
MULTILABEL = np.c_[X[:, 0] > 0, X[:, 1] > 0.5, X[:, 0] * X[:, 2] > 0].astype(int)
Y1 = np.sin(X[:, 0]) + 0.3 * X[:, 1]
Y3 = np.c_[Y1, X[:, 2] * X[:, 3], np.cos(X[:, 4])]
TARGETS = {"multiclass": (sk.MLPClassifier, nk.MLPClassifier, LABELS),
           "binary": (sk.MLPClassifier, nk.MLPClassifier, BINARY),
           "multilabel": (sk.MLPClassifier, nk.MLPClassifier, MULTILABEL),
           "regression": (sk.MLPRegressor, nk.MLPRegressor, Y1),
           "multi-output": (sk.MLPRegressor, nk.MLPRegressor, Y3)}


def relative(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - y)) / np.max(np.abs(y))) for x, y in zip(a, b))


def both(target, X=X, y=None, **params):
    """scikit-learn's and nnext's estimator fitted with the same params."""
    SkEst, NkEst, yy = TARGETS[target]
    y = yy if y is None else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SkEst(**params).fit(X, y), NkEst(**params).fit(X, y)


def params_of(est):
    return est.coefs_ + est.intercepts_


# ------------------------------------------------------ the clipped log-loss

def test_unscaled_wine_stops_at_scikit_learns_epoch():
    """Unscaled wine saturates the outputs: scikit-learn's clipped log-loss
    drives its stopping rule; nnext reports the same loss and stops with it."""
    Xw, yw = load_wine(return_X_y=True)
    theirs, ours = both("multiclass", Xw, yw, random_state=4)
    assert ours.n_iter_ == theirs.n_iter_ < 200
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-9
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert relative(params_of(ours), params_of(theirs)) < 1e-9


@pytest.mark.parametrize("target", ["multiclass", "binary", "multilabel"])
def test_saturated_weights_report_scikit_learns_loss(target):
    """Weights scaled up until p rounds to 0 or 1: the unclipped loss would be
    far larger (issue 26: 515 against 19.8)."""
    SkEst, NkEst, y = TARGETS[target]
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e-3, max_iter=1,
                  shuffle=False, random_state=0, warm_start=True)
    theirs, ours = both(target, **params)
    rs = np.random.RandomState(1)
    start = [rs.normal(scale=30, size=w.shape) for w in theirs.coefs_]
    for est in (theirs, ours):
        est.coefs_ = [w.copy() for w in start]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
    p = ours.predict_proba(X)
    assert ((p < 1e-16) | (p > 1 - 1e-16)).any()
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    assert relative(params_of(ours), params_of(theirs)) < 1e-9


# ------------------------------------------------------ shuffled parity

@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_shuffled_training_equals_scikit_learn(target, solver):
    theirs, ours = both(target, hidden_layer_sizes=(8, 5), activation="tanh", solver=solver,
                        batch_size=32, learning_rate_init=0.01, max_iter=15, random_state=3,
                        shuffle=True, tol=0.0)
    assert ours.n_iter_ == theirs.n_iter_ == 15
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-9
    assert relative(params_of(ours), params_of(theirs)) < 1e-9


def test_shuffled_partial_fit_and_early_stopping_equal_scikit_learn():
    SkEst, NkEst = sk.MLPClassifier, nk.MLPClassifier
    params = dict(hidden_layer_sizes=(6,), batch_size=20, random_state=np.random.RandomState(2))
    theirs = SkEst(**{**params, "random_state": np.random.RandomState(2)})
    ours = NkEst(**params)
    for _ in range(3):
        theirs.partial_fit(X, LABELS, classes=np.unique(LABELS))
        ours.partial_fit(X, LABELS, classes=np.unique(LABELS))
    assert relative(params_of(ours), params_of(theirs)) < 1e-9
    theirs, ours = both("multiclass", hidden_layer_sizes=(6,), early_stopping=True,
                        n_iter_no_change=3, learning_rate_init=0.01, random_state=5)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    assert relative(params_of(ours), params_of(theirs)) < 1e-9


def test_shuffling_costs_about_one_permutation_an_epoch():
    Xd, yd = load_digits(return_X_y=True)
    Xd = Xd / 16
    times = {}
    for shuffle in (False, True):
        est = nk.MLPClassifier(hidden_layer_sizes=(32,), batch_size=200, max_iter=20, tol=0.0,
                               shuffle=shuffle, random_state=0)
        best = np.inf
        for _ in range(3):
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(Xd, yd)
            best = min(best, time.perf_counter() - started)
        times[shuffle] = best
    # gathering the rows and one permutation an epoch: well under the epoch's products
    assert times[True] < 1.5 * times[False] + 0.01, times


# ------------------------------------------------------ L-BFGS

def lbfgs_pair(target, max_iter=40, X=X, y=None, **params):
    """Both estimators from the same start (drawn by the same random_state),
    `max_iter` L-BFGS iterations."""
    base = dict(hidden_layer_sizes=(8, 5), activation="tanh", alpha=1e-3, solver="lbfgs",
                max_iter=max_iter, random_state=1, tol=0.0)
    base.update(params)
    return both(target, X, y, **base)


@pytest.mark.parametrize("target", list(TARGETS))
def test_lbfgs_equals_scikit_learn(target):
    theirs, ours = lbfgs_pair(target)
    assert ours.n_iter_ == theirs.n_iter_ == 40
    assert relative(params_of(ours), params_of(theirs)) < 1e-6
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")


@pytest.mark.parametrize("activation", ["identity", "logistic", "relu"])
def test_lbfgs_other_activations(activation):
    theirs, ours = lbfgs_pair("multiclass", activation=activation, max_iter=25)
    assert ours.n_iter_ == theirs.n_iter_
    assert relative(params_of(ours), params_of(theirs)) < 1e-6


def test_lbfgs_converges_and_stops_where_scikit_learn_stops():
    """tol as scipy's gtol, max_fun as maxfun: the same stopping iteration."""
    Xd, yd = load_digits(return_X_y=True)
    theirs, ours = lbfgs_pair("multiclass", max_iter=500, X=Xd[:300] / 16, y=yd[:300],
                              hidden_layer_sizes=(10,), tol=1e-3)
    assert ours.n_iter_ == theirs.n_iter_ < 500
    for max_fun in (7, 30):
        theirs, ours = lbfgs_pair("regression", max_iter=500, max_fun=max_fun)
        assert ours.n_iter_ == theirs.n_iter_ <= max_fun
        assert relative(params_of(ours), params_of(theirs)) < 1e-9


def test_lbfgs_warm_start_and_float32():
    theirs, ours = lbfgs_pair("binary", max_iter=10, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, BINARY)
        ours.fit(X, BINARY)
    assert relative(params_of(ours), params_of(theirs)) < 1e-7
    est = nk.MLPClassifier(solver="lbfgs", hidden_layer_sizes=(8,), max_iter=30, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X.astype(np.float32), LABELS)
    assert all(p.dtype == np.float32 for p in params_of(est))
    assert est.score(X.astype(np.float32), LABELS) > 0.9


def test_lbfgs_objective_equals_scikit_learns():
    """_loss_grad_lbfgs (scikit-learn's private objective, which its own
    test_gradient calls) gives scikit-learn's value and gradient."""
    for target in TARGETS:
        theirs, ours = lbfgs_pair(target, max_iter=2)
        SkEst, NkEst, y = TARGETS[target]
        Y = ours._label_binarizer.transform(y) if target != "regression" and \
            target != "multi-output" else (y.reshape(-1, 1) if y.ndim == 1 else y)
        packed = np.hstack([a.ravel() for a in theirs.coefs_ + theirs.intercepts_])
        packed = packed + np.random.RandomState(0).normal(scale=0.05, size=packed.shape)
        units = [X.shape[1], 8, 5, Y.shape[1]]
        acts = [X] + [np.empty((X.shape[0], u)) for u in units[1:]]
        deltas = [np.empty_like(a) for a in acts[1:]]
        cg = [np.empty((a, b)) for a, b in zip(units[:-1], units[1:])]
        ig = [np.empty(b) for b in units[1:]]
        value, grad = theirs._loss_grad_lbfgs(packed, X, Y.astype(float), None, acts, deltas,
                                              cg, ig)
        ours_value, ours_grad = ours._loss_grad_lbfgs(packed, X, Y, None)
        assert ours_value == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(ours_grad, grad, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------ dtype, divergence, partial_fit

@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_dtype_follows_X(target):
    SkEst, NkEst, y = TARGETS[target]
    X32 = X.astype(np.float32)
    theirs, ours = both(target, X32, hidden_layer_sizes=(8,), max_iter=10, random_state=1)
    assert all(p.dtype == np.float32 for p in params_of(ours))
    out = ours.predict_proba(X32) if target == "multiclass" else ours.predict(X32)
    assert out.dtype == np.float32
    assert relative([ours.loss_curve_], [np.array(theirs.loss_curve_)]) < 1e-5
    assert relative(params_of(ours), params_of(theirs)) < 1e-4
    forced = NkEst(hidden_layer_sizes=(8,), max_iter=2, random_state=1, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        forced.fit(X32, y)
    assert forced.coefs_[0].dtype == np.float64  # dtype= overrides


def test_divergence_under_early_stopping_is_scikit_learns():
    Xi, yi = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd",
                  learning_rate_init=1, max_iter=20, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.MLPRegressor(**params).fit(Xi, yi)
        ours = nk.MLPRegressor(**params).fit(Xi, yi)
    assert ours.n_iter_ == theirs.n_iter_ == 20
    assert len(ours.validation_scores_) == len(theirs.validation_scores_)
    np.testing.assert_array_equal(np.isnan(ours.validation_scores_),
                                  np.isnan(theirs.validation_scores_))
    finite = ~np.isnan(theirs.validation_scores_)
    np.testing.assert_allclose(np.array(ours.validation_scores_)[finite],
                               np.array(theirs.validation_scores_)[finite], rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-9)
    assert relative(params_of(ours), params_of(theirs)) < 1e-9  # the best weights


@pytest.mark.parametrize("Est", [nk.MLPClassifier, nk.MLPRegressor])
def test_partial_fit_is_hidden_for_lbfgs(Est):
    est = Est(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        est.partial_fit
    assert "only available for stochastic optimizers" in str(info.value.__cause__)
    with pytest.raises(AttributeError):  # as scikit-learn's
        sk.MLPClassifier(solver="lbfgs").partial_fit
    assert hasattr(est.set_params(solver="adam"), "partial_fit")


# ------------------------------------------------------ sample_weight

SW = np.random.RandomState(9).uniform(0, 3, size=157)


@pytest.mark.parametrize("target", ["multiclass", "binary", "regression", "multi-output"])
@pytest.mark.parametrize("solver", [dict(solver="sgd", batch_size=32),
                                    dict(solver="adam", batch_size=20, shuffle=False),
                                    dict(solver="lbfgs", tol=0.0),
                                    dict(solver="adam", early_stopping=True, n_iter_no_change=3,
                                         tol=1e-3)], ids=["sgd", "adam", "lbfgs", "early"])
def test_sample_weight_equals_scikit_learn(target, solver):
    SkEst, NkEst, y = TARGETS[target]
    params = dict(hidden_layer_sizes=(8,), random_state=1, max_iter=25, alpha=0.01, **solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkEst(**params).fit(X, y, sample_weight=SW)
        ours = NkEst(**params).fit(X, y, sample_weight=SW)
    assert ours.n_iter_ == theirs.n_iter_
    tol = 1e-6 if solver["solver"] == "lbfgs" else 1e-9
    assert relative(params_of(ours), params_of(theirs)) < tol
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=tol)
    if solver.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                   rtol=1e-12)
    assert ours.score(X, y, sample_weight=SW) == pytest.approx(theirs.score(X, y, sample_weight=SW),
                                                               rel=1e-6)


def test_sample_weight_in_partial_fit_and_the_lbfgs_objective():
    params = dict(hidden_layer_sizes=(6,), random_state=2, batch_size=40)
    theirs, ours = sk.MLPRegressor(**params), nk.MLPRegressor(**params)
    for lo in (0, 80, 0):
        theirs.partial_fit(X[lo:lo + 80], Y3[lo:lo + 80], sample_weight=SW[lo:lo + 80])
        ours.partial_fit(X[lo:lo + 80], Y3[lo:lo + 80], sample_weight=SW[lo:lo + 80])
    assert relative(params_of(ours), params_of(theirs)) < 1e-9
    theirs, ours = lbfgs_pair("multiclass", max_iter=2)
    Y = ours._label_binarizer.transform(LABELS)
    packed = np.hstack([a.ravel() for a in theirs.coefs_ + theirs.intercepts_])
    units = [6, 8, 5, 3]
    scratch = ([X] + [np.empty((157, u)) for u in units[1:]], [np.empty((157, u)) for u in units[1:]],
               [np.empty((a, b)) for a, b in zip(units[:-1], units[1:])], [np.empty(b) for b in units[1:]])
    value, grad = theirs._loss_grad_lbfgs(packed, X, Y.astype(float), SW, *scratch)
    ours_value, ours_grad = ours._loss_grad_lbfgs(packed, X, Y, SW)
    assert ours_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(ours_grad, grad, rtol=1e-10, atol=1e-14)


def test_bad_sample_weight_is_named():
    est = nk.MLPClassifier(hidden_layer_sizes=(3,), max_iter=2)
    with pytest.raises(ValueError, match="sample_weight"):
        est.fit(X, LABELS, sample_weight=-SW)
    with pytest.raises(ValueError, match="sample_weight"):
        est.fit(X, LABELS, sample_weight=SW[:10])
    assert not hasattr(est, "network_")


def test_coefs_assigned_before_any_fit_are_trained_from():
    """scikit-learn's estimators take coefs_ and intercepts_ before the first
    fit and partial_fit trains from them (its test_fit's worked example)."""
    rs = np.random.RandomState(4)
    start = [rs.uniform(-0.5, 0.5, (6, 5)), rs.uniform(-0.5, 0.5, (5, 3))]
    start_b = [rs.uniform(-0.5, 0.5, 5), rs.uniform(-0.5, 0.5, 3)]
    ests = []
    for Est in (sk.MLPClassifier, nk.MLPClassifier):
        est = Est(hidden_layer_sizes=(5,), solver="sgd", random_state=0, batch_size=40)
        est.coefs_ = [w.copy() for w in start]
        est.intercepts_ = [b.copy() for b in start_b]
        assert est.coefs_[1].shape == (5, 3)
        # what scikit-learn's partial_fit then reads, as its test_fit assigns it
        est.n_outputs_, est.n_layers_, est.out_activation_ = 3, 3, "softmax"
        est.n_iter_, est.t_, est.best_loss_, est.loss_curve_ = 0, 0, np.inf, []
        est._no_improvement_count, est.n_features_in_ = 0, 6
        est.partial_fit(X, LABELS, classes=np.unique(LABELS))
        ests.append(est)
    theirs, ours = ests
    assert relative(params_of(ours), params_of(theirs)) < 1e-12
    assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-12)
    wrong = nk.MLPClassifier(hidden_layer_sizes=(5,), solver="sgd")
    wrong.coefs_ = [w.copy() for w in start]
    wrong.intercepts_ = [b.copy() for b in start_b]
    wrong.n_features_in_ = 6
    with pytest.raises(ValueError, match="layer sizes"):
        wrong.partial_fit(X, BINARY, classes=["no", "yes"])
    assert wrong.coefs_[0] is not None and "network_" not in wrong.__dict__


# ------------------------------------------------------ loss='poisson'

COUNTS = np.random.RandomState(3).poisson(np.exp(0.5 * X[:, 0] + 0.3 * X[:, 1]))
COUNTS2 = np.c_[COUNTS, np.random.RandomState(4).poisson(np.exp(0.2 * X[:, 2]))]


@pytest.mark.parametrize("y", [COUNTS, COUNTS2], ids=["one output", "two outputs"])
@pytest.mark.parametrize("solver", [dict(solver="sgd", batch_size=32, learning_rate_init=0.01),
                                    dict(solver="adam"), dict(solver="lbfgs", tol=0.0)],
                         ids=["sgd", "adam", "lbfgs"])
def test_poisson_equals_scikit_learn(y, solver):
    params = dict(loss="poisson", hidden_layer_sizes=(8,), random_state=1, max_iter=30, **solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.MLPRegressor(**params).fit(X, y)
        ours = nk.MLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.n_iter_ == theirs.n_iter_
    tol = 1e-6 if solver["solver"] == "lbfgs" else 1e-9
    assert relative(params_of(ours), params_of(theirs)) < tol
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=tol)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=tol)
    with pytest.raises(ValueError, match="log of the predicted rate"):
        ours.to_torch()
