"""nnext.set_num_threads: large products split over threads give the reference's answers."""
import numpy as np
import pytest

import nnext

import reference as ref


@pytest.fixture(autouse=True)
def restore_threads():
    yield
    nnext.set_num_threads(None)


def test_set_and_get():
    nnext.set_num_threads(1)
    assert nnext.get_num_threads() == 1
    nnext.set_num_threads(None)
    assert nnext.get_num_threads() >= 1
    with pytest.raises(ValueError, match="-3"):
        nnext.set_num_threads(-3)
    with pytest.raises(TypeError):
        nnext.set_num_threads(1.5)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 2e-4)])
def test_threaded_products_match_the_reference(dtype, rtol):
    """A layer big enough for the thread pool (256 x 512 x 384 products)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(256, 512))
    y = np.eye(10)[rng.randint(0, 10, 256)]
    results = []
    for threads in (1, 2):
        nnext.set_num_threads(threads)
        net = nnext.Network([512, 384, 10], activation=["relu", "softmax"], dtype=dtype, init="he", seed=3)
        dW, db = net.gradients(X, y, loss="cross_entropy")
        results.append((net.predict(X), dW, db))
        want_dW, want_db = ref.gradients([w.astype(np.float64) for w in net.weights],
                                         [b.astype(np.float64) for b in net.biases],
                                         ["relu", "softmax"], X.astype(dtype).astype(np.float64), y, "cross_entropy")
        for got, want in zip(dW + db, want_dW + want_db):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    (p1, dW1, db1), (p2, dW2, db2) = results
    np.testing.assert_allclose(p1, p2, rtol=rtol, atol=0)
