"""The way out to ONNX: Network.to_onnx, run by onnxruntime; and the optional imports.

onnxruntime (a runtime nnext did not write) gives the expected outputs.  Tolerances are
relative to the largest output (see export_cases.assert_close).  The ONNX tests skip with a
reason without onnx or onnxruntime.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnext
from export_cases import CASE_IDS, CASES, RTOL, assert_close, data, make_net


# ----------------------------------------------------------------------- ONNX

def ort_session(path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    return ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])


@pytest.fixture
def onnx():
    return pytest.importorskip("onnx", reason="the onnx package is not installed (pip install onnx)")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("acts", CASES, ids=CASE_IDS)
def test_onnx_runtime_equals_predict(onnx, tmp_path, acts, bias, dtype):
    net = make_net(acts, bias, dtype)
    path = net.to_onnx(tmp_path / "net.onnx")
    assert path == os.fspath(tmp_path / "net.onnx")
    session = ort_session(path)
    for n in (1, 3, 17):  # the batch dimension is dynamic
        X = data(4, n=n, seed=n)
        out, = session.run(None, {"X": X.astype(dtype)})
        assert out.dtype == np.dtype(dtype)
        assert_close(out, net.predict(X), RTOL[dtype], f"{acts} {dtype} n={n}")


def test_onnx_model_structure(onnx, tmp_path):
    from nnext.export import ONNX_OPSET
    net = make_net(["leaky_relu", "elu", "softmax"], True, "float32")
    model = onnx.load(net.to_onnx(tmp_path / "m.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert ONNX_OPSET == 17
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Gemm", "LeakyRelu", "Gemm", "Elu", "Gemm", "Softmax"]
    attrs = {node.op_type: {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
             for node in model.graph.node}
    assert attrs["Softmax"]["axis"] == 1
    assert np.float32(attrs["LeakyRelu"]["alpha"]) == np.float32(0.01)
    assert attrs["Elu"]["alpha"] == 1.0
    x, = model.graph.input
    dims = x.type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].HasField("dim_value") and dims[1].dim_value == 4
    assert x.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    for l in range(3):
        assert np.array_equal(inits[f"W{l}"], net.weights[l])
        assert np.array_equal(inits[f"b{l}"], net.biases[l])


def test_onnx_float64_has_no_32_bit_constants(onnx, tmp_path):
    """float64 leaky_relu and elu are built from float64 operators (see to_onnx)."""
    net = make_net(["leaky_relu", "elu", "linear"], False, "float64")
    model = onnx.load(net.to_onnx(tmp_path / "m.onnx"))
    assert all(i.data_type == onnx.TensorProto.DOUBLE for i in model.graph.initializer)
    assert all(not n.attribute for n in model.graph.node if n.op_type != "Gemm")
    assert {"LeakyRelu", "Elu"}.isdisjoint(n.op_type for n in model.graph.node)


def test_onnx_default_input_is_the_networks_dtype(onnx, tmp_path):
    """A float64 network's model takes float64 input, says so in its graph and in to_onnx's
    docstring, and onnxruntime refuses float32 input for it."""
    from nnext.export import to_onnx
    net = make_net(["tanh", "tanh", "sigmoid"], True, "float64")
    model = onnx.load(net.to_onnx(tmp_path / "m.onnx"))
    (x,), (y,) = model.graph.input, model.graph.output
    assert x.type.tensor_type.elem_type == y.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert "Cast" not in [n.op_type for n in model.graph.node]
    doc = " ".join(to_onnx.__doc__.split())
    assert "float64 network (nnext's default) declares ``X`` as ``tensor(double)``" in doc
    assert 'input_dtype="float32"' in doc and "input_dtype" in nnext.Network.to_onnx.__doc__
    session = ort_session(tmp_path / "m.onnx")
    with pytest.raises(Exception, match=r"INVALID_ARGUMENT.*tensor\(float\).*expected: \(tensor\(double\)\)"):
        session.run(None, {"X": data(4).astype(np.float32)})
    # input_dtype of the network's own dtype is the default model
    net.to_onnx(tmp_path / "same.onnx", input_dtype=np.float64)
    assert (tmp_path / "same.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()


@pytest.mark.parametrize("acts", CASES, ids=CASE_IDS)
def test_onnx_float32_input_of_a_float64_network(onnx, tmp_path, acts):
    """input_dtype="float32": a Cast to float64 first, then the float64 model: onnxruntime's
    output equals predict of the same float32 values to float64 precision."""
    net = make_net(acts, True, "float64")
    path = net.to_onnx(tmp_path / "m.onnx", input_dtype="float32")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    (x,), (y,) = model.graph.input, model.graph.output
    assert x.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert y.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    cast = model.graph.node[0]
    assert cast.op_type == "Cast" and list(cast.input) == ["X"]
    assert onnx.helper.get_attribute_value(cast.attribute[0]) == onnx.TensorProto.DOUBLE
    assert all(i.data_type != onnx.TensorProto.FLOAT for i in model.graph.initializer)   # the weights stay float64
    session = ort_session(path)
    for n in (1, 13):
        X32 = data(4, n=n, seed=n).astype(np.float32)
        out, = session.run(None, {"X": X32})
        assert out.dtype == np.float64
        assert_close(out, net.predict(X32.astype(np.float64)), RTOL["float64"], f"{acts} n={n}")
    with pytest.raises(Exception, match=r"INVALID_ARGUMENT.*expected: \(tensor\(float\)\)"):
        session.run(None, {"X": data(4)})                       # now it is float32 that it takes


def test_onnx_float64_input_of_a_float32_network(onnx, tmp_path):
    net = make_net(["elu", ("maxout", 2), "softmax"], True, "float32")
    path = nnext.export.to_onnx(net, tmp_path / "m.onnx", input_dtype="float64")
    model = onnx.load(path)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    X = data(4, n=9)
    out, = ort_session(path).run(None, {"X": X})
    assert out.dtype == np.float32
    assert_close(out, net.predict(X), RTOL["float32"])          # predict rounds X to float32 too
    assert_close(out, net.predict(X.astype(np.float32)), RTOL["float32"])


def test_to_onnx_checks_input_dtype(onnx, tmp_path):
    net = make_net(["tanh", "tanh", "linear"], True, "float64")
    for bad, exc in [("float16", ValueError), ("int32", ValueError), ("double32", ValueError),
                     (3, TypeError), (np.int64, ValueError)]:
        with pytest.raises(exc, match=r"input_dtype must be None \(the network's dtype\), 'float32' or "
                                      r"'float64', got"):
            net.to_onnx(tmp_path / "m.onnx", input_dtype=bad)
    assert not os.listdir(tmp_path)


def test_to_onnx_replaces_a_file_whole_and_checks_arguments(onnx, tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    net = make_net(["tanh", "tanh", "sigmoid"], True, "float64")
    net.to_onnx(str(target))
    assert onnx.load(str(target)).graph.node[0].op_type == "Gemm"
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temporary file left
    with pytest.raises(TypeError, match="path.*int"):
        net.to_onnx(3)
    with pytest.raises(FileNotFoundError):
        net.to_onnx(tmp_path / "no such folder" / "m.onnx")
    assert os.listdir(tmp_path) == ["m.onnx"]


# ----------------------------------------------------------- optional imports

def run_python(code, tmp_path):
    """Run ``code`` in a fresh interpreter that imports the nnext under test."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(nnext.__file__))))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=tmp_path, env=env, timeout=120)


def test_import_nnext_imports_neither_torch_nor_onnx(tmp_path):
    code = ("import sys, nnext, nnext.export; net = nnext.Network([2, 1]);"
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules))")
    out = run_python(code, tmp_path)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_missing_torch_or_onnx_gives_the_pip_command(tmp_path):
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
            "import nnext\n"
            "net = nnext.Network([2, 1])\n"
            "for call in (net.to_torch, lambda: nnext.Network.from_torch(None), lambda: net.to_onnx('x.onnx')):\n"
            "    try:\n"
            "        call()\n"
            "    except ImportError as e:\n"
            "        print(e)\n")
    out = run_python(code, tmp_path)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3, out.stdout + out.stderr
    assert "pip install torch" in lines[0] and "pip install torch" in lines[1]
    assert "pip install onnx" in lines[2]
