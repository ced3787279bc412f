"""nnext reproduces the tutorials (TUTORIALS.md): Trask parts 1 and 2, Zhou."""
import numpy as np
import pytest

import reference as R
from nnext import Network

TRASK1_PRINTED_L1 = np.array([[0.00966449], [0.00786506], [0.99358898], [0.99211957]])
TRASK2_PRINTED_L2 = np.array([[0.0026], [0.9967], [0.9970], [0.0039]])


@pytest.fixture(scope="module")
def trask1():
    return R.trask_part1()


@pytest.fixture(scope="module")
def trask2():
    return R.trask_part2()


# --- Trask part 1 -----------------------------------------------------------

def test_trask1_initial_weights_are_syn0():
    net = Network([3, 1], bias=False, seed=1)
    syn0 = R.trask_initial_weights([(3, 1)])[0]
    assert len(net.weights) == 1
    assert net.weights[0].shape == (3, 1)
    np.testing.assert_array_equal(net.weights[0], syn0)
    assert net.biases is None


def test_trask1_last_l1_and_final_syn0(trask1):
    first, last_l1, syn0 = trask1
    net = Network([3, 1], bias=False, seed=1)
    np.testing.assert_allclose(net.predict(R.TRASK_X), first, rtol=1e-12)
    hist = net.fit(R.TRASK_X, R.TRASK_Y1, epochs=9999, lr=1.0, loss="sse")
    assert len(hist.loss) == 9999
    l1 = net.predict(R.TRASK_X)
    assert l1.shape == (4, 1)
    np.testing.assert_allclose(l1, last_l1, rtol=1e-10)
    # ... and that is what the tutorial printed.
    assert np.all(np.abs(l1 - TRASK1_PRINTED_L1) <= 5e-9 + 1e-15)
    net.fit(R.TRASK_X, R.TRASK_Y1, epochs=1, lr=1.0, loss="sse")
    np.testing.assert_allclose(net.weights[0], syn0, rtol=1e-10)


def test_trask1_single_fit_of_10000(trask1):
    _, _, syn0 = trask1
    net = Network([3, 1], bias=False, seed=1)
    hist = net.fit(R.TRASK_X, R.TRASK_Y1, epochs=10000, lr=1.0, loss="sse")
    assert len(hist.loss) == 10000
    np.testing.assert_allclose(net.weights[0], syn0, rtol=1e-10)
    # History: the sse of each epoch's forward pass, before its update.
    syn_init = R.trask_initial_weights([(3, 1)])
    p0 = R.forward(syn_init, None, "sigmoid", R.TRASK_X)[-1]
    assert hist.loss[0] == pytest.approx(0.5 * np.sum((R.TRASK_Y1 - p0) ** 2), rel=1e-12)
    assert hist.loss[-1] < hist.loss[0]


def test_trask1_new_rows_through_trained_net(trask1):
    """seeds/000 feeds new rows through the trained syn0."""
    _, _, syn0 = trask1
    net = Network([3, 1], bias=False, seed=1)
    net.fit(R.TRASK_X, R.TRASK_Y1, epochs=10000, lr=1.0, loss="sse")
    X1 = np.array([[0, 1, 1], [1, 1, 0], [1, 0, 1], [1, 1, 1]])
    want = R.sigmoid(X1 @ syn0)
    np.testing.assert_allclose(net.predict(X1), want, rtol=1e-10)


# --- Trask part 2 -----------------------------------------------------------

def test_trask2_initial_weights():
    net = Network([3, 4, 1], bias=False, seed=1)
    syn0, syn1 = R.trask_initial_weights([(3, 4), (4, 1)])
    assert [w.shape for w in net.weights] == [(3, 4), (4, 1)]
    np.testing.assert_array_equal(net.weights[0], syn0)
    np.testing.assert_array_equal(net.weights[1], syn1)
    assert net.biases is None


def test_trask2_errors_and_final_weights(trask2):
    errors, l2, syn0, syn1 = trask2
    X, y = R.TRASK_X, R.TRASK_Y2
    net = Network([3, 4, 1], bias=False, seed=1)
    for k in range(6):
        err = float(np.mean(np.abs(y - net.predict(X))))
        assert err == pytest.approx(errors[k], rel=1e-10), "Error at iteration %d" % (10000 * k)
        hist = net.fit(X, y, epochs=10000, lr=1.0, loss="sse")
        assert len(hist.loss) == 10000
    np.testing.assert_allclose(net.weights[0], syn0, rtol=1e-10)
    np.testing.assert_allclose(net.weights[1], syn1, rtol=1e-10)
    # Final predictions: those of the final weights, close to the printed l2.
    want = R.forward([syn0, syn1], None, "sigmoid", X)[-1]
    got = net.predict(X)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert np.all(np.abs(got - TRASK2_PRINTED_L2) <= 6e-5)


# --- Victor Zhou --------------------------------------------------------------

def test_zhou_neuron():
    net = Network.from_weights([np.array([[0.0], [1.0]])], [np.array([0.0])])
    out = net.feedforward([2, 3])
    assert isinstance(out, float)
    # sigmoid(0*2 + 1*3 + 0) = sigmoid(3)
    assert out == pytest.approx(0.9525741268224334, rel=1e-14)


def test_zhou_neuron_original_bias_4():
    # Zhou's own Neuron example: weights [0, 1], bias 4, input [2, 3] -> sigmoid(7).
    net = Network.from_weights([np.array([[0.0], [1.0]])], [np.array([4.0])])
    out = net.feedforward(np.array([2, 3]))
    assert isinstance(out, float)
    assert out == pytest.approx(0.9990889488055994, rel=1e-14)


def test_zhou_three_neuron_network():
    W0 = np.array([[0.0, 0.0], [1.0, 1.0]])  # both hidden neurons: weights [0, 1]
    W1 = np.array([[0.0], [1.0]])
    net = Network.from_weights([W0, W1], [np.zeros(2), np.zeros(1)])
    out = net.feedforward(np.array([2, 3]))
    assert isinstance(out, float)
    assert out == pytest.approx(0.7216325609518421, rel=1e-14)
    assert out == pytest.approx(R.ZhouFeedforwardNetwork().feedforward(np.array([2, 3])), rel=1e-14)


def _zhou_net(p):
    W, b = R.zhou_to_layers(p)
    return Network.from_weights(W, b)


def _assert_zhou_params(net, trained):
    Wt, bt = R.zhou_to_layers(trained)
    assert len(net.weights) == 2 and len(net.biases) == 2
    for got, want in zip(list(net.weights) + list(net.biases), Wt + bt):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 3])
def test_zhou_training_matches_scalar_loop(seed):
    p = R.zhou_draw_params(np.random.RandomState(seed))
    trained, lines, losses = R.zhou_train(p)
    net = _zhou_net(p)
    assert net.sizes == [2, 2, 1]
    hist = net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=1000, lr=0.1, loss="mse", batch_size=1)
    assert len(hist.loss) == 1000
    _assert_zhou_params(net, trained)
    zn = R.ZhouNetwork(trained)
    for x in ([-7, -3], [20, 2]):  # Emily, Frank
        assert net.feedforward(np.array(x)) == pytest.approx(
            float(zn.feedforward(np.array(x))), rel=1e-10)
    assert net.feedforward(np.array([-7, -3])) > 0.5
    assert net.feedforward(np.array([20, 2])) < 0.5
    # Zhou's generate_test_data(kg, cm) input works too.
    steve = np.array([182 * 2.20462 - 135, 73 * 0.393701 - 66])
    assert net.feedforward(steve) == pytest.approx(float(zn.feedforward(steve)), rel=1e-10)


@pytest.mark.parametrize("seed", [0, 3])
def test_zhou_verbose_prints_his_lines(seed, capsys):
    p = R.zhou_draw_params(np.random.RandomState(seed))
    trained, lines, losses = R.zhou_train(p)
    net = _zhou_net(p)
    capsys.readouterr()
    net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=1000, lr=0.1, loss="mse", batch_size=1, verbose=10)
    out = capsys.readouterr().out
    assert out.splitlines() == lines
    assert out == "\n".join(lines) + "\n"
    _assert_zhou_params(net, trained)


def test_zhou_history_is_mean_of_per_sample_losses():
    p = R.zhou_draw_params(np.random.RandomState(0))
    W, b = R.zhou_to_layers(p)
    _, _, ref_hist = R.fit(W, b, "sigmoid", R.ZHOU_DATA, R.ZHOU_Y, 50, 0.1, "mse", batch_size=1)
    net = _zhou_net(p)
    hist = net.fit(R.ZHOU_DATA, R.ZHOU_Y, epochs=50, lr=0.1, loss="mse", batch_size=1)
    np.testing.assert_allclose(np.asarray(hist.loss, dtype=float), ref_hist, rtol=1e-10)
