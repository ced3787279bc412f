"""scikit-learn's own estimator checks over nnext.sklearn's estimators."""

import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nnext.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# As scikit-learn's own test suite runs its MLPs (max_iter=100, everything else default).
ESTIMATORS = [MLPClassifier(max_iter=100),
              MLPRegressor(max_iter=100)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
