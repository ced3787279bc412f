"""Checks of the pure-numpy reference itself against the tutorials' printed
numbers (TUTORIALS.md, seeds/) and against finite differences.  No nnext."""
import numpy as np
import pytest

import reference as R

# Trask part 1, the last iteration's l1 as printed by the tutorial.
TRASK1_PRINTED_L1 = np.array([0.00966449, 0.00786506, 0.99358898, 0.99211957])
# Trask part 2, the final l2 as given in TUTORIALS.md (4 decimals).
TRASK2_PRINTED_L2 = np.array([0.0026, 0.9967, 0.9970, 0.0039])


def test_trask_part1_matches_printed_output():
    first, last, syn0 = R.trask_part1()
    assert first.shape == (4, 1) and last.shape == (4, 1)
    assert np.all(np.abs(last.ravel() - TRASK1_PRINTED_L1) <= 5e-9 + 1e-15)
    # The script's first l1 is the untrained network's output.
    syn0_init = R.trask_initial_weights([(3, 1)])[0]
    np.testing.assert_allclose(first, R.sigmoid(R.TRASK_X @ syn0_init), rtol=1e-15)


def test_trask_initial_weights_are_the_legacy_global_generator():
    np.random.seed(1)
    a = 2 * np.random.random((3, 4)) - 1
    b = 2 * np.random.random((4, 1)) - 1
    ra, rb = R.trask_initial_weights([(3, 4), (4, 1)])
    assert np.array_equal(a, ra) and np.array_equal(b, rb)


def test_trask_part2_matches_tutorial():
    errors, l2, syn0, syn1 = R.trask_part2()
    assert len(errors) == 6
    assert np.all(np.abs(l2.ravel() - TRASK2_PRINTED_L2) <= 5e-5 + 1e-12)
    # The printed errors decrease, starting near 0.5 (the untrained network).
    assert 0.49 < errors[0] < 0.5
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 0.004


def test_zhou_feedforward_examples():
    neuron = R.ZhouNeuron(np.array([0, 1]), 0)
    assert neuron.feedforward(np.array([2, 3])) == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-15)
    # Zhou's original neuron example (bias 4): sigmoid(7).
    assert R.ZhouNeuron(np.array([0, 1]), 4).feedforward(np.array([2, 3])) == pytest.approx(
        0.9990889488055994, rel=1e-15)
    assert R.ZhouFeedforwardNetwork().feedforward(np.array([2, 3])) == pytest.approx(
        0.7216325609518421, rel=1e-15)


@pytest.mark.parametrize("seed", [0, 3])
def test_zhou_scalar_loop_equals_general_reference(seed):
    p = R.zhou_draw_params(np.random.RandomState(seed))
    trained, lines, losses = R.zhou_train(p)
    assert len(lines) == 100 and lines[0].startswith("Epoch 0 loss: ")
    assert lines[-1].startswith("Epoch 990 loss: ")
    W, b = R.zhou_to_layers(p)
    W2, b2, hist = R.fit(W, b, "sigmoid", R.ZHOU_DATA, R.ZHOU_Y, 1000, 0.1, "mse",
                         batch_size=1)
    Wt, bt = R.zhou_to_layers(trained)
    for got, want in zip(W2 + b2, Wt + bt):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # The network learned the tutorial's task.
    net = R.ZhouNetwork(trained)
    assert net.feedforward(np.array([-7, -3])) > 0.5  # Emily
    assert net.feedforward(np.array([20, 2])) < 0.5   # Frank


def test_trask_part1_is_sse_gradient_descent():
    syn0 = R.trask_initial_weights([(3, 1)])
    W, _, hist = R.fit(syn0, None, "sigmoid", R.TRASK_X, R.TRASK_Y1, 10000, 1.0, "sse")
    _, _, want = R.trask_part1()
    np.testing.assert_allclose(W[0], want, rtol=1e-12)
    assert len(hist) == 10000


CASES = [
    ([4, 5, 3], ["tanh", "softmax"], "cross_entropy"),
    ([4, 5, 2], ["elu", "sigmoid"], "bce"),
    ([4, 6, 5, 2], ["relu", "leaky_relu", "softmax"], "mse"),
    ([3, 4, 1], ["sigmoid", "linear"], "sse"),
    ([3, 2], ["linear"], "mse"),
]


@pytest.mark.parametrize("sizes,acts,loss", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_reference_gradients_match_finite_differences(sizes, acts, loss, bias):
    rng = np.random.RandomState(7)
    Ws = [rng.uniform(-1, 1, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.uniform(-0.5, 0.5, b) for b in sizes[1:]] if bias else None
    X = rng.normal(size=(6, sizes[0]))
    k = sizes[-1]
    if loss == "cross_entropy":
        y = np.eye(k)[rng.randint(0, k, 6)]
    elif loss == "bce":
        y = rng.randint(0, 2, (6, k)).astype(float)
    else:
        y = rng.normal(size=(6, k))
    dW, db = R.gradients(Ws, bs, acts, X, y, loss)
    fW, fb = R.finite_difference_gradients(Ws, bs, acts, X, y, loss)
    for g, f in zip(dW + (db or []), fW + (fb or [])):
        np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-8)


def test_reference_integer_labels_equal_one_hot():
    rng = np.random.RandomState(1)
    Ws = [rng.normal(size=(3, 4))]
    bs = [rng.normal(size=4)]
    X = rng.normal(size=(5, 3))
    labels = np.array([0, 3, 1, 1, 2])
    a = R.loss_and_gradients(Ws, bs, ["softmax"], X, labels, "cross_entropy")
    b = R.loss_and_gradients(Ws, bs, ["softmax"], X, np.eye(4)[labels], "cross_entropy")
    assert a[0] == b[0]
    for u, v in zip(a[1] + a[2], b[1] + b[2]):
        assert np.array_equal(u, v)
