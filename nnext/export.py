"""The ways out of nnext: a `Network` as a PyTorch module or an ONNX model, and back from PyTorch.

Layer ``l`` of a network computes ``act(a @ W + b)`` with ``W = net.weights[l]`` of shape
``(n_in, n_out)``; a ``torch.nn.Linear`` computes ``a @ weight.T + bias``, so its ``weight``
is ``W.T``.  Activations map one to one:

=================  ======================  ==============================================
nnext              PyTorch                 ONNX (opset 17)
=================  ======================  ==============================================
sigmoid            ``Sigmoid()``           ``Sigmoid``
tanh               ``Tanh()``              ``Tanh``
relu               ``ReLU()``              ``Relu``
leaky_relu, slope  ``LeakyReLU(slope)``    ``LeakyRelu(alpha=slope)`` (float32), see below
elu, alpha         ``ELU(alpha)``          ``Elu(alpha)`` (float32), see below
linear             ``Identity()``          ``Identity``
softmax            ``Softmax(dim=1)``      ``Softmax(axis=1)`` (output layer only)
maxout, k          ``Maxout(k)``           ``Reshape`` to (batch, m, k), ``ReduceMax`` over k
=================  ======================  ==============================================

``Maxout`` is nnext's own small module (`nnext.export.Maxout`, made when first
used): ``x.unflatten(-1, (-1, k)).max(dim=-1).values``, unit j the largest of
columns ``j*k .. j*k+k-1`` (torch's ``max`` also takes the first on ties and
sends the gradient to it alone).

PyTorch and ONNX are optional: they are imported inside these functions only, never by
``import nnext``.  This module uses only `Network`'s public API.
"""

import os

from typing import Any, Optional, Union

import numpy as np

__all__ = ["to_torch", "from_torch", "to_onnx", "ONNX_OPSET"]

#: The ONNX opset `to_onnx` targets (default domain).
ONNX_OPSET = 17
#: The ONNX IR version written with opset 17.
_ONNX_IR_VERSION = 8

_MAXOUT_CLASS = None  # the Maxout module class, made with torch on first use


def _maxout_class(torch):
    """nnext's maxout as a ``torch.nn.Module``: ``Maxout(k)`` maps (n, m*k) to (n, m)."""
    global _MAXOUT_CLASS
    if _MAXOUT_CLASS is None:
        class Maxout(torch.nn.Module):
            """nnext's maxout of k pieces: (..., m*k) -> (..., m), unit j the largest of
            columns j*k .. j*k+k-1 (the first of them on ties, which alone gets the gradient)."""

            def __init__(self, k: int) -> None:
                super().__init__()
                self.k = int(k)

            def forward(self, x):
                return x.unflatten(-1, (-1, self.k)).max(dim=-1).values

            def extra_repr(self) -> str:
                return f"k={self.k}"

        Maxout.__module__, Maxout.__qualname__ = __name__, "Maxout"
        _MAXOUT_CLASS = Maxout
    return _MAXOUT_CLASS


def __getattr__(name):
    # nnext.export.Maxout (for pickles and isinstance), made with torch on first use
    if name == "Maxout":
        return _maxout_class(_import_torch())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _import_torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            f"this needs PyTorch, which could not be imported ({e}): "
            "pip install torch (the CPU build: pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu)") from None
    return torch


def _import_onnx():
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f"to_onnx needs the onnx package, which could not be imported ({e}): "
                          "pip install onnx") from None
    return onnx


def _check_network(net, what="net"):
    from .network import Network
    if not isinstance(net, Network):
        raise TypeError(f"{what} must be an nnext.Network, got {type(net).__name__}")


# ------------------------------------------------------------------ PyTorch

#: The output activations that ``to_torch(logits=True)`` leaves out.
_LOGITS_DROP = ("softmax", "sigmoid")


def to_torch(net: Any, logits: bool = False) -> Any:
    """The network as a ``torch.nn.Sequential``, in the network's dtype (on the CPU).

    One ``Linear(n_in, n_out, bias=net.bias)`` per layer, with ``weight = W.T`` and
    ``bias = b`` (copies), each followed by its activation module: ``Sigmoid``, ``Tanh``,
    ``ReLU``, ``LeakyReLU(slope)``, ``ELU(alpha)``, ``Identity`` (linear),
    ``Softmax(dim=1)`` or ``Maxout(k)`` (after a ``Linear(n_in, m*k)``).  Its output for a ``(n, n_in)`` tensor equals ``net.predict``, and
    ``torch.autograd`` through it gives ``net.gradients`` (the tests check both).

    ``logits=True`` leaves out the output layer's activation, for fine-tuning with
    PyTorch's losses that take logits (they apply the activation themselves, in a
    numerically stable form; on the default model's probabilities they would apply it a
    second time):

    - softmax output: the module ends with the last ``Linear``; pair it with
      ``nn.CrossEntropyLoss()`` (class indices, or probabilities as targets), which is
      nnext's ``loss="cross_entropy"``; ``torch.softmax(module(x), dim=1)`` is
      ``net.predict(x)``.
    - sigmoid output: the same; pair it with ``nn.BCEWithLogitsLoss()``, nnext's
      ``loss="bce"``; ``torch.sigmoid(module(x))`` is ``net.predict(x)``.
    - linear output: the output already is the logits, so ``logits=True`` gives the same
      model as ``logits=False`` (ending with ``Identity``).

    Any other output activation (tanh, relu, leaky_relu, elu) has no PyTorch loss on
    its input, and ``logits=True`` raises ``ValueError``.  (Maxout is for hidden layers
    only, so it is never the output's.)
    """
    _check_network(net)
    from . import _checks
    logits = _checks.boolean(logits, "logits")
    out = net.activations[-1]
    if logits and out not in _LOGITS_DROP and out != "linear":
        raise ValueError(
            f"logits=True leaves out a softmax or sigmoid output activation (for nn.CrossEntropyLoss "
            f"or nn.BCEWithLogitsLoss), and a linear output is its own logits; this network's output "
            f"layer is {out!r}, which has no logits form: use logits=False")
    torch = _import_torch()
    nn = torch.nn
    dtype = {"float64": torch.float64, "float32": torch.float32}[net.dtype.name]
    modules = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
               "leaky_relu": lambda slope: nn.LeakyReLU(slope), "elu": lambda alpha: nn.ELU(alpha=alpha),
               "linear": nn.Identity, "softmax": lambda: nn.Softmax(dim=1),
               "maxout": lambda k: _maxout_class(torch)(k)}
    biases = net.biases
    layers = []
    for l, (W, act, param) in enumerate(zip(net.weights, net.activations, net.activation_params)):
        n_in, n_out = W.shape
        linear = nn.Linear(n_in, n_out, bias=net.bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(W.T, copy=True)))
            if net.bias:
                linear.bias.copy_(torch.from_numpy(np.array(biases[l], copy=True)))
        layers += [linear, modules[act]() if param is None else modules[act](param)]
    if logits and out in _LOGITS_DROP:
        layers.pop()
    return nn.Sequential(*layers)


def _activation_of(module, nn):
    """nnext's activation (a name or a (name, parameter) pair) for an activation
    module, or a reason why it cannot be taken."""
    from . import _checks
    kind = type(module)

    def with_param(name, value):
        try:
            return (name, _checks.activation_param(name, value, f"{kind.__name__}'s parameter")), None
        except (TypeError, ValueError) as e:
            return None, f"nnext cannot take it: {e}"

    if _MAXOUT_CLASS is not None and kind is _MAXOUT_CLASS:
        return with_param("maxout", module.k)
    if kind is nn.Sigmoid:
        return "sigmoid", None
    if kind is nn.Tanh:
        return "tanh", None
    if kind is nn.ReLU:
        return "relu", None
    if kind is nn.Identity:
        return "linear", None
    if kind is nn.LeakyReLU:
        return with_param("leaky_relu", module.negative_slope)
    if kind is nn.ELU:
        return with_param("elu", module.alpha)
    if kind is nn.Softmax:
        if module.dim not in (1, -1):
            return None, f"nnext's softmax runs over each row (dim=1 or -1), this one dim={module.dim}"
        return "softmax", None
    return None, None


def from_torch(module: Any, dtype: Any = None) -> Any:
    """A `Network` with the layers and parameters (copied) of a ``torch.nn.Sequential``.

    The Sequential holds ``Linear`` layers, each optionally followed by one activation
    module: ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU`` (negative_slope in [0, 1]),
    ``ELU`` (alpha > 0), ``Identity``, ``Softmax`` (dim 1 or -1, last module only) or
    `Maxout` (k pieces, not last).  A Linear with no activation after it is a
    ``"linear"`` layer.  Either every Linear has
    a bias or none has (nnext networks have biases on all layers or none).

    ``dtype=None`` gives float32 when every parameter is float32, else float64 (as
    `Network.from_weights`).

    Raises
    ------
    TypeError
        When ``module`` is not a ``torch.nn.Sequential``.
    ValueError
        Naming the first module (its index and repr) that nnext cannot take, e.g. a
        ``Conv2d``, ``LeakyReLU(-0.2)``, a Softmax that is not last, or two activations in
        a row.
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential of Linear layers and activations, "
                        f"got {type(module).__name__}")
    children = list(module)
    if not children:
        raise ValueError("module is an empty torch.nn.Sequential: it needs at least one Linear layer")

    def refuse(i, why):
        raise ValueError(f"from_torch cannot take module [{i}] {children[i]!r} of the Sequential: {why}")

    def array(i, tensor, what):
        tensor = tensor.detach().cpu()
        if tensor.is_complex():  # a conversion would drop the imaginary parts: refused, not rounded
            refuse(i, f"its {what} is complex ({tensor.dtype}); nnext networks compute on real "
                      f"numbers (float32 or float64)")
        if tensor.dtype not in (torch.float32, torch.float64):  # e.g. float16, bfloat16
            tensor = tensor.to(torch.float64)
        return tensor.numpy().copy()

    weights, biases, activations = [], None, []
    first_linear = softmax_at = None
    outputs = None  # the width the layers so far give
    maxout_at = None  # a Maxout module with no Linear after it yet
    for i, child in enumerate(children):
        if type(child) is nn.Linear:
            if softmax_at is not None:
                refuse(softmax_at, f"a Softmax is for the output layer only, and module [{i}] "
                                   f"{child!r} comes after it")
            has_bias = child.bias is not None
            maxout_at = None
            if not weights:
                first_linear, biases = i, ([] if has_bias else None)
            else:
                if child.in_features != outputs:
                    refuse(i, f"it takes {child.in_features} inputs but the layer before it gives "
                              f"{outputs} outputs")
                if has_bias != (biases is not None):
                    refuse(i, f"it has {'a' if has_bias else 'no'} bias but module [{first_linear}] "
                              f"has {'one' if biases is not None else 'none'}: nnext networks have "
                              f"biases on all layers or on none")
            if len(activations) < len(weights):
                activations.append("linear")  # the Linear before had no activation module
            weights.append(array(i, child.weight, "weight").T.copy())
            outputs = weights[-1].shape[1]
            if has_bias:
                biases.append(array(i, child.bias, "bias"))
            continue
        name, why = _activation_of(child, nn)
        if name is None:
            refuse(i, why or "nnext takes Linear layers and the activations Sigmoid, Tanh, ReLU, "
                             "LeakyReLU, ELU, Identity, Softmax(dim=1) and nnext.export.Maxout")
        if not weights:
            refuse(i, "the Sequential must start with a Linear layer")
        if len(activations) == len(weights):
            refuse(i, f"it follows module [{i - 1}] {children[i - 1]!r}, an activation: nnext "
                      f"takes at most one activation after each Linear")
        if name == "softmax":
            softmax_at = i
        if isinstance(name, tuple) and name[0] == "maxout":
            if outputs % name[1]:
                refuse(i, f"the Linear before it gives {outputs} outputs, not a multiple of its "
                          f"k={name[1]} pieces")
            outputs //= name[1]
            maxout_at = i
        activations.append(name)
    if maxout_at is not None:
        refuse(maxout_at, "maxout is for hidden layers only: a Linear must follow it")
    if len(activations) < len(weights):
        activations.append("linear")
    from .network import Network
    if dtype is None:
        params = weights + (biases or [])
        dtype = "float32" if all(p.dtype == np.float32 for p in params) else "float64"
    return Network.from_weights(weights, biases, activation=activations, dtype=dtype)


# --------------------------------------------------------------------- ONNX

def _onnx_model(net, onnx, input_dtype=None):
    """The forward pass of ``net`` as an ``onnx.ModelProto`` (opset `ONNX_OPSET`), its
    input ``X`` in ``input_dtype`` (a numpy dtype; None: the network's)."""
    from onnx import TensorProto, helper, numpy_helper

    f64 = net.dtype.name == "float64"
    elem = TensorProto.DOUBLE if f64 else TensorProto.FLOAT
    in_elem = elem if input_dtype is None else {"float64": TensorProto.DOUBLE,
                                                "float32": TensorProto.FLOAT}[input_dtype.name]
    n_layers = len(net.weights)
    nodes, initializers = [], []

    def constant(name, value):  # (made once: a name given twice has the same value)
        if name not in {i.name for i in initializers}:
            initializers.append(numpy_helper.from_array(np.asarray(value, dtype=net.dtype), name))
        return name

    if f64 and ("leaky_relu" in net.activations or "elu" in net.activations):
        zero = constant("zero", 0.0)
        if "elu" in net.activations:
            one = constant("one", 1.0)
    biases = net.biases
    a = "X"
    if in_elem != elem:  # the input converted once; every layer computes in the network's dtype
        nodes.append(helper.make_node("Cast", ["X"], ["X_cast"], to=elem, name="input_cast"))
        a = "X_cast"
    for l, (W, act, param) in enumerate(zip(net.weights, net.activations, net.activation_params)):
        z = f"z{l}"
        out = "Y" if l == n_layers - 1 else f"a{l + 1}"
        gemm_inputs = [a, constant(f"W{l}", W)]
        if net.bias:
            gemm_inputs.append(constant(f"b{l}", biases[l]))
        nodes.append(helper.make_node("Gemm", gemm_inputs, [z], name=f"dense{l}"))
        if act == "sigmoid":
            nodes.append(helper.make_node("Sigmoid", [z], [out], name=f"sigmoid{l}"))
        elif act == "tanh":
            nodes.append(helper.make_node("Tanh", [z], [out], name=f"tanh{l}"))
        elif act == "relu":
            nodes.append(helper.make_node("Relu", [z], [out], name=f"relu{l}"))
        elif act == "linear":
            nodes.append(helper.make_node("Identity", [z], [out], name=f"linear{l}"))
        elif act == "softmax":
            nodes.append(helper.make_node("Softmax", [z], [out], axis=1, name=f"softmax{l}"))
        elif act == "maxout":  # (batch, m*k) -> (batch, m, k) -> the max over k
            shape = f"maxout{l}_shape"
            initializers.append(numpy_helper.from_array(
                np.array([0, net.sizes[l + 1], param], dtype=np.int64), shape))
            nodes.append(helper.make_node("Reshape", [z, shape], [f"pieces{l}"], name=f"maxout{l}_reshape"))
            nodes.append(helper.make_node("ReduceMax", [f"pieces{l}"], [out], axes=[2], keepdims=0,
                                          name=f"maxout{l}"))
        elif not f64:  # float32: the standard operators compute exactly nnext's formulas
            # (the float32 attribute is the float32 parameter nnext computes with)
            if act == "leaky_relu":
                nodes.append(helper.make_node("LeakyRelu", [z], [out], alpha=param, name=f"leaky_relu{l}"))
            else:
                nodes.append(helper.make_node("Elu", [z], [out], alpha=param, name=f"elu{l}"))
        else:
            # float64: an ONNX attribute is a 32-bit float (LeakyRelu's alpha=0.01 would be
            # 0.00999999977...), and onnxruntime has no float64 Elu; so both are built from
            # elementary operators in float64: z > 0 ? z : slope z, and
            # z > 0 ? z : alpha (exp(z) - 1) (no Mul for alpha = 1).
            positive = f"positive{l}"
            nodes.append(helper.make_node("Greater", [z, zero], [positive], name=f"{act}{l}_test"))
            if act == "leaky_relu":
                slope = constant("leaky_slope" if param == 0.01 else f"leaky_slope{l}", param)
                nodes.append(helper.make_node("Mul", [z, slope], [f"negative{l}"], name=f"leaky_relu{l}_mul"))
            else:
                nodes.append(helper.make_node("Exp", [z], [f"exp{l}"], name=f"elu{l}_exp"))
                minus_one = f"expm1{l}" if param != 1.0 else f"negative{l}"
                nodes.append(helper.make_node("Sub", [f"exp{l}", one], [minus_one], name=f"elu{l}_sub"))
                if param != 1.0:
                    nodes.append(helper.make_node("Mul", [minus_one, constant(f"elu_alpha{l}", param)],
                                                  [f"negative{l}"], name=f"elu{l}_mul"))
            nodes.append(helper.make_node("Where", [positive, z, f"negative{l}"], [out], name=f"{act}{l}"))
        a = out
    graph = helper.make_graph(
        nodes, "nnext_network",
        [helper.make_tensor_value_info("X", in_elem, ["batch", net.sizes[0]])],
        [helper.make_tensor_value_info("Y", elem, ["batch", net.sizes[-1]])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
                              producer_name="nnext", doc_string=repr(net))
    model.ir_version = _ONNX_IR_VERSION
    onnx.checker.check_model(model)
    return model


def to_onnx(net: Any, path: Union[str, "os.PathLike[str]"], input_dtype: Any = None) -> str:
    """Write the network's forward pass as an ONNX model to ``path``; returns the path.

    The model targets opset 17 (`ONNX_OPSET`, IR version 8).  Input ``"X"`` has shape
    ``(batch, n_in)`` with a dynamic batch dimension, output ``"Y"`` ``(batch, n_out)``; the
    parameters are stored as initializers.

    Input dtype: by default (``input_dtype=None``) ``X`` is in the network's dtype, so the
    model of a float64 network (nnext's default) declares ``X`` as ``tensor(double)`` and
    onnxruntime refuses float32 input with an INVALID_ARGUMENT error ("Unexpected input
    data type").  Either pass ``X.astype(np.float64)``, or export with
    ``input_dtype="float32"``: ``X`` is then declared float32 and a ``Cast`` node converts
    it to the network's dtype before the first layer.  The weights stay as they are and
    every layer computes in the network's dtype, so the output equals ``net.predict`` of
    the same float32 values to float64 precision.  (Storing float32 weights instead would
    put every output float32 rounding away from nnext's; for a float32 model, export a
    float32 network.)  ``input_dtype="float64"`` on a float32 network likewise rounds the
    input to float32 inside the graph, as ``predict`` does.  ``input_dtype``: None,
    "float32" or "float64" (or the numpy types).  The output ``Y`` is always in the
    network's dtype.

    Each layer is a ``Gemm`` (``X @ W + b``, no ``C`` without biases) and its activation:
    ``Sigmoid``, ``Tanh``, ``Relu``, ``Identity``, ``Softmax(axis=1)``, maxout as
    ``Reshape`` to ``(batch, m, k)`` and ``ReduceMax(axes=[2])``, and for float32
    ``LeakyRelu(alpha=slope)`` and ``Elu(alpha)``.  In float64 these two are written with
    ``Greater``, ``Mul``/``Exp``/``Sub`` (and ``Mul`` by alpha when it is not 1) and
    ``Where`` instead: ONNX attributes are 32-bit floats (alpha=0.01 would be off by 2e-8
    relative) and onnxruntime has no float64 ``Elu``.  (Its ``exp(z) - 1`` differs from nnext's ``expm1`` by about 1e-16 absolute
    near z = 0.)

    The file is written under a temporary name in the same folder and renamed, so ``path``
    never holds a half-written model.
    """
    _check_network(net)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if input_dtype is not None:
        from . import _checks
        try:
            input_dtype = _checks.check_dtype(input_dtype)
        except (TypeError, ValueError) as e:
            raise type(e)(f"input_dtype must be None (the network's dtype), 'float32' or 'float64', "
                          f"got {input_dtype!r}") from None
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    onnx = _import_onnx()
    blob = _onnx_model(net, onnx, input_dtype).SerializeToString()
    from ._files import atomic_write
    atomic_write(os.path.abspath(path), lambda f: f.write(blob))
    return path
