/* The Engine and Data types (see binding.h). */
#include "binding.h"
#include <structmember.h>

/* ------------------------------------------------------------ engine: type */

/* Engine(sizes, activations, bias, dtype, params=None): a network's shape and
 * its own parameter block (zeros), bound to the core; params: one activation
 * parameter per layer (a float, or None for the activation's default). */
static int engine_init(EngineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"sizes", "activations", "bias", "dtype", "params", NULL};
    PyObject *sizes, *acts, *act_params = Py_None;
    int bias;
    PyArray_Descr *dtype = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOpO&|O", kwlist, &sizes, &acts, &bias,
                                     PyArray_DescrConverter, &dtype, &act_params))
        return -1;
    const int typenum = dtype->type_num;
    Py_DECREF(dtype);
    if (self->params) {
        PyErr_SetString(PyExc_RuntimeError, "Engine is already initialised");
        return -1;
    }
    if (typenum != NPY_DOUBLE && typenum != NPY_FLOAT) {
        PyErr_SetString(PyExc_ValueError, "dtype must be float64 or float32");
        return -1;
    }
    Py_ssize_t n = PySequence_Size(sizes), na = PySequence_Size(acts);
    if (n < 0 || na < 0) return -1;
    if (n < 2 || n > NN_MAX_LAYERS + 1 || na != n - 1) {
        PyErr_Format(PyExc_ValueError, "need 2 to %d sizes and one activation per layer",
                     NN_MAX_LAYERS + 1);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_GetItem(sizes, i);
        if (!o) return -1;
        long long v = PyLong_AsLongLong(o);
        Py_DECREF(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 1 || v > NN_MAX_WIDTH) {
            PyErr_Format(PyExc_ValueError, "sizes[%zd] must be in 1..%lld, got %lld", i,
                         (long long)NN_MAX_WIDTH, v);
            return -1;
        }
        self->sizes[i] = v;
    }
    for (Py_ssize_t i = 0; i < na; i++) {
        PyObject *o = PySequence_GetItem(acts, i);
        if (!o) return -1;
        long v = PyLong_AsLong(o);
        Py_DECREF(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 0 || v >= NN_N_ACTIVATIONS) {
            PyErr_Format(PyExc_ValueError, "activation code %ld out of range", v);
            return -1;
        }
        self->activations[i] = (int)v;
        const nn_activation_param_info *info = nn_activation_param((int)v);
        self->act_params[i] = info ? info->fallback : 0.0;
    }
    if (act_params != Py_None) {
        const Py_ssize_t np_ = PySequence_Size(act_params);
        if (np_ < 0) return -1;
        if (np_ != na) {
            PyErr_Format(PyExc_ValueError, "params needs one entry per layer (%zd), got %zd", na,
                         np_);
            return -1;
        }
        for (Py_ssize_t i = 0; i < na; i++) {
            PyObject *o = PySequence_GetItem(act_params, i);
            if (!o) return -1;
            if (o != Py_None) {
                const double v = PyFloat_AsDouble(o);
                if (v == -1.0 && PyErr_Occurred()) {
                    Py_DECREF(o);
                    return -1;
                }
                if (!nn_activation_param(self->activations[i])) {
                    PyErr_Format(PyExc_ValueError, "params[%zd]: activation '%s' takes no "
                                 "parameter, got %R", i,
                                 nn_activation_name(self->activations[i]), o);
                    Py_DECREF(o);
                    return -1;
                }
                if (!nn_activation_param_ok(self->activations[i], v)) {
                    PyErr_Format(PyExc_ValueError, "params[%zd]: %R is not a valid parameter "
                                 "of activation '%s'", i, o,
                                 nn_activation_name(self->activations[i]));
                    Py_DECREF(o);
                    return -1;
                }
                self->act_params[i] = v;
            }
            Py_DECREF(o);
        }
    }
    self->net.n_layers = (int)(n - 1);
    self->net.sizes = self->sizes;
    self->net.activations = self->activations;
    self->net.has_bias = bias;
    self->net.act_params = self->act_params;
    if (!nn_net_valid(&self->net)) {
        PyErr_Format(PyExc_ValueError, "not a network the core can hold: softmax before the "
                     "last layer, maxout as the last layer, a layer wider than %lld columns, "
                     "or more than %lld parameters", (long long)NN_MAX_WIDTH,
                     (long long)NN_MAX_PARAMS);
        return -1;
    }
    self->n_params = nn_param_count(&self->net);
    self->typenum = typenum;
    self->ops = typenum == NPY_DOUBLE ? &nn_ops_f64 : &nn_ops_f32;
    npy_intp size = self->n_params;
    self->params = (PyArrayObject *)PyArray_ZEROS(1, &size, typenum, 0);
    return self->params ? 0 : -1;
}

static int engine_traverse(EngineObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->params);
    Py_VISIT(self->opt_state);
    return 0;
}

static int engine_clear(EngineObject *self)
{
    Py_CLEAR(self->params);
    Py_CLEAR(self->opt_state);
    return 0;
}

static void engine_dealloc(EngineObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    engine_clear(self);
    nn_workspace_free(self->ws);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *engine_get_n_params(EngineObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->n_params);
}

static PyObject *engine_get_params(EngineObject *self, void *closure)
{
    (void)closure;
    if (engine_ready(self) < 0) return NULL;
    return Py_NewRef((PyObject *)self->params);
}

static PyObject *engine_offsets(EngineObject *self, PyObject *Py_UNUSED(ignored))
{
    /* [(weight_offset, bias_offset or -1), ...] per layer */
    if (engine_ready(self) < 0) return NULL;
    PyObject *list = PyList_New(self->net.n_layers);
    if (!list) return NULL;
    for (int l = 0; l < self->net.n_layers; l++) {
        PyObject *t = Py_BuildValue("LL", (long long)nn_weight_offset(&self->net, l),
                                    (long long)nn_bias_offset(&self->net, l));
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, l, t);
    }
    return list;
}

/* init_weights(seed, scheme): every weight matrix drawn as
 * np.random.RandomState(seed) would draw it by the scheme's code (_core.INITS),
 * without building one; the biases are left as they are. */
static PyObject *engine_init_weights(EngineObject *self, PyObject *args)
{
    unsigned long long seed;
    int scheme;
    if (!PyArg_ParseTuple(args, "Ki", &seed, &scheme)) return NULL;
    if (engine_ready(self) < 0 || engine_idle(self) < 0) return NULL;
    if (seed > 0xffffffffull || scheme < 0 || scheme >= NN_N_INITS) {
        PyErr_SetString(PyExc_ValueError, "init_weights: seed must be in [0, 2**32), scheme a code of INITS");
        return NULL;
    }
    nn_mt19937 state;
    nn_mt19937_seed(&state, (uint32_t)seed);
    if (nn_init_weights(&self->net, params_data(self), (size_t)PyArray_ITEMSIZE(self->params),
                        scheme, &state)) {
        PyErr_SetString(PyExc_ValueError, "init_weights: invalid network");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The engine's methods; each docstring is the method's first comment above. */
#define METHOD(name, flags, doc) {#name, (PyCFunction)(void (*)(void))engine_##name, flags, doc}
static PyMethodDef engine_methods[] = {
    METHOD(data, METH_VARARGS, "data(X, y) -> Data: X and y validated once for this network."),
    METHOD(predict, METH_O, "predict(X) -> output (n, n_out), or (n_out,) for a 1-D X."),
    METHOD(predict_nowait, METH_O, "predict_nowait(X) -> predict(X), or None if it would wait."),
    METHOD(feedforward_nowait, METH_O,
           "feedforward_nowait(x) -> predict_nowait(x), a float for one sample of one output."),
    METHOD(set_busy, METH_O, "set_busy(flag): Python code is writing the parameters."),
    METHOD(forward, METH_O, "forward(X) -> [l0, ..., lL], every layer's output."),
    METHOD(loss, METH_VARARGS, "loss(data, loss_code) -> float."),
    METHOD(gradients, METH_VARARGS, "gradients(data, loss_code) -> (loss, grads)."),
    METHOD(train, METH_FASTCALL | METH_KEYWORDS, "train(data, ...) -> (status, epochs, bad, rng)."),
    METHOD(objective, METH_VARARGS,
           "objective(data, loss, loss_scale, grad_scale, l2, l1, reg_per_row, prob_clip, params, "
           "grads) -> float: a training step's objective over all rows; its gradient into grads."),
    METHOD(trace, METH_VARARGS, "trace(data, loss_code) -> (acts, errors, deltas, grads)."),
    METHOD(init_weights, METH_VARARGS, "init_weights(seed, scheme): weights as RandomState(seed) draws them."),
    METHOD(offsets, METH_NOARGS, "offsets() -> [(weight offset, bias offset or -1)] by layer."),
    METHOD(optimizer_state, METH_NOARGS, "optimizer_state() -> None or (code, blocks, state, t)."),
    METHOD(set_optimizer_state, METH_O, "set_optimizer_state(None or (code, blocks, state, t))."),
    {NULL, NULL, 0, NULL},
};
#undef METHOD

static PyGetSetDef engine_getset[] = {
    {"n_params", (getter)engine_get_n_params, NULL, "number of parameters", NULL},
    {"params", (getter)engine_get_params, NULL,
     "the parameter block (n_params,): W0, b0, W1, b1, ... (the network's own memory)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot engine_slots[] = {
    {Py_tp_doc, "Engine(sizes, activations, bias, dtype, params=None): the C core bound to one "
                "network's parameter block.  Internal; use nnext.Network."},
    {Py_tp_init, engine_init},
    {Py_tp_dealloc, engine_dealloc},
    {Py_tp_traverse, engine_traverse},
    {Py_tp_clear, engine_clear},
    {Py_tp_methods, engine_methods},
    {Py_tp_getset, engine_getset},
    {Py_tp_new, PyType_GenericNew},
    {0, NULL},
};

PyType_Spec engine_spec = {
    .name = "nnext._core.Engine",
    .basicsize = sizeof(EngineObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = engine_slots,
};

/* ------------------------------------------------------------ Data type */

static void data_dealloc(DataObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(self->X);
    Py_XDECREF(self->Y);
    Py_XDECREF(self->W);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMemberDef data_members[] = {
    {"X", T_OBJECT_EX, offsetof(DataObject, X), READONLY, "the validated inputs (n, n_in)"},
    {"Y", T_OBJECT_EX, offsetof(DataObject, Y), READONLY, "the validated targets (n, n_out)"},
    {"W", T_OBJECT, offsetof(DataObject, W), READONLY, "the rows' weights (n,), or None"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot data_slots[] = {
    {Py_tp_doc, "X and y validated for one network by Engine.data (internal)."},
    {Py_tp_dealloc, data_dealloc}, {Py_tp_members, data_members}, {0, NULL}};

PyType_Spec data_spec = {"nnext._core.Data", sizeof(DataObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, data_slots};
