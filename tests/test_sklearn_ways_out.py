"""The scikit-learn estimators' ways out (issue 16): ONNX and PyTorch export
through the same path as `Network`, and GridSearchCV on a Dask cluster."""
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed")
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from nnext.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def classifier(n_classes):
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=n_classes,
                               random_state=0)
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y), X


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_fitted_classifier_exports_to_onnx(tmp_path, n_classes):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    pytest.importorskip("onnx", reason="onnx is not installed")
    est, X = classifier(n_classes)
    path = est.to_onnx(str(tmp_path / "clf.onnx"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: X.astype(np.float64)})
    proba = est.predict_proba(X)
    want = proba if n_classes > 2 else proba[:, 1:]  # binary: the sigmoid's one output
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-15)


def test_a_fitted_regressor_exports_to_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    X, y = make_regression(n_samples=80, n_features=5, n_targets=2, random_state=1)
    est = MLPRegressor(hidden_layer_sizes=(7,), max_iter=20, random_state=0).fit(X, y)
    with torch.no_grad():
        out = est.to_torch()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, est.predict(X), rtol=1e-12, atol=1e-12)


def test_a_fitted_classifier_exports_its_logits_to_torch():
    """logits=True: the module without the softmax, whose softmax is predict_proba
    (computed here by numpy, not by nnext)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    est, X = classifier(3)
    with torch.no_grad():
        logits = est.to_torch(logits=True)(torch.from_numpy(X)).numpy()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(axis=1, keepdims=True), est.predict_proba(X), rtol=1e-12,
                               atol=1e-15)
    assert not np.allclose(logits.sum(axis=1), 1)  # not probabilities


def test_a_float64_classifier_exports_for_float32_input(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    pytest.importorskip("onnx", reason="onnx is not installed")
    est, X = classifier(3)
    path = est.to_onnx(str(tmp_path / "clf32.onnx"), input_dtype="float32")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    X32 = X.astype(np.float32)
    (out,) = session.run(None, {session.get_inputs()[0].name: X32})
    np.testing.assert_allclose(out, est.predict_proba(X32.astype(np.float64)), rtol=1e-12, atol=1e-15)


def test_unfitted_estimators_refuse_to_export(tmp_path):
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        MLPClassifier().to_onnx(str(tmp_path / "x.onnx"))


def test_grid_search_on_a_dask_cluster_equals_the_local_search():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    joblib = pytest.importorskip("joblib")
    X, y = make_classification(n_samples=150, n_features=6, random_state=2)
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(4,), (8,)]}
    est = MLPClassifier(max_iter=15, random_state=0)
    local = GridSearchCV(est, grid, cv=3).fit(X, y)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X, y)
    assert np.array_equal(local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"])
    assert local.best_params_ == remote.best_params_
    np.testing.assert_array_equal(local.predict_proba(X), remote.predict_proba(X))
