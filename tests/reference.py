"""Pure-numpy reference for the nnext test suite.

Written independently of nnext (it must never import it).  Two parts:

* the tutorials' own scripts, as functions (Trask parts 1 and 2, Victor Zhou's
  scalar network), computing exactly what /work/shared/TUTORIALS.md describes;
* a general multilayer-perceptron reference: forward pass, losses, gradients by
  backpropagation and a plain ``fit`` (SGD, SGD with momentum, Adam).

Layout: ``weights[i]`` has shape (n_in, n_out), ``biases[i]`` shape (n_out,),
and layer i computes ``act_i(prev @ weights[i] + biases[i])``.
"""

import numpy as np

# ---------------------------------------------------------------------------
# The tutorials, literally
# ---------------------------------------------------------------------------

TRASK_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
TRASK_Y1 = np.array([[0, 0, 1, 1]]).T
TRASK_Y2 = np.array([[0], [1], [1], [0]])


def _nonlin(x, deriv=False):
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))


def trask_part1(iterations=10000):
    """Trask part 1.  Returns (l1 of the first iteration, l1 of the last
    iteration, trained syn0).  Each l1 is computed before that iteration's
    update, exactly as in the script."""
    X = TRASK_X
    y = TRASK_Y1
    rng = np.random.RandomState(1)  # == np.random.seed(1); np.random.random
    syn0 = 2 * rng.random_sample((3, 1)) - 1
    first = None
    l1 = None
    for it in range(iterations):
        l0 = X
        l1 = _nonlin(np.dot(l0, syn0))
        if it == 0:
            first = l1.copy()
        l1_error = y - l1
        l1_delta = l1_error * _nonlin(l1, True)
        syn0 += np.dot(l0.T, l1_delta)
    return first, l1, syn0


def trask_initial_weights(shapes, seed=1):
    """Trask's ``np.random.seed(seed); 2*np.random.random(shape) - 1`` for each
    shape in turn, from one generator."""
    rng = np.random.RandomState(seed)
    return [2 * rng.random_sample(s) - 1 for s in shapes]


def trask_part2(iterations=60000, report_every=10000):
    """Trask part 2.  Returns (errors, l2, syn0, syn1): ``errors`` are the
    values printed after ``Error:`` (mean |y - l2| of that iteration's forward
    pass, at iterations 0, 10000, ...), ``l2`` the last iteration's forward
    output (before its update)."""
    X = TRASK_X
    y = TRASK_Y2
    rng = np.random.RandomState(1)
    syn0 = 2 * rng.random_sample((3, 4)) - 1
    syn1 = 2 * rng.random_sample((4, 1)) - 1
    errors = []
    l2 = None
    for j in range(iterations):
        l0 = X
        l1 = _nonlin(np.dot(l0, syn0))
        l2 = _nonlin(np.dot(l1, syn1))
        l2_error = y - l2
        if (j % report_every) == 0:
            errors.append(float(np.mean(np.abs(l2_error))))
        l2_delta = l2_error * _nonlin(l2, deriv=True)
        l1_error = l2_delta.dot(syn1.T)
        l1_delta = l1_error * _nonlin(l1, deriv=True)
        syn1 += l1.T.dot(l2_delta)
        syn0 += l0.T.dot(l1_delta)
    return errors, l2, syn0, syn1


# Victor Zhou (seeds/002) ----------------------------------------------------

ZHOU_DATA = np.array([
    [-2, -1],   # Alice
    [25, 6],    # Bob
    [17, 4],    # Charlie
    [-15, -6],  # Diana
])
ZHOU_Y = np.array([1, 0, 0, 1])


def zhou_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def zhou_deriv_sigmoid(x):
    fx = zhou_sigmoid(x)
    return fx * (1 - fx)


def zhou_mse_loss(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean()


class ZhouNeuron:
    def __init__(self, weights, bias):
        self.weights = weights
        self.bias = bias

    def feedforward(self, inputs):
        total = np.dot(self.weights, inputs) + self.bias
        return zhou_sigmoid(total)


class ZhouFeedforwardNetwork:
    """The 2-2-1 network whose neurons all have weights [0, 1] and bias 0."""

    def __init__(self):
        weights = np.array([0, 1])
        bias = 0
        self.h1 = ZhouNeuron(weights, bias)
        self.h2 = ZhouNeuron(weights, bias)
        self.o1 = ZhouNeuron(weights, bias)

    def feedforward(self, x):
        out_h1 = self.h1.feedforward(x)
        out_h2 = self.h2.feedforward(x)
        return self.o1.feedforward(np.array([out_h1, out_h2]))


ZHOU_PARAM_NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3")


def zhou_draw_params(rng):
    """Zhou's ``np.random.normal()`` draws, in the order w1..w6, b1..b3."""
    return {name: float(rng.normal()) for name in ZHOU_PARAM_NAMES}


class ZhouNetwork:
    """Zhou's OurNeuralNetwork with the parameters given instead of drawn."""

    def __init__(self, params):
        for name in ZHOU_PARAM_NAMES:
            setattr(self, name, float(params[name]))

    def params(self):
        return {name: float(getattr(self, name)) for name in ZHOU_PARAM_NAMES}

    def feedforward(self, x):
        h1 = zhou_sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = zhou_sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        o1 = zhou_sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)
        return o1

    def train(self, data, all_y_trues, learn_rate=0.1, epochs=1000):
        """His loop.  Returns the printed lines and the (epoch, loss) pairs."""
        lines = []
        losses = []
        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues):
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = zhou_sigmoid(sum_h1)

                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = zhou_sigmoid(sum_h2)

                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                o1 = zhou_sigmoid(sum_o1)
                y_pred = o1

                d_L_d_ypred = -2 * (y_true - y_pred)

                d_ypred_d_w5 = h1 * zhou_deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * zhou_deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = zhou_deriv_sigmoid(sum_o1)

                d_ypred_d_h1 = self.w5 * zhou_deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * zhou_deriv_sigmoid(sum_o1)

                d_h1_d_w1 = x[0] * zhou_deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * zhou_deriv_sigmoid(sum_h1)
                d_h1_d_b1 = zhou_deriv_sigmoid(sum_h1)

                d_h2_d_w3 = x[0] * zhou_deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * zhou_deriv_sigmoid(sum_h2)
                d_h2_d_b2 = zhou_deriv_sigmoid(sum_h2)

                self.w1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_b1

                self.w3 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_b2

                self.w5 -= learn_rate * d_L_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_L_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_L_d_ypred * d_ypred_d_b3

            if epoch % 10 == 0:
                y_preds = np.apply_along_axis(self.feedforward, 1, data)
                loss = zhou_mse_loss(all_y_trues, y_preds)
                losses.append((epoch, float(loss)))
                lines.append("Epoch %d loss: %.3f" % (epoch, loss))
        return lines, losses


def zhou_train(params, data=ZHOU_DATA, all_y_trues=ZHOU_Y, learn_rate=0.1,
               epochs=1000):
    """Runs Zhou's training from ``params``; returns (trained params, printed
    lines, (epoch, loss) pairs)."""
    net = ZhouNetwork(params)
    lines, losses = net.train(data, all_y_trues, learn_rate, epochs)
    return net.params(), lines, losses


def zhou_to_layers(p):
    """Zhou's scalars as nnext layers: ([W0, W1], [b0, b1])."""
    W0 = np.array([[p["w1"], p["w3"]], [p["w2"], p["w4"]]])
    b0 = np.array([p["b1"], p["b2"]])
    W1 = np.array([[p["w5"]], [p["w6"]]])
    b1 = np.array([p["b3"]])
    return [W0, W1], [b0, b1]


# ---------------------------------------------------------------------------
# General MLP reference
# ---------------------------------------------------------------------------

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear", "softmax")
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear")
LOSSES = ("mse", "sse", "bce", "cross_entropy")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def activate(name, z):
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.maximum(0.01 * z, z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "linear":
        return z.copy()
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError("unknown activation %r" % (name,))


def activation_backward(name, z, a, da):
    """dL/dz from dL/da for the activation a = act(z)."""
    if name == "sigmoid":
        return da * a * (1.0 - a)
    if name == "tanh":
        return da * (1.0 - a * a)
    if name == "relu":
        return da * (z > 0)
    if name == "leaky_relu":
        return da * np.where(z > 0, 1.0, 0.01)
    if name == "elu":
        return da * np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))
    if name == "linear":
        return da.copy()
    if name == "softmax":
        return a * (da - np.sum(da * a, axis=1, keepdims=True))
    raise ValueError("unknown activation %r" % (name,))


def expand_activations(activation, n_layers):
    if isinstance(activation, str):
        return [activation] * n_layers
    acts = list(activation)
    assert len(acts) == n_layers
    return acts


def prepare_targets(y, n_out, loss):
    """Targets as a float (n, n_out) array.  Integer labels (n,) become one-hot
    for cross_entropy; a 1-D y of a one-output network becomes a column."""
    y = np.asarray(y)
    if loss == "cross_entropy" and y.ndim == 1 and n_out > 1:
        Y = np.zeros((y.shape[0], n_out))
        Y[np.arange(y.shape[0]), y.astype(np.int64)] = 1.0
        return Y
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y.reshape(-1, 1) if n_out == 1 else y.reshape(1, -1)
    return y


def forward(weights, biases, activation, X):
    """Returns [l0, l1, ..., lL] with l0 = X (as float64)."""
    acts = expand_activations(activation, len(weights))
    a = np.asarray(X, dtype=np.float64)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    outs = [a]
    for i, W in enumerate(weights):
        z = a @ np.asarray(W, dtype=np.float64)
        if biases is not None:
            z = z + np.asarray(biases[i], dtype=np.float64)
        a = activate(acts[i], z)
        outs.append(a)
    return outs


def _forward_with_z(weights, biases, acts, X):
    a = X
    zs, outs = [], [X]
    for i, W in enumerate(weights):
        z = a @ W
        if biases is not None:
            z = z + biases[i]
        a = activate(acts[i], z)
        zs.append(z)
        outs.append(a)
    return zs, outs


def loss_value(loss, p, Y):
    n, k = p.shape
    if loss == "mse":
        return float(np.mean((Y - p) ** 2))
    if loss == "sse":
        return float(0.5 * np.sum((Y - p) ** 2))
    if loss == "bce":
        return float(-np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p)))
    if loss == "cross_entropy":
        return float(-np.sum(Y * np.log(p)) / n)
    raise ValueError("unknown loss %r" % (loss,))


def loss_grad(loss, p, Y):
    """dL/dp."""
    n, k = p.shape
    if loss == "mse":
        return 2.0 * (p - Y) / (n * k)
    if loss == "sse":
        return p - Y
    if loss == "bce":
        return -(Y / p - (1 - Y) / (1 - p)) / (n * k)
    if loss == "cross_entropy":
        return -(Y / p) / n
    raise ValueError("unknown loss %r" % (loss,))


def loss_and_gradients(weights, biases, activation, X, y, loss):
    """Returns (loss value, dW list, db list or None), all float64."""
    weights = [np.asarray(W, dtype=np.float64) for W in weights]
    if biases is not None:
        biases = [np.asarray(b, dtype=np.float64) for b in biases]
    acts = expand_activations(activation, len(weights))
    X = np.asarray(X, dtype=np.float64)
    Y = prepare_targets(y, weights[-1].shape[1], loss)
    zs, outs = _forward_with_z(weights, biases, acts, X)
    p = outs[-1]
    value = loss_value(loss, p, Y)
    n, k = p.shape
    # The output delta dL/dz, in the numerically direct form where there is one.
    if loss == "bce" and acts[-1] == "sigmoid":
        delta = (p - Y) / (n * k)
    elif loss == "cross_entropy" and acts[-1] == "softmax":
        delta = (p - Y) / n
    else:
        delta = activation_backward(acts[-1], zs[-1], p, loss_grad(loss, p, Y))
    L = len(weights)
    dW = [None] * L
    db = [None] * L if biases is not None else None
    for i in range(L - 1, -1, -1):
        dW[i] = outs[i].T @ delta
        if db is not None:
            db[i] = delta.sum(axis=0)
        if i > 0:
            da = delta @ weights[i].T
            delta = activation_backward(acts[i - 1], zs[i - 1], outs[i], da)
    return value, dW, db


def gradients(weights, biases, activation, X, y, loss):
    _, dW, db = loss_and_gradients(weights, biases, activation, X, y, loss)
    return dW, db


def loss_of(weights, biases, activation, X, y, loss):
    acts = expand_activations(activation, len(weights))
    X = np.asarray(X, dtype=np.float64)
    p = forward(weights, biases, acts, X)[-1]
    Y = prepare_targets(y, p.shape[1], loss)
    return loss_value(loss, p, Y)


def finite_difference_gradients(weights, biases, activation, X, y, loss, h=1e-6):
    """Central differences of ``loss_of`` for every parameter."""
    weights = [np.array(W, dtype=np.float64) for W in weights]
    biases = None if biases is None else [np.array(b, dtype=np.float64) for b in biases]

    def f():
        return loss_of(weights, biases, activation, X, y, loss)

    def fd(arr):
        g = np.zeros_like(arr)
        it = np.nditer(arr, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            old = arr[idx]
            arr[idx] = old + h
            fp = f()
            arr[idx] = old - h
            fm = f()
            arr[idx] = old
            g[idx] = (fp - fm) / (2 * h)
        return g

    dW = [fd(W) for W in weights]
    db = None if biases is None else [fd(b) for b in biases]
    return dW, db


def fit(weights, biases, activation, X, y, epochs, lr, loss="mse", batch_size=None,
        optimizer="sgd", momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """Reference training (float64, no shuffling).  Returns (weights, biases,
    history) where history[e] is the mean of epoch e's batch losses, each
    computed by the forward pass before that batch's update."""
    weights = [np.array(W, dtype=np.float64) for W in weights]
    biases = None if biases is None else [np.array(b, dtype=np.float64) for b in biases]
    acts = expand_activations(activation, len(weights))
    X = np.asarray(X, dtype=np.float64)
    Y = prepare_targets(y, weights[-1].shape[1], loss)
    n = X.shape[0]
    bs = n if batch_size is None else int(batch_size)
    params = list(weights) + (list(biases) if biases is not None else [])
    state1 = [np.zeros_like(p) for p in params]
    state2 = [np.zeros_like(p) for p in params]
    t = 0
    history = []
    for _ in range(epochs):
        batch_losses = []
        for start in range(0, n, bs):
            Xb = X[start:start + bs]
            Yb = Y[start:start + bs]
            value, dW, db = loss_and_gradients(weights, biases, acts, Xb, Yb, loss)
            batch_losses.append(value)
            grads = list(dW) + (list(db) if db is not None else [])
            t += 1
            for j, (p, g) in enumerate(zip(params, grads)):
                if optimizer == "sgd":
                    if momentum:
                        state1[j] = momentum * state1[j] - lr * g
                        p += state1[j]
                    else:
                        p -= lr * g
                elif optimizer == "adam":
                    state1[j] = beta1 * state1[j] + (1 - beta1) * g
                    state2[j] = beta2 * state2[j] + (1 - beta2) * g * g
                    mhat = state1[j] / (1 - beta1 ** t)
                    vhat = state2[j] / (1 - beta2 ** t)
                    p -= lr * mhat / (np.sqrt(vhat) + eps)
                else:
                    raise ValueError("unknown optimizer %r" % (optimizer,))
        history.append(float(np.mean(batch_losses)))
    return weights, biases, history
