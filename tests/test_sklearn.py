"""nnext.sklearn in scikit-learn's machinery: clone, pickle, Pipeline,
GridSearchCV(n_jobs=2), cross_val_score; labels of any type, partial_fit,
warm_start, dtype, errors; scikit-learn optional."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nnext  # noqa: E402
from conftest import child_env  # noqa: E402
from nnext.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = X_DIGITS / 16.0
NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


def test_import_nnext_does_not_import_sklearn(tmp_path):
    code = "import sys, nnext; nnext.Network([2, 1]); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=child_env(), cwd=tmp_path)
    assert out.stdout.strip() == "False"


def test_missing_sklearn_gives_a_clear_import_error(tmp_path):
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'sklearn' or name.startswith('sklearn.'):\n"
            "            raise ImportError('No module named ' + repr(name))\n"
            "sys.meta_path.insert(0, Block())\n"
            "try:\n"
            "    import nnext.sklearn\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=child_env(), cwd=tmp_path)
    assert "nnext.sklearn needs scikit-learn 1.6 or later" in out.stdout
    assert "pip install 'scikit-learn>=1.6'" in out.stdout


def test_digits_with_string_labels():
    Xtr, Xte, ytr, yte = train_test_split(X_DIGITS, NAMES[Y_DIGITS], random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0,
                        learning_rate_init=0.01).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.93
    assert list(clf.classes_) == sorted(NAMES) and clf.predict(Xte[:3]).dtype.kind == "U"
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(Xte))
    np.testing.assert_allclose(clf.predict_log_proba(Xte), np.log(proba))
    assert isinstance(clf.network_, nnext.Network) and clf.network_.sizes == [64, 32, 10]
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 10 and clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 64 and clf.n_iter_ == 30 and len(clf.loss_curve_) == 30
    assert clf.t_ == 30 * len(Xtr) and clf.best_loss_ == min(clf.loss_curve_)


def test_binary_multilabel_and_multi_output():
    X = X_DIGITS[:400]
    binary = MLPClassifier(hidden_layer_sizes=(10,), max_iter=20, random_state=0)
    binary.fit(X, Y_DIGITS[:400] > 4)
    assert binary.predict_proba(X).shape == (400, 2) and binary.out_activation_ == "logistic"
    assert binary.predict(X).dtype == bool
    Y = np.c_[Y_DIGITS[:400] % 2, Y_DIGITS[:400] > 4]
    multi = MLPClassifier(hidden_layer_sizes=(10,), max_iter=20, random_state=0).fit(X, Y)
    assert multi.predict(X).shape == (400, 2) and multi.predict_proba(X).shape == (400, 2)
    assert multi.score(X, Y) > 0.5
    reg = MLPRegressor(hidden_layer_sizes=(10,), max_iter=50, random_state=0, learning_rate_init=0.01)
    reg.fit(X, np.c_[Y_DIGITS[:400], -Y_DIGITS[:400]] / 9)
    assert reg.predict(X).shape == (400, 2) and reg.score(X, np.c_[Y_DIGITS[:400], -Y_DIGITS[:400]] / 9) > 0.5
    one = MLPRegressor(hidden_layer_sizes=(10,), max_iter=5, random_state=0).fit(X, Y_DIGITS[:400] / 9)
    assert one.predict(X).shape == (400,)


def test_clone_and_pickle():
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=10, random_state=0, dtype="float32")
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "coefs_")
    clf.fit(X_DIGITS, NAMES[Y_DIGITS])
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X_DIGITS), clf.predict_proba(X_DIGITS))
    assert back.coefs_[0].dtype == np.float32 and back.loss_curve_ == clf.loss_curve_
    back.partial_fit(X_DIGITS[:100], NAMES[Y_DIGITS[:100]])  # the optimizer state came along
    assert back.n_iter_ == 1


def test_pipeline_grid_search_and_cross_validation():
    X, y = X_DIGITS[:600], Y_DIGITS[:600]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=15,
                                                         random_state=0, learning_rate_init=0.01))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.7  # scikit-learn's own: 0.77
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1],
                               "mlpclassifier__solver": ["adam", "sgd"]}, cv=2, n_jobs=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"mlpclassifier__alpha", "mlpclassifier__solver"}
    assert grid.score(X, y) > 0.7
    serial = GridSearchCV(pipe, grid.param_grid, cv=2, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"],
                               grid.cv_results_["mean_test_score"])  # deterministic across processes


def test_partial_fit_and_warm_start():
    X, y = X_DIGITS, NAMES[Y_DIGITS]
    clf = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:50], y[:50])
    for lo in range(0, len(X), 300):
        clf.partial_fit(X[lo:lo + 300], y[lo:lo + 300], classes=NAMES)
    assert len(clf.loss_curve_) == 6 and clf.t_ == len(X)
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:5], np.array(["ten"] * 5))
    # warm_start=False: every fit starts afresh from random_state, the same each time
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=4).fit(X, y)
    first = [w.copy() for w in a.coefs_]
    a.fit(X, y)
    assert all(np.array_equal(p, q) for p, q in zip(first, a.coefs_)) and len(a.loss_curve_) == 3
    # warm_start=True continues (curve grows), starting from coefs_ set by hand
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=4, warm_start=True)
    b.fit(X, y)
    b.coefs_ = [np.zeros_like(w) for w in b.coefs_]
    assert not b.network_.weights[0].any()
    b.fit(X, y)
    assert len(b.loss_curve_) == 6 and b.coefs_[0].any()
    with pytest.raises(ValueError, match="same classes"):
        b.fit(X[Y_DIGITS < 5], y[Y_DIGITS < 5])


def test_regressor_partial_fit_and_verbose(capsys):
    reg = MLPRegressor(hidden_layer_sizes=(5,), random_state=0, verbose=True, max_iter=3,
                       solver="sgd", learning_rate="adaptive")
    reg.fit(X_DIGITS, Y_DIGITS / 9)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    reg.partial_fit(X_DIGITS, Y_DIGITS / 9)
    assert reg.n_iter_ == 1 and len(reg.loss_curve_) == 4


@pytest.mark.parametrize("Est,params,exc,words", [
    (MLPClassifier, dict(solver="newton"), ValueError, "solver"),
    (MLPRegressor, dict(loss="huber"), ValueError, "loss"),
    (MLPClassifier, dict(dtype="float16"), ValueError, "dtype"),
    (MLPClassifier, dict(alpha=-1.0), ValueError, "alpha"),
    (MLPClassifier, dict(hidden_layer_sizes=(4, 0)), ValueError, "hidden_layer_sizes"),
    (MLPRegressor, dict(momentum=1.5), ValueError, "momentum"),
    (MLPClassifier, dict(early_stopping=True, validation_fraction=0.001), ValueError,
     "validation set is too small"),
])
def test_bad_parameters_are_named(Est, params, exc, words):
    with pytest.raises(exc, match=words):
        Est(**params).fit(X_DIGITS[:100], Y_DIGITS[:100])


def test_failed_fit_leaves_a_fitted_estimator_unchanged():
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0, warm_start=True)
    clf.fit(X_DIGITS, Y_DIGITS)
    before = [w.copy() for w in clf.coefs_ + clf.intercepts_]
    curve = list(clf.loss_curve_)
    with pytest.raises(ValueError, match="features"):
        clf.fit(X_DIGITS[:, :10], Y_DIGITS)
    with pytest.raises(ValueError):
        clf.fit(np.where(X_DIGITS > 0.5, np.nan, X_DIGITS), Y_DIGITS)
    assert all(np.array_equal(p, q) for p, q in zip(before, clf.coefs_ + clf.intercepts_))
    assert clf.loss_curve_ == curve
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X_DIGITS, Y_DIGITS)


def test_ctrl_c_ends_fit_with_scikit_learns_warning_and_a_usable_estimator():
    import signal
    rs = np.random.RandomState(0)
    X, y = rs.normal(size=(20000, 200)), rs.randint(0, 3, 20000)
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=1000, random_state=0)
    old = signal.signal(signal.SIGALRM, signal.default_int_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            clf.fit(X, y)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert clf.n_iter_ < 1000 and all(np.isfinite(w).all() for w in clf.coefs_)
    assert clf.predict(X[:5]).shape == (5,)
