"""The tutorials' own numpy code, written out once: imported by
``python -m nnext`` (nnext.tutorials), used by the test suite as its
reference for the tutorials, and shown by the notebooks.  It imports only
numpy and computes nothing with nnext.

- Trask, "A Neural Network in 11 lines of Python", part 1 and part 2.
- Victor Zhou, "Machine Learning for Beginners: An Introduction to Neural Networks".

The scripts run as written, with two changes for reuse: each is a function
that returns what it prints (and what a comparison needs), and Zhou's
unseeded ``np.random.normal()`` draws come from a generator you pass in.
"""

import numpy as np

__all__ = ["TRASK_X", "TRASK_Y1", "TRASK_Y2", "nonlin", "trask_part1_numpy", "trask_part2_numpy",
           "ZHOU_DATA", "ZHOU_Y", "ZHOU_NAMES", "sigmoid", "deriv_sigmoid", "mse_loss", "Neuron",
           "ZhouFeedforwardNetwork", "OurNeuralNetwork", "generate_test_data"]

# Trask's data: three input columns (the third always 1, a bias in disguise).
TRASK_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
TRASK_Y1 = np.array([[0, 0, 1, 1]]).T  # part 1: the output copies the first column
TRASK_Y2 = np.array([[0, 1, 1, 0]]).T  # part 2: XOR of the first two columns


# ------------------------------------------------------------- Trask, part 1

def nonlin(x, deriv=False):
    """Trask's sigmoid; with deriv=True, its slope given the sigmoid's output."""
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def trask_part1_numpy(iterations=10000):
    """The part-1 script.  Returns (l1 at the first iteration, l1 at the last, syn0);
    each l1 is that iteration's forward pass, before its update."""
    X, y = TRASK_X, TRASK_Y1
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 1)) - 1
    for it in range(iterations):
        l0 = X
        l1 = nonlin(np.dot(l0, syn0))
        if it == 0:
            l1_first = l1
        l1_error = y - l1
        l1_delta = l1_error * nonlin(l1, True)
        syn0 += np.dot(l0.T, l1_delta)
    return l1_first, l1, syn0


# ------------------------------------------------------------- Trask, part 2

def trask_part2_numpy(iterations=60000, report_every=10000, losses=None):
    """The part-2 script.  Returns (the printed Error values, the last l2, syn0, syn1):
    each Error is mean |y - l2| of that iteration's forward pass, at iterations
    0, report_every, ...; l2 is the last iteration's forward pass.  With a list
    `losses`, the loss 1/2 sum (y - l2)^2 of every iteration is appended to it."""
    X, y = TRASK_X, TRASK_Y2
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, 4)) - 1
    syn1 = 2 * np.random.random((4, 1)) - 1
    errors = []
    for j in range(iterations):
        l0 = X
        l1 = nonlin(np.dot(l0, syn0))
        l2 = nonlin(np.dot(l1, syn1))
        l2_error = y - l2
        if losses is not None:
            losses.append(0.5 * np.sum(l2_error ** 2))  # (added)
        if (j % report_every) == 0:
            errors.append(float(np.mean(np.abs(l2_error))))
        l2_delta = l2_error * nonlin(l2, deriv=True)
        l1_error = l2_delta.dot(syn1.T)
        l1_delta = l1_error * nonlin(l1, deriv=True)
        syn1 += l1.T.dot(l2_delta)
        syn0 += l0.T.dot(l1_delta)
    return errors, l2, syn0, syn1


# ------------------------------------------------------------------- Zhou

# Zhou's data: weight - 135 lb, height - 66 in; 1 = female.
ZHOU_NAMES = ["Alice", "Bob", "Charlie", "Diana"]
ZHOU_DATA = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]])
ZHOU_Y = np.array([1, 0, 0, 1])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    fx = sigmoid(x)
    return fx * (1 - fx)


def mse_loss(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean()


class Neuron:
    """Zhou's single neuron."""

    def __init__(self, weights, bias):
        self.weights = weights
        self.bias = bias

    def feedforward(self, inputs):
        total = np.dot(self.weights, inputs) + self.bias
        return sigmoid(total)


class ZhouFeedforwardNetwork:
    """Zhou's 2-2-1 network of Neurons, all with weights [0, 1] and bias 0."""

    def __init__(self):
        weights = np.array([0, 1])
        bias = 0
        self.h1 = Neuron(weights, bias)
        self.h2 = Neuron(weights, bias)
        self.o1 = Neuron(weights, bias)

    def feedforward(self, x):
        out_h1 = self.h1.feedforward(x)
        out_h2 = self.h2.feedforward(x)
        return self.o1.feedforward(np.array([out_h1, out_h2]))


class OurNeuralNetwork:
    """Zhou's trainable 2-2-1 network, his scalar code.  Its nine parameters are
    drawn by ``rng.normal()`` in his order (w1..w6, b1..b3), or given as a dict."""

    PARAM_NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3")

    def __init__(self, rng=None, params=None):
        if params is None:
            params = {name: float(rng.normal()) for name in self.PARAM_NAMES}
        for name in self.PARAM_NAMES:
            setattr(self, name, float(params[name]))

    def params(self):
        """The nine parameters by name."""
        return {name: float(getattr(self, name)) for name in self.PARAM_NAMES}

    def as_layers(self):
        """(weights, biases) in nnext's layout: weights[i] is (n_in, n_out)."""
        W0 = np.array([[self.w1, self.w3], [self.w2, self.w4]])
        W1 = np.array([[self.w5], [self.w6]])
        return [W0, W1], [np.array([self.b1, self.b2]), np.array([self.b3])]

    def feedforward(self, x):
        h1 = sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        o1 = sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)
        return o1

    def train(self, data, all_y_trues, learn_rate=0.1, epochs=1000, every=10, out=None):
        """His loop; returns the (epoch, loss) pairs he prints every `every`
        epochs as ``"Epoch %d loss: %.3f"`` (through `out`, e.g. print, when given)."""
        printed = []
        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues):
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = sigmoid(sum_h1)
                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = sigmoid(sum_h2)
                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                o1 = sigmoid(sum_o1)
                y_pred = o1

                d_L_d_ypred = -2 * (y_true - y_pred)
                # Neuron o1
                d_ypred_d_w5 = h1 * deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = deriv_sigmoid(sum_o1)
                d_ypred_d_h1 = self.w5 * deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * deriv_sigmoid(sum_o1)
                # Neuron h1
                d_h1_d_w1 = x[0] * deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * deriv_sigmoid(sum_h1)
                d_h1_d_b1 = deriv_sigmoid(sum_h1)
                # Neuron h2
                d_h2_d_w3 = x[0] * deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * deriv_sigmoid(sum_h2)
                d_h2_d_b2 = deriv_sigmoid(sum_h2)

                self.w1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_b1
                self.w3 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_b2
                self.w5 -= learn_rate * d_L_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_L_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_L_d_ypred * d_ypred_d_b3

            if epoch % every == 0:
                y_preds = np.apply_along_axis(self.feedforward, 1, data)
                loss = mse_loss(all_y_trues, y_preds)
                if out is not None:
                    out("Epoch %d loss: %.3f" % (epoch, loss))
                printed.append((epoch, float(loss)))
        return printed


def generate_test_data(kg, cm):
    """Metric weight and height -> Zhou's shifted inputs (lb - 135, in - 66)."""
    lbs = kg * 2.20462
    inch = cm * 0.393701
    return np.array([lbs - 135, inch - 66])
