"""The way out to PyTorch and back: Network.to_torch / Network.from_torch.

Every expected value comes from a peer nnext did not write: the module's own forward pass
and torch.autograd.  Tolerances are relative to the largest entry of the array compared (a
normwise relative error): an output or a gradient entry that is nearly zero is checked to
the same absolute accuracy as the rest.  The module skips with a reason without PyTorch.
"""
import numpy as np
import pytest

import reference as R
from conftest import snapshot, assert_same_params
from export_cases import CASE_IDS, CASES, RTOL, assert_close, case_id, data, make_net
from nnext import Network

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
nn = torch.nn

GRAD_RTOL = 1e-10  # float64


def torch_output(module, X, dtype):
    with torch.no_grad():
        return module(torch.from_numpy(np.asarray(X, dtype=dtype))).numpy()


# ------------------------------------------------------------------ to_torch

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("acts", CASES, ids=CASE_IDS)
def test_to_torch_outputs_equal_predict(acts, bias, dtype):
    net = make_net(acts, bias, dtype)
    X = data(4)
    module = net.to_torch()
    assert isinstance(module, nn.Sequential)
    out = torch_output(module, X, dtype)
    assert out.dtype == np.dtype(dtype)
    assert_close(net.predict(X), out, RTOL[dtype], f"{acts} {dtype}")


def test_to_torch_layout():
    net = make_net(["leaky_relu", "elu", "softmax"], True, "float64")
    module = net.to_torch()
    kinds = [type(m) for m in module]
    assert kinds == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.ELU, nn.Linear, nn.Softmax]
    assert module[1].negative_slope == 0.01 and module[3].alpha == 1.0 and module[5].dim == 1
    for l, lin in enumerate(module[::2]):
        assert (lin.in_features, lin.out_features) == net.weights[l].shape
        assert lin.weight.dtype == torch.float64
        assert np.array_equal(lin.weight.detach().numpy(), net.weights[l].T)
        assert np.array_equal(lin.bias.detach().numpy(), net.biases[l])
    lin = make_net(["linear"] * 3, False, "float32").to_torch()
    assert [type(m) for m in lin][1::2] == [nn.Identity] * 3
    assert all(m.bias is None for m in lin[::2])
    assert lin[0].weight.dtype == torch.float32


def test_to_torch_copies_parameters():
    net = make_net(["tanh", "sigmoid", "sigmoid"], True, "float64")
    snap = snapshot(net)
    module = net.to_torch()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)
    assert_same_params(net, snap)
    net.weights[0][:] = 0
    assert not np.any(module[0].weight.detach().numpy() == 0)


def test_to_torch_rejects_a_non_network():
    from nnext.export import to_torch
    with pytest.raises(TypeError, match="nnext.Network.*list"):
        to_torch([[1.0]])


# ------------------------------------------------------ to_torch(logits=True)

LOGIT_HIDDEN = [["tanh", "relu"], [("maxout", 3), ("elu", 0.5)]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("hidden", LOGIT_HIDDEN, ids=[case_id(h) for h in LOGIT_HIDDEN])
@pytest.mark.parametrize("out", ["softmax", "sigmoid"])
def test_to_torch_logits_then_the_activation_equal_predict(out, hidden, bias, dtype):
    from nnext.export import to_torch
    net = make_net(hidden + [out], bias, dtype, init="xavier")
    full, module = net.to_torch(), net.to_torch(logits=True)
    assert [type(m) for m in module] == [type(m) for m in full][:-1]       # all but the last activation
    assert type(full[-1]) is (nn.Softmax if out == "softmax" else nn.Sigmoid)
    assert type(module[-1]) is nn.Linear
    X = data(4)
    z = torch_output(module, X, dtype)
    # the logits are the output layer's pre-activation, here from numpy alone
    pre = R.forward([w.astype(np.float64) for w in net.weights],
                    None if not bias else [b.astype(np.float64) for b in net.biases],
                    list(zip(net.activations, net.activation_params))[:-1] + ["linear"], X)[-1]
    assert_close(z, pre, RTOL[dtype], f"logits {hidden} {out} {dtype}")
    p = torch.softmax(torch.from_numpy(z), dim=1) if out == "softmax" else torch.sigmoid(torch.from_numpy(z))
    assert_close(p.numpy(), net.predict(X), RTOL[dtype], f"{hidden} {out} {dtype}")
    assert_close(torch_output(to_torch(net, logits=True), X, dtype), z, 0.0)


@pytest.mark.parametrize("targets_as", ["labels", "probabilities"])
def test_fine_tuning_logits_with_cross_entropy_loss_equals_nnext(targets_as):
    """One SGD step of PyTorch's CrossEntropyLoss on the logits module: the loss, the
    gradient and the new weights equal nnext's loss="cross_entropy" (softmax output)."""
    net = make_net(["tanh", ("maxout", 2), "softmax"], True, "float64", init="xavier")
    X = data(4, n=12)
    rng = np.random.RandomState(7)
    if targets_as == "labels":
        y = rng.randint(0, 3, 12)
        target = torch.from_numpy(y)
    else:
        y = rng.dirichlet(np.ones(3), 12)     # soft targets, each row summing to 1
        target = torch.from_numpy(y)
    dW, db = net.gradients(X, y, loss="cross_entropy")
    module = net.to_torch(logits=True)
    loss = nn.CrossEntropyLoss()(module(torch.from_numpy(X)), target)
    assert loss.item() == pytest.approx(net.loss(X, y, loss="cross_entropy"), rel=1e-12)
    # the trap logits=True avoids: the default module's softmax, applied again by the loss
    twice = nn.CrossEntropyLoss()(net.to_torch()(torch.from_numpy(X)), target)
    assert abs(twice.item() - loss.item()) > 0.1 * loss.item()
    loss.backward()
    for l, lin in enumerate(module[::2]):
        assert_close(lin.weight.grad.numpy().T, dW[l], GRAD_RTOL, f"dW[{l}]")
        assert_close(lin.bias.grad.numpy(), db[l], GRAD_RTOL, f"db[{l}]")
    torch.optim.SGD(module.parameters(), lr=0.5).step()
    net.fit(X, y, epochs=1, lr=0.5, loss="cross_entropy")              # one full-batch step
    for l, lin in enumerate(module[::2]):
        assert_close(lin.weight.detach().numpy().T, net.weights[l], 1e-12, f"W[{l}] after the step")
        assert_close(lin.bias.detach().numpy(), net.biases[l], 1e-12, f"b[{l}] after the step")


def test_fine_tuning_logits_with_bce_with_logits_loss_equals_nnext():
    net = make_net(["relu", "elu", "sigmoid"], True, "float64", init="xavier")
    X = data(4, n=10)
    y = np.random.RandomState(8).uniform(0, 1, (10, 3))
    dW, db = net.gradients(X, y, loss="bce")
    module = net.to_torch(logits=True)
    loss = nn.BCEWithLogitsLoss()(module(torch.from_numpy(X)), torch.from_numpy(y))
    assert loss.item() == pytest.approx(net.loss(X, y, loss="bce"), rel=1e-12)
    loss.backward()
    for l, lin in enumerate(module[::2]):
        assert_close(lin.weight.grad.numpy().T, dW[l], GRAD_RTOL, f"dW[{l}]")
        assert_close(lin.bias.grad.numpy(), db[l], GRAD_RTOL, f"db[{l}]")


def test_to_torch_logits_of_a_linear_output_is_the_same_model():
    net = make_net(["tanh", "relu", "linear"], True, "float64")
    module = net.to_torch(logits=True)
    assert [type(m) for m in module] == [type(m) for m in net.to_torch()]
    assert type(module[-1]) is nn.Identity
    X = data(4)
    assert_close(torch_output(module, X, "float64"), net.predict(X), RTOL["float64"])


@pytest.mark.parametrize("out", ["tanh", "relu", ("leaky_relu", 0.1), ("elu", 1.0)],
                         ids=lambda out: case_id([out]))
def test_to_torch_logits_refuses_outputs_without_logits(out):
    net = make_net(["tanh", "tanh", out], True, "float64")
    name = out if isinstance(out, str) else out[0]
    with pytest.raises(ValueError, match=rf"logits=True.*'{name}'.*logits=False"):
        net.to_torch(logits=True)
    assert type(net.to_torch()[-1]) is not nn.Linear    # logits=False still exports it


def test_to_torch_logits_must_be_a_bool():
    net = make_net(["tanh", "tanh", "softmax"], True, "float64")
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match=r"logits must be True or False, got"):
            net.to_torch(logits=bad)


# --------------------------------------------------------- gradients: autograd

def torch_loss(loss, p, y):
    """The losses of nnext's README, written with PyTorch's own functions."""
    F = torch.nn.functional
    if loss == "mse":
        return F.mse_loss(p, y, reduction="mean")
    if loss == "sse":
        return 0.5 * F.mse_loss(p, y, reduction="sum")
    if loss == "bce":
        return F.binary_cross_entropy(p, y, reduction="mean")
    return -(y * torch.log(p)).sum() / p.shape[0]  # cross_entropy


def gradient_cases():
    cases = []
    for a in R.HIDDEN_ACTIVATIONS:
        cases += [([a, a, a], "mse"), ([a, a, a], "sse"), ([a, a, "sigmoid"], "bce"),
                  ([a, a, "softmax"], "cross_entropy"), ([a, a, "softmax"], "mse"),
                  ([a, a, "softmax"], "sse")]
    # activations with parameters (maxout: torch's max sends the gradient to the first
    # largest piece, as nnext does)
    cases += [([("leaky_relu", 0.1), ("elu", 0.5), ("elu", 2.0)], "mse"),
              ([("maxout", 3), ("maxout", 2), "softmax"], "cross_entropy"),
              ([("maxout", 3), ("leaky_relu", 0.25), "sigmoid"], "bce"),
              ([("elu", 0.3), ("maxout", 1), ("leaky_relu", 0.0)], "sse")]
    return cases


GRAD_CASES = gradient_cases()


def targets(loss, out_act, n, k, seed=0):
    rng = np.random.RandomState(200 + seed)
    if loss == "cross_entropy":
        return np.eye(k)[rng.randint(0, k, n)]
    if loss == "bce" or out_act in ("sigmoid", "softmax"):
        return rng.uniform(0, 1, (n, k))
    return rng.normal(size=(n, k))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("acts,loss", GRAD_CASES, ids=[case_id(a) + ":" + l for a, l in GRAD_CASES])
def test_gradients_equal_autograd(acts, loss, bias):
    # xavier: no output saturates (see the next test for saturated sigmoid outputs)
    net = make_net(acts, bias, "float64", init="xavier")
    p = net.predict(data(4, n=9))
    out_act = acts[-1] if isinstance(acts[-1], str) else acts[-1][0]
    if out_act in ("sigmoid", "softmax"):
        assert np.min(p * (1 - p)) > 1e-6
    X = data(4, n=9)
    y = targets(loss, out_act, 9, 3)
    dW, db = net.gradients(X, y, loss=loss)

    module = net.to_torch()
    value = torch_loss(loss, module(torch.from_numpy(X)), torch.from_numpy(y))
    value.backward()
    assert abs(net.loss(X, y, loss=loss) - value.item()) <= 1e-12 * abs(value.item())
    linears = list(module[::2])
    for l, lin in enumerate(linears):
        assert_close(dW[l], lin.weight.grad.numpy().T, GRAD_RTOL, f"dW[{l}] {acts} {loss}")
        if bias:
            assert_close(db[l], lin.bias.grad.numpy(), GRAD_RTOL, f"db[{l}] {acts} {loss}")
        else:
            assert db is None and lin.bias is None


def test_bce_gradient_of_saturated_outputs_equals_autograd_on_logits():
    """Where a sigmoid output saturates (p(1-p) < 1e-12), torch's binary_cross_entropy on
    probabilities clamps its denominator p(1-p) at 1e-12 and its gradient drifts from the
    exact one; nnext uses the exact (p - y)/n, which is what autograd gives through torch's
    binary_cross_entropy_with_logits on the exported module's last Linear output."""
    net = make_net(["relu", "relu", "sigmoid"], True, "float64")
    X = data(4, n=9)
    p = net.predict(X)
    assert np.min(p * (1 - p)) < 1e-12  # saturated indeed
    y = targets("bce", "sigmoid", 9, 3)
    dW, db = net.gradients(X, y, loss="bce")
    module = net.to_torch()
    z = module[:-1](torch.from_numpy(X))
    torch.nn.functional.binary_cross_entropy_with_logits(z, torch.from_numpy(y)).backward()
    for l, lin in enumerate(module[::2]):
        assert_close(dW[l], lin.weight.grad.numpy().T, GRAD_RTOL, f"dW[{l}]")
        assert_close(db[l], lin.bias.grad.numpy(), GRAD_RTOL, f"db[{l}]")


def test_gradients_with_integer_labels_equal_autograd():
    net = make_net(["elu", "tanh", "softmax"], True, "float64")
    X = data(4, n=10)
    labels = np.random.RandomState(3).randint(0, 3, 10)
    dW, db = net.gradients(X, labels, loss="cross_entropy")
    module = net.to_torch()
    z = module[:-1](torch.from_numpy(X))  # the logits: torch's cross_entropy takes these
    torch.nn.functional.cross_entropy(z, torch.from_numpy(labels)).backward()
    for l, lin in enumerate(module[::2]):
        assert_close(dW[l], lin.weight.grad.numpy().T, GRAD_RTOL, f"dW[{l}]")
        assert_close(db[l], lin.bias.grad.numpy(), GRAD_RTOL, f"db[{l}]")


# ----------------------------------------------------------------- from_torch

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_from_torch_of_a_torch_built_module(bias, dtype):
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    module = nn.Sequential(nn.Linear(4, 7, bias=bias, dtype=tdtype), nn.Tanh(),
                           nn.Linear(7, 6, bias=bias, dtype=tdtype), nn.LeakyReLU(),
                           nn.Linear(6, 5, bias=bias, dtype=tdtype), nn.ELU(),
                           nn.Linear(5, 5, bias=bias, dtype=tdtype), nn.ReLU(),
                           nn.Linear(5, 4, bias=bias, dtype=tdtype),  # no activation: linear
                           nn.Linear(4, 4, bias=bias, dtype=tdtype), nn.Identity(),
                           nn.Linear(4, 3, bias=bias, dtype=tdtype), nn.Sigmoid(),
                           nn.Linear(3, 3, bias=bias, dtype=tdtype), nn.Softmax(dim=-1))
    net = Network.from_torch(module)
    assert net.sizes == [4, 7, 6, 5, 5, 4, 4, 3, 3]
    assert net.activations == ["tanh", "leaky_relu", "elu", "relu", "linear", "linear", "sigmoid", "softmax"]
    assert net.bias is bias and net.dtype == np.dtype(dtype)
    X = data(4)
    assert_close(net.predict(X), torch_output(module, X, dtype), RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("acts", CASES, ids=CASE_IDS)
def test_round_trip_through_torch_is_exact(acts, bias, dtype):
    net = make_net(acts, bias, dtype)
    back = Network.from_torch(net.to_torch())
    assert (back.sizes, back.activations, back.bias, back.dtype) == (net.sizes, net.activations, net.bias, net.dtype)
    assert back.activation_params == net.activation_params
    assert_same_params(back, snapshot(net))


def test_from_torch_dtype_argument_and_other_float_types():
    module = nn.Sequential(nn.Linear(3, 2, dtype=torch.float32), nn.Sigmoid())
    assert Network.from_torch(module).dtype == np.float32
    assert Network.from_torch(module, dtype="float64").dtype == np.float64
    half = nn.Sequential(nn.Linear(3, 2, dtype=torch.bfloat16))
    net = Network.from_torch(half)
    assert net.dtype == np.float64
    assert np.array_equal(net.weights[0], half[0].weight.detach().to(torch.float64).numpy().T)


def test_from_torch_trains_on():
    """The imported network is an ordinary nnext network: it trains and exports again."""
    torch.manual_seed(1)
    module = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.Sigmoid(),
                           nn.Linear(4, 1, dtype=torch.float64), nn.Sigmoid())
    net = Network.from_torch(module)
    X = R.TRASK_X
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    history = net.fit(X, y, epochs=200, lr=0.5, loss="mse")
    assert history.loss[-1] < history.loss[0]
    assert_close(net.predict(X), torch_output(net.to_torch(), X, "float64"), 1e-12)


def maxout(k):
    from nnext.export import Maxout
    return Maxout(k)


def test_maxout_module_and_layout():
    """to_torch: a maxout layer is Linear(n_in, m*k) and nnext.export.Maxout(k); the
    module's gradient goes to the first of tied pieces, as nnext's."""
    from nnext.export import Maxout
    net = make_net([("maxout", 3), ("leaky_relu", 0.2), "linear"], True, "float64")
    module = net.to_torch()
    assert [type(m) for m in module] == [nn.Linear, Maxout, nn.Linear, nn.LeakyReLU, nn.Linear, nn.Identity]
    assert module[0].out_features == 6 * 3 and module[1].k == 3 and module[3].negative_slope == 0.2
    assert "k=3" in repr(module[1])
    # ties: two equal pieces; both nnext and torch send the gradient to the first
    W = np.zeros((2, 4))
    W[:, 0] = W[:, 1] = [1.0, -2.0]
    W[:, 2] = W[:, 3] = [0.5, 1.0]
    tie = Network.from_weights([W, np.ones((2, 1))], [np.zeros(4), np.zeros(1)],
                               activation=[("maxout", 2), "linear"])
    X = data(2, n=5)
    y = np.ones((5, 1))
    dW, db = tie.gradients(X, y, loss="sse")
    assert np.all(dW[0][:, 1] == 0) and np.all(dW[0][:, 3] == 0) and np.all(db[0][[1, 3]] == 0)
    assert np.any(dW[0][:, 0] != 0) and np.any(dW[0][:, 2] != 0)
    m = tie.to_torch()
    value = torch_loss("sse", m(torch.from_numpy(X)), torch.from_numpy(y))
    value.backward()
    assert np.array_equal(m[0].weight.grad.numpy().T == 0, dW[0] == 0)
    assert_close(dW[0], m[0].weight.grad.numpy().T, GRAD_RTOL, "tied maxout")
    # a Maxout module pickles (nnext.export.Maxout resolves by name)
    import pickle
    again = pickle.loads(pickle.dumps(module))
    assert_close(torch_output(again, X[:, :1].repeat(4, axis=1), "float64"),
                 net.predict(X[:, :1].repeat(4, axis=1)), 1e-12)


BAD_MODULES = [
    ("conv", lambda: nn.Sequential(nn.Linear(4, 4), nn.Conv2d(1, 1, 3)), 1, "Conv2d"),
    ("leaky -0.2", lambda: nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(-0.2), nn.Linear(4, 2)), 1,
     "slope) must be a finite number in [0.0, 1.0], got -0.2"),
    ("leaky 1.5", lambda: nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(1.5)), 1, "slope"),
    ("elu alpha 0", lambda: nn.Sequential(nn.Linear(4, 4), nn.ELU(alpha=0.0)), 1, "alpha"),
    ("maxout last", lambda: nn.Sequential(nn.Linear(4, 4), maxout(2)), 1, "hidden layers only"),
    ("maxout widths", lambda: nn.Sequential(nn.Linear(4, 5), maxout(2), nn.Linear(2, 2)), 1,
     "not a multiple"),
    ("after maxout", lambda: nn.Sequential(nn.Linear(4, 6), maxout(3), nn.Linear(6, 2)), 2,
     "2 outputs"),
    ("softmax dim 0", lambda: nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=0)), 1, "dim"),
    ("softmax dim None", lambda: nn.Sequential(nn.Linear(4, 4), nn.Softmax()), 1, "dim"),
    ("softmax not last", lambda: nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1), nn.Linear(4, 2)), 1,
     "output layer only"),
    ("two activations", lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Tanh()), 2, "one activation"),
    ("activation first", lambda: nn.Sequential(nn.ReLU(), nn.Linear(4, 2)), 0, "start with a Linear"),
    ("mixed bias", lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2, bias=False)), 2,
     "biases on all layers or on none"),
    ("mixed bias 2", lambda: nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 2)), 1, "on none"),
    ("widths", lambda: nn.Sequential(nn.Linear(4, 5), nn.Linear(4, 2)), 1, "5 outputs"),
    ("dropout", lambda: nn.Sequential(nn.Linear(4, 5), nn.Dropout(0.1)), 1, "Dropout"),
    ("logsoftmax", lambda: nn.Sequential(nn.Linear(4, 5), nn.LogSoftmax(dim=1)), 1, "LogSoftmax"),
    ("nested", lambda: nn.Sequential(nn.Sequential(nn.Linear(4, 5))), 0, "Sequential"),
]


@pytest.mark.parametrize("name,build,index,mention", BAD_MODULES, ids=[b[0] for b in BAD_MODULES])
def test_from_torch_names_the_first_module_it_cannot_take(name, build, index, mention):
    module = build()
    with pytest.raises(ValueError) as info:
        Network.from_torch(module)
    msg = str(info.value)
    assert f"[{index}] {module[index]!r}" in msg, msg
    assert mention.lower() in msg.lower(), msg


def test_from_torch_wrong_types():
    with pytest.raises(TypeError, match="torch.nn.Sequential.*Linear"):
        Network.from_torch(nn.Linear(3, 2))
    with pytest.raises(TypeError, match="torch.nn.Sequential.*list"):
        Network.from_torch([nn.Linear(3, 2)])
    with pytest.raises(ValueError, match="empty"):
        Network.from_torch(nn.Sequential())
