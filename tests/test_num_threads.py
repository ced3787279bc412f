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


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", ("maxout", 2)])
def test_threaded_elementwise_passes_match_the_reference(hidden):
    """Batches of 512 rows through 192- and 150-wide layers: every activation
    pass (forward and backward) and every bias sum of plain SGD has at least
    NN_PARALLEL_ELEMS (65,536) elements, so it is split over the threads (150
    columns: a last block of bias sums narrower than 16).
    Training agrees with the numpy reference, and the activation passes and
    bias sums give the same bits on one thread as on two."""
    rng = np.random.RandomState(5)
    sizes = [48, 192, 150, 10]
    X = rng.normal(size=(1024, sizes[0]))
    y = rng.randint(0, 10, 1024)
    acts = [hidden, hidden, "softmax"]
    k = 2 if isinstance(hidden, tuple) else 1
    W0 = [rng.normal(scale=0.15, size=(sizes[0], sizes[1] * k)),
          rng.normal(scale=0.15, size=(sizes[1], sizes[2] * k)),
          rng.normal(scale=0.15, size=(sizes[2], sizes[3]))]
    b0 = [rng.normal(scale=0.1, size=w.shape[1]) for w in W0]
    want_W, want_b, want_loss = ref.fit(W0, b0, acts, X, y, epochs=2, lr=0.05,
                                        loss="cross_entropy", batch_size=512)
    results = []
    for threads in (1, 2):
        nnext.set_num_threads(threads)
        net = nnext.Network.from_weights(W0, b0, activation=acts)
        history = net.fit(X, y, epochs=2, lr=0.05, loss="cross_entropy", batch_size=512)
        for got, want in zip(net.weights + net.biases, want_W + want_b):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
        np.testing.assert_allclose(history.loss, want_loss, rtol=1e-10)
        results.append([p.copy() for p in net.weights + net.biases])
        # the passes alone, bit for bit: a forward pass and the gradients at the trained weights
        results[-1] += [net.predict(X)] + [g.copy() for g in net.gradients(X, y, loss="cross_entropy")[1]]
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
