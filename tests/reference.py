"""Pure-numpy reference for the nnext test suite.

It computes nothing with nnext.  Two parts:

* the tutorials' own scripts (Trask parts 1 and 2, Victor Zhou's scalar
  network), computing exactly what shared/TUTORIALS.md describes: their one
  copy is the numpy-only module nnext.tutorial_scripts, imported here;
* a general multilayer-perceptron reference: forward pass, losses, gradients by
  backpropagation and a plain ``fit`` (SGD, SGD with momentum, Adam).

Layout: ``weights[i]`` has shape (n_in, n_out), ``biases[i]`` shape (n_out,),
and layer i computes ``act_i(prev @ weights[i] + biases[i])``.  An activation
is a name or a (name, parameter) pair: ("leaky_relu", slope), ("elu", alpha),
("maxout", k) (n_out = units * k; unit j the max of columns j*k .. j*k+k-1,
numpy's argmax: the first on ties).
"""

import numpy as np

# ---------------------------------------------------------------------------
# The tutorials: their own numpy code, whose one copy is
# nnext.tutorial_scripts (numpy only; it computes nothing with nnext)
# ---------------------------------------------------------------------------

from nnext.tutorial_scripts import (TRASK_X, TRASK_Y1, TRASK_Y2, ZHOU_DATA, ZHOU_Y,  # noqa: E402,F401
                                    Neuron as ZhouNeuron, OurNeuralNetwork,
                                    ZhouFeedforwardNetwork, trask_part1_numpy as trask_part1,
                                    trask_part2_numpy as trask_part2)

ZHOU_PARAM_NAMES = OurNeuralNetwork.PARAM_NAMES


def trask_initial_weights(shapes, seed=1):
    """Trask's ``np.random.seed(seed); 2*np.random.random(shape) - 1`` for each
    shape in turn, from one generator."""
    rng = np.random.RandomState(seed)
    return [2 * rng.random_sample(s) - 1 for s in shapes]


def zhou_draw_params(rng):
    """Zhou's ``np.random.normal()`` draws, in the order w1..w6, b1..b3."""
    return OurNeuralNetwork(rng).params()


def ZhouNetwork(params):
    """Zhou's OurNeuralNetwork with the parameters given instead of drawn."""
    return OurNeuralNetwork(params=params)


def zhou_train(params, data=ZHOU_DATA, all_y_trues=ZHOU_Y, learn_rate=0.1, epochs=1000):
    """Runs Zhou's training from ``params``; returns (trained params, printed
    lines, (epoch, loss) pairs)."""
    net = ZhouNetwork(params)
    losses = net.train(data, all_y_trues, learn_rate, epochs)
    lines = ["Epoch %d loss: %.3f" % (epoch, loss) for epoch, loss in losses]
    return net.params(), lines, losses


def zhou_to_layers(p):
    """Zhou's scalars as nnext layers: ([W0, W1], [b0, b1])."""
    return OurNeuralNetwork(params=p).as_layers()


# ---------------------------------------------------------------------------
# General MLP reference
# ---------------------------------------------------------------------------

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear", "softmax")
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "linear")
#: Activations with a parameter other than the default (hidden layers).
PARAM_ACTIVATIONS = (("leaky_relu", 0.1), ("leaky_relu", 0.0), ("elu", 0.5), ("elu", 2.0),
                     ("maxout", 1), ("maxout", 2), ("maxout", 3))
#: The defaults of the activations' parameters.
DEFAULT_PARAMS = {"leaky_relu": 0.01, "elu": 1.0, "maxout": 2}


def split(spec):
    """An activation as (name, parameter): a name alone has its default (None
    for the activations without one)."""
    if isinstance(spec, str):
        return spec, DEFAULT_PARAMS.get(spec)
    name, param = spec
    return name, param
LOSSES = ("mse", "sse", "bce", "cross_entropy")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def activate(spec, z):
    name, param = split(spec)
    if name == "maxout":  # (n, m*k) -> (n, m)
        return z.reshape(z.shape[0], -1, param).max(axis=2)
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, param * z)
    if name == "elu":
        return np.where(z > 0, z, param * np.expm1(np.minimum(z, 0.0)))
    if name == "linear":
        return z.copy()
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError("unknown activation %r" % (name,))


def activation_backward(spec, z, a, da):
    """dL/dz from dL/da for the activation a = act(z)."""
    name, param = split(spec)
    if name == "maxout":  # da (n, m) to the first largest of each unit's k pieces
        n, m = da.shape
        pick = z.reshape(n, m, param).argmax(axis=2)
        dz = np.zeros((n, m, param))
        np.put_along_axis(dz, pick[:, :, None], da[:, :, None], axis=2)
        return dz.reshape(n, m * param)
    if name == "sigmoid":
        return da * a * (1.0 - a)
    if name == "tanh":
        return da * (1.0 - a * a)
    if name == "relu":
        return da * (z > 0)
    if name == "leaky_relu":
        return da * np.where(z > 0, 1.0, param)
    if name == "elu":
        return da * np.where(z > 0, 1.0, param * np.exp(np.minimum(z, 0.0)))
    if name == "linear":
        return da.copy()
    if name == "softmax":
        return a * (da - np.sum(da * a, axis=1, keepdims=True))
    raise ValueError("unknown activation %r" % (name,))


def expand_activations(activation, n_layers):
    if isinstance(activation, str) or (isinstance(activation, tuple) and len(activation) == 2
                                       and not isinstance(activation[1], str)):
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
    if loss == "bce" and split(acts[-1])[0] == "sigmoid":
        delta = (p - Y) / (n * k)
    elif loss == "cross_entropy" and split(acts[-1])[0] == "softmax":
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


def regularisation(weights, l2=0.0, l1=0.0):
    """The penalty l2/2 sum W^2 + l1 sum |W| over the weight matrices (not the
    biases) and its gradient with respect to each: (value, [dW])."""
    value = sum(0.5 * l2 * np.sum(W * W) + l1 * np.sum(np.abs(W)) for W in weights)
    return value, [l2 * W + l1 * np.sign(W) for W in weights]


def fit(weights, biases, activation, X, y, epochs, lr, loss="mse", batch_size=None,
        optimizer="sgd", momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8, l2=0.0, l1=0.0,
        nesterov=False, lrs=None):
    """Reference training (float64, no shuffling).  Returns (weights, biases,
    history) where history[e] is the mean of epoch e's batch losses, each
    computed by the forward pass before that batch's update, plus the
    regularisation l2/2 sum W^2 + l1 sum |W| at that moment (whose gradient
    joins the weights').  lrs: each epoch's learning rate (default lr)."""
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
    for epoch in range(epochs):
        rate = lr if lrs is None else lrs[epoch]
        batch_losses = []
        for start in range(0, n, bs):
            Xb = X[start:start + bs]
            Yb = Y[start:start + bs]
            value, dW, db = loss_and_gradients(weights, biases, acts, Xb, Yb, loss)
            penalty, dR = regularisation(weights, l2, l1)
            batch_losses.append(value + penalty)
            grads = [g + r for g, r in zip(dW, dR)] + (list(db) if db is not None else [])
            t += 1
            for j, (p, g) in enumerate(zip(params, grads)):
                if optimizer == "sgd":
                    if momentum:
                        state1[j] = momentum * state1[j] - rate * g
                        p += momentum * state1[j] - rate * g if nesterov else state1[j]
                    else:
                        p -= rate * g
                elif optimizer == "adam":
                    state1[j] = beta1 * state1[j] + (1 - beta1) * g
                    state2[j] = beta2 * state2[j] + (1 - beta2) * g * g
                    mhat = state1[j] / (1 - beta1 ** t)
                    vhat = state2[j] / (1 - beta2 ** t)
                    p -= rate * mhat / (np.sqrt(vhat) + eps)
                else:
                    raise ValueError("unknown optimizer %r" % (optimizer,))
        mean = np.mean(batch_losses)
        if not np.isfinite(mean) and np.all(np.isfinite(batch_losses)):
            # the mean of finite losses is finite; their sum may not be
            mean = min(np.mean(np.asarray(batch_losses) * 2.0**-64) * 2.0**64, np.finfo(np.float64).max)
        history.append(float(mean))
    return weights, biases, history
