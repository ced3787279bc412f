/*
 * nnext._core: the thin layer between Python and the C core.
 *
 *  - Converts and validates each argument once: arrays become C-contiguous
 *    matrices of the network's dtype, checked for shape and finiteness, and
 *    copied when they overlap the network's own buffers (to_matrix).  X and y
 *    for the loss-based calls are validated together into a Data object that
 *    fit reuses for every chunk of epochs.
 *  - Dispatches by dtype in one place: an Engine holds the core's table of
 *    untyped functions for its dtype (nn_ops_f64 or nn_ops_f32).
 *  - Releases the GIL by one rule (core_begin): when a call's work is more
 *    than GIL_RELEASE_WORK multiply-adds; only then does training poll for
 *    Ctrl-C (the poll needs the GIL released).
 *  - Owns the network's memory: the parameter block and the optimizer state,
 *    so that the state always sits beside the parameters it describes.
 * Names, defaults and friendly argument handling live in the Python package.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <structmember.h>

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "nnext_core.h"

/* Below this many multiply-adds a call keeps the GIL: releasing costs more. */
#define GIL_RELEASE_WORK 20000
/* predict and loss run in chunks of this many rows through a cached workspace;
 * a call that needs a workspace for more rows (gradients) makes its own. */
#define CHUNK_ROWS 256

typedef struct {
    PyObject *engine_type;
    PyObject *data_type;
} module_state;

typedef struct {
    PyObject_HEAD
    nn_net net;
    int64_t sizes[NN_MAX_LAYERS + 1];
    int activations[NN_MAX_LAYERS];
    int typenum;               /* NPY_DOUBLE or NPY_FLOAT                         */
    const nn_ops *ops;         /* the core's functions for that type              */
    int64_t n_params;
    PyArrayObject *params;     /* (n_params,) the network's own parameters        */
    PyArrayObject *opt_state;  /* (blocks * n_params,) or NULL: optimizer state   */
    int opt_optimizer;         /* the optimizer code the state belongs to         */
    int opt_blocks;            /* nn_optimizer_state_blocks of that optimizer     */
    int64_t adam_step;         /* Adam's t: updates applied to opt_state          */
    nn_workspace *ws;          /* cached CHUNK_ROWS workspace, made on demand      */
    int busy;                  /* a call is running with the GIL released          */
} EngineObject;

/* X (n, sizes[0]) and Y (n, sizes[L]), validated for one engine's shape and dtype. */
typedef struct {
    PyObject_HEAD
    PyArrayObject *X, *Y;
    int typenum;
    int64_t n_in, n_out;
} DataObject;

/* ------------------------------------------------------------ arrays */

static PyObject *shape_of(PyArrayObject *a)
{
    const int nd = PyArray_NDIM(a);
    PyObject *t = PyTuple_New(nd);
    if (!t) return NULL;
    for (int i = 0; i < nd; i++) {
        PyObject *d = PyLong_FromSsize_t(PyArray_DIM(a, i));
        if (!d) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, d);
    }
    return t;
}

/* Raise exc with "<message>, got shape <shape of a>"; steals message. */
static void raise_with_shape(PyObject *exc, PyArrayObject *a, PyObject *message)
{
    PyObject *shape = message ? shape_of(a) : NULL;
    if (shape) PyErr_Format(exc, "%U, got shape %R", message, shape);
    Py_XDECREF(shape);
    Py_XDECREF(message);
}

/* Whether a's values are all finite (a C-contiguous float64 or float32 array). */
static int all_finite(PyArrayObject *a)
{
    const npy_intp n = PyArray_SIZE(a);
    int bad = 0; /* x - x is NaN iff x is NaN or inf */
    if (PyArray_TYPE(a) == NPY_DOUBLE) {
        const double *x = PyArray_DATA(a);
        for (npy_intp i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    } else {
        const float *x = PyArray_DATA(a);
        for (npy_intp i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    }
    return !bad;
}

/* Whether the bytes of a overlap those of b (NULL: no). */
static int overlaps(PyArrayObject *a, PyArrayObject *b)
{
    if (!b) return 0;
    const char *a0 = PyArray_DATA(a), *b0 = PyArray_DATA(b);
    const char *a1 = a0 + PyArray_NBYTES(a), *b1 = b0 + PyArray_NBYTES(b);
    return a0 < b1 && b0 < a1;
}

/* Whether a float array of any layout holds NaN or infinity (-1: error). */
static int has_nonfinite(PyArrayObject *a)
{
    PyArray_Descr *descr = PyArray_DescrFromType(NPY_DOUBLE);
    if (!descr) return -1;
    PyArrayObject *d = (PyArrayObject *)PyArray_FromArray(
        a, descr, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    if (!d) return -1;
    const int bad = !all_finite(d);
    Py_DECREF(d);
    return bad;
}

/*
 * obj as a new reference to a C-contiguous (rows, ncols) array of the
 * engine's dtype, never sharing memory with the engine's own buffers.  A 1-D
 * input is taken as one row when allow_1d (and *was_1d is set).  Errors:
 * TypeError for non-real data; ValueError for a wrong shape, no rows, NaN or
 * infinity, or values too large for the dtype.
 */
static PyArrayObject *to_matrix(EngineObject *self, PyObject *obj, npy_intp ncols,
                                const char *name, int allow_1d, int *was_1d)
{
    if (was_1d) *was_1d = 0;
    PyArrayObject *arr = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!arr) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_Format(PyExc_ValueError, "%s could not be read as an array: %S", name,
                         value ? value : Py_None);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        }
        return NULL;
    }
    const int t = PyArray_TYPE(arr);
    if (!(PyTypeNum_ISBOOL(t) || PyTypeNum_ISINTEGER(t) || PyTypeNum_ISFLOAT(t))) {
        PyErr_Format(PyExc_TypeError, "%s must hold real numbers, got dtype %R", name,
                     (PyObject *)PyArray_DESCR(arr));
        goto fail;
    }
    const int nd = PyArray_NDIM(arr);
    const long long nc = (long long)ncols;
    if (!(nd == 2 || (nd == 1 && allow_1d))) {
        raise_with_shape(PyExc_ValueError, arr,
                         allow_1d ? PyUnicode_FromFormat("%s must be 2-D (n_samples, %lld) or "
                                                         "one sample of shape (%lld,)",
                                                         name, nc, nc)
                                  : PyUnicode_FromFormat("%s must be 2-D (n_samples, %lld)",
                                                         name, nc));
        goto fail;
    }
    const npy_intp cols = PyArray_DIM(arr, nd - 1);
    const npy_intp rows = nd == 2 ? PyArray_DIM(arr, 0) : 1;
    if (cols != ncols) {
        raise_with_shape(PyExc_ValueError, arr,
                         PyUnicode_FromFormat(nd == 2 ? "%s must have %lld columns"
                                                      : "%s must have %lld values",
                                              name, nc));
        goto fail;
    }
    if (rows < 1) {
        raise_with_shape(PyExc_ValueError, arr,
                         PyUnicode_FromFormat("%s must have at least one row", name));
        goto fail;
    }
    PyArray_Descr *descr = PyArray_DescrFromType(self->typenum);
    if (!descr) goto fail;
    int flags = NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST;
    if (overlaps(arr, self->params) || overlaps(arr, self->opt_state))
        flags |= NPY_ARRAY_ENSURECOPY; /* the network's own memory: behave as a copy */
    PyArrayObject *out = (PyArrayObject *)PyArray_FromArray(arr, descr, flags);
    if (!out) goto fail;
    if (nd == 1) {
        npy_intp dims[2] = {1, ncols};
        PyArray_Dims newshape = {dims, 2};
        PyArrayObject *r = (PyArrayObject *)PyArray_Newshape(out, &newshape, NPY_CORDER);
        Py_DECREF(out);
        if (!r) goto fail;
        out = r;
        if (was_1d) *was_1d = 1;
    }
    if (!all_finite(out)) {
        const int source_bad = PyTypeNum_ISFLOAT(t) ? has_nonfinite(arr) : 0;
        if (source_bad < 0) PyErr_Clear();
        if (source_bad)
            PyErr_Format(PyExc_ValueError, "%s contains NaN or infinity", name);
        else
            PyErr_Format(PyExc_ValueError, "%s has values too large for %s (they would become "
                         "infinity)", name, self->typenum == NPY_DOUBLE ? "float64" : "float32");
        Py_DECREF(out);
        goto fail;
    }
    Py_DECREF(arr);
    return out;
fail:
    Py_DECREF(arr);
    return NULL;
}

/* ------------------------------------------------------------ engine: calls */

static int engine_ready(EngineObject *self)
{
    if (!self->params) {
        PyErr_SetString(PyExc_RuntimeError, "Engine was not initialised");
        return -1;
    }
    return 0;
}

static void *params_data(EngineObject *self) { return PyArray_DATA(self->params); }

/* -1 with RuntimeError when another thread is inside a call on this engine. */
static int engine_idle(EngineObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this network is in use by another thread; use one network per thread "
                        "or call Network methods, which serialise access");
        return -1;
    }
    return 0;
}

/* A call into the core with the GIL released (ts: the saved thread state). */
typedef struct {
    PyThreadState *ts;
    unsigned long generation; /* interrupt_generation when the call began */
} core_call;

/* Bumped by _interrupt_all(): every running call stops with KeyboardInterrupt
 * (Ctrl-C reaches only the main thread; sweep's worker threads need this). */
static atomic_ulong interrupt_generation;

/* The poll (nnext_runtime.h): take the GIL for a moment, look for Ctrl-C and
 * for _interrupt_all(); non-zero, with the exception set, to stop. */
static int poll_signals(void *ctx)
{
    core_call *c = ctx;
    PyEval_RestoreThread(c->ts);
    int stop = PyErr_CheckSignals() != 0;
    if (!stop && atomic_load(&interrupt_generation) != c->generation) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        stop = 1;
    }
    c->ts = PyEval_SaveThread();
    return stop;
}

/* The one GIL rule: a call into the core takes the busy flag, and releases the
 * GIL when its work (multiply-adds, roughly) is above GIL_RELEASE_WORK; only
 * then does it poll for Ctrl-C (the poll needs the GIL released).  -1 with an
 * exception when the engine is busy. */
static int core_begin(EngineObject *self, double work, core_call *call)
{
    call->ts = NULL;
    if (engine_idle(self) < 0) return -1;
    self->busy = 1;
    if (work > GIL_RELEASE_WORK) {
        call->generation = atomic_load(&interrupt_generation);
        call->ts = PyEval_SaveThread();
        nn_poll_begin(poll_signals, call);
    }
    return 0;
}

/* Ends the call; -1 with the poll's exception (KeyboardInterrupt) when it was
 * interrupted. */
static int core_end(EngineObject *self, core_call *call)
{
    int interrupted = 0;
    if (call->ts) {
        interrupted = nn_poll_end();
        PyEval_RestoreThread(call->ts);
    }
    self->busy = 0;
    if (interrupted && !PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    return interrupted ? -1 : 0;
}

/* The multiply-adds of one pass over n rows. */
static double work_of(const EngineObject *self, npy_intp n)
{
    return (double)n * (double)self->n_params;
}

/* The one workspace policy: up to CHUNK_ROWS rows, the engine's cached one;
 * more, one made for the call (*owned = 1: the caller frees it). */
static nn_workspace *engine_workspace(EngineObject *self, int64_t rows, int *owned)
{
    *owned = rows > CHUNK_ROWS;
    if (*owned) {
        nn_workspace *ws = self->ops->workspace_new(&self->net, rows);
        if (!ws) PyErr_NoMemory();
        return ws;
    }
    if (!self->ws) self->ws = self->ops->workspace_new(&self->net, CHUNK_ROWS);
    if (!self->ws) PyErr_NoMemory();
    return self->ws;
}

static int check_loss_code(int loss)
{
    if (loss < 0 || loss >= NN_N_LOSSES) {
        PyErr_Format(PyExc_ValueError, "loss code must be in 0..%d, got %d", NN_N_LOSSES - 1,
                     loss);
        return -1;
    }
    return 0;
}

/* data as validated for this engine (a Data made by engine.data()). */
static DataObject *as_data(EngineObject *self, PyObject *data)
{
    PyObject *mod = PyType_GetModule(Py_TYPE(self));
    module_state *st = mod ? PyModule_GetState(mod) : NULL;
    if (!st) return NULL;
    if (!PyObject_TypeCheck(data, (PyTypeObject *)st->data_type)) {
        PyErr_Format(PyExc_TypeError, "expected a Data object from Engine.data(X, y), got %R",
                     (PyObject *)Py_TYPE(data));
        return NULL;
    }
    DataObject *d = (DataObject *)data;
    if (d->typenum != self->typenum || d->n_in != self->sizes[0] ||
        d->n_out != self->sizes[self->net.n_layers]) {
        PyErr_SetString(PyExc_ValueError, "this Data was validated for another network's "
                                          "shape or dtype");
        return NULL;
    }
    return d;
}

/* data(X, Y) -> Data: X (n, n_in) and Y (n, n_out) validated together, once. */
static PyObject *engine_data(EngineObject *self, PyObject *args)
{
    PyObject *X_obj, *Y_obj;
    if (!PyArg_ParseTuple(args, "OO", &X_obj, &Y_obj) || engine_ready(self) < 0) return NULL;
    PyObject *mod = PyType_GetModule(Py_TYPE(self));
    module_state *st = mod ? PyModule_GetState(mod) : NULL;
    if (!st) return NULL;
    const int L = self->net.n_layers;
    PyArrayObject *X = to_matrix(self, X_obj, self->sizes[0], "X", 0, NULL);
    if (!X) return NULL;
    PyArrayObject *Y = to_matrix(self, Y_obj, self->sizes[L], "y", 0, NULL);
    if (!Y) {
        Py_DECREF(X);
        return NULL;
    }
    if (PyArray_DIM(X, 0) != PyArray_DIM(Y, 0)) {
        PyObject *xs = shape_of(X), *ys = xs ? shape_of(Y) : NULL;
        if (ys)
            PyErr_Format(PyExc_ValueError, "X and y must have the same number of rows, got X "
                         "shape %R and y shape %R", xs, ys);
        Py_XDECREF(xs);
        Py_XDECREF(ys);
        Py_DECREF(X);
        Py_DECREF(Y);
        return NULL;
    }
    DataObject *d = PyObject_New(DataObject, (PyTypeObject *)st->data_type);
    if (!d) {
        Py_DECREF(X);
        Py_DECREF(Y);
        return NULL;
    }
    d->X = X; /* references handed over */
    d->Y = Y;
    d->typenum = self->typenum;
    d->n_in = self->sizes[0];
    d->n_out = self->sizes[L];
    return (PyObject *)d;
}

/* predict(X) -> output (n, n_out), or (n_out,) for a 1-D X. */
static PyObject *engine_predict(EngineObject *self, PyObject *X_obj)
{
    if (engine_ready(self) < 0) return NULL;
    const int L = self->net.n_layers;
    int was_1d, owned;
    PyArrayObject *X = to_matrix(self, X_obj, self->sizes[0], "X", 1, &was_1d);
    if (!X) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    npy_intp dims[2] = {n, self->sizes[L]};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(was_1d ? 1 : 2, was_1d ? dims + 1 : dims,
                                                            self->typenum);
    core_call call;
    nn_workspace *ws = out ? engine_workspace(self, n < CHUNK_ROWS ? n : CHUNK_ROWS, &owned) : NULL;
    if (!ws || core_begin(self, work_of(self, n), &call) < 0) {
        Py_DECREF(X);
        Py_XDECREF(out);
        return NULL;
    }
    self->ops->predict(&self->net, params_data(self), ws, PyArray_DATA(X), n, PyArray_DATA(out));
    Py_DECREF(X);
    if (core_end(self, &call) < 0) Py_CLEAR(out);
    return (PyObject *)out;
}

/* A list of L + 1 new (n, sizes[l]) arrays; data pointers into ptrs.  Entry 0 is
 * left as None (with a NULL pointer) when skip_first. */
static PyObject *new_layer_arrays(EngineObject *self, npy_intp n, int skip_first, void **ptrs)
{
    const int L = self->net.n_layers;
    PyObject *list = PyList_New(L + 1);
    if (!list) return NULL;
    for (int l = 0; l <= L; l++) {
        if (l == 0 && skip_first) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(list, 0, Py_None);
            ptrs[0] = NULL;
            continue;
        }
        npy_intp dims[2] = {n, self->sizes[l]};
        PyObject *a = PyArray_SimpleNew(2, dims, self->typenum);
        if (!a) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, l, a);
        ptrs[l] = PyArray_DATA((PyArrayObject *)a);
    }
    return list;
}

/* forward(X) -> [l0, l1, ..., lL], each 2-D (n, sizes[l]); l0 a copy of X. */
static PyObject *engine_forward(EngineObject *self, PyObject *X_obj)
{
    if (engine_ready(self) < 0) return NULL;
    PyArrayObject *X = to_matrix(self, X_obj, self->sizes[0], "X", 1, NULL);
    if (!X) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    void *acts[NN_MAX_LAYERS + 1];
    PyObject *list = new_layer_arrays(self, n, 0, acts);
    core_call call;
    if (!list || core_begin(self, work_of(self, n), &call) < 0) {
        Py_DECREF(X);
        Py_XDECREF(list);
        return NULL;
    }
    memcpy(acts[0], PyArray_DATA(X), (size_t)PyArray_NBYTES(X));
    self->ops->forward(&self->net, params_data(self), acts, n);
    Py_DECREF(X);
    if (core_end(self, &call) < 0) Py_CLEAR(list);
    return list;
}

/* The arguments (data, loss_code) of the loss-based calls, checked; NULL with
 * an exception when they are not right for this engine. */
static DataObject *data_and_loss(EngineObject *self, PyObject *args, int *loss)
{
    PyObject *data_obj;
    if (!PyArg_ParseTuple(args, "Oi", &data_obj, loss) || engine_ready(self) < 0 ||
        check_loss_code(*loss) < 0)
        return NULL;
    return as_data(self, data_obj);
}

/* loss(data, loss_code) -> float: the loss over the whole set. */
static PyObject *engine_loss(EngineObject *self, PyObject *args)
{
    int loss, owned;
    DataObject *d = data_and_loss(self, args, &loss);
    if (!d) return NULL;
    const npy_intp n = PyArray_DIM(d->X, 0);
    core_call call;
    nn_workspace *ws = engine_workspace(self, n < CHUNK_ROWS ? n : CHUNK_ROWS, &owned);
    if (!ws || core_begin(self, work_of(self, n), &call) < 0) return NULL;
    const double value = self->ops->loss_value(&self->net, params_data(self), ws, loss,
                                               PyArray_DATA(d->X), PyArray_DATA(d->Y), n);
    if (core_end(self, &call) < 0) return NULL;
    return PyFloat_FromDouble(value);
}

/* gradients(data, loss_code) -> (loss, grads (n_params,)). */
static PyObject *engine_gradients(EngineObject *self, PyObject *args)
{
    int loss, owned;
    DataObject *d = data_and_loss(self, args, &loss);
    if (!d) return NULL;
    const npy_intp n = PyArray_DIM(d->X, 0);
    npy_intp size = self->n_params;
    PyArrayObject *grads = (PyArrayObject *)PyArray_SimpleNew(1, &size, self->typenum);
    if (!grads) return NULL;
    nn_workspace *ws = engine_workspace(self, n, &owned);
    core_call call;
    if (!ws || core_begin(self, 3 * work_of(self, n), &call) < 0) {
        if (ws && owned) nn_workspace_free(ws);
        Py_DECREF(grads);
        return NULL;
    }
    const double value = self->ops->gradients(&self->net, params_data(self), ws, loss,
                                              PyArray_DATA(d->X), PyArray_DATA(d->Y), n,
                                              PyArray_DATA(grads));
    if (owned) nn_workspace_free(ws);
    if (core_end(self, &call) < 0) {
        Py_DECREF(grads);
        return NULL;
    }
    PyObject *result = Py_BuildValue("dO", value, (PyObject *)grads);
    Py_DECREF(grads);
    return result;
}

/* trace(data, loss_code) -> (acts, errors, deltas, grads): one forward and backward
 * pass over all rows.  acts[l] (n, sizes[l]) for l = 0..L; errors[l] = dL/da_l and
 * deltas[l] = dL/dz_l for l = 1..L (entry 0 is None); grads (n_params,). */
static PyObject *engine_trace(EngineObject *self, PyObject *args)
{
    int loss;
    DataObject *d = data_and_loss(self, args, &loss);
    if (!d) return NULL;
    const npy_intp n = PyArray_DIM(d->X, 0);
    void *acts[NN_MAX_LAYERS + 1], *errors[NN_MAX_LAYERS + 1], *deltas[NN_MAX_LAYERS + 1];
    PyObject *result = NULL, *grads = NULL;
    PyObject *acts_list = new_layer_arrays(self, n, 0, acts);
    PyObject *errors_list = acts_list ? new_layer_arrays(self, n, 1, errors) : NULL;
    PyObject *deltas_list = errors_list ? new_layer_arrays(self, n, 1, deltas) : NULL;
    if (deltas_list) {
        npy_intp size = self->n_params;
        grads = PyArray_SimpleNew(1, &size, self->typenum);
    }
    core_call call;
    if (!grads || core_begin(self, 3 * work_of(self, n), &call) < 0) goto done;
    memcpy(acts[0], PyArray_DATA(d->X), (size_t)PyArray_NBYTES(d->X));
    self->ops->forward(&self->net, params_data(self), acts, n);
    self->ops->backward(&self->net, params_data(self), (const void *const *)acts,
                        PyArray_DATA(d->Y), n, loss, errors, deltas,
                        PyArray_DATA((PyArrayObject *)grads));
    if (core_end(self, &call) < 0) goto done;
    result = PyTuple_Pack(4, acts_list, errors_list, deltas_list, grads);
done:
    Py_XDECREF(acts_list);
    Py_XDECREF(errors_list);
    Py_XDECREF(deltas_list);
    Py_XDECREF(grads);
    return result;
}

/* ------------------------------------------------------------ training */

/* The optimizer state for this optimizer (code, blocks): kept when the engine's
 * state belongs to the same kind, else replaced by zeros (with t = 0). */
static int engine_prepare_state(EngineObject *self, int optimizer, int blocks)
{
    if (self->opt_state && self->opt_optimizer == optimizer && self->opt_blocks == blocks)
        return 0;
    npy_intp size = (npy_intp)blocks * (npy_intp)self->n_params;
    PyArrayObject *state = (PyArrayObject *)PyArray_ZEROS(1, &size, self->typenum, 0);
    if (!state) return -1;
    Py_XSETREF(self->opt_state, state);
    self->opt_optimizer = optimizer;
    self->opt_blocks = blocks;
    self->adam_step = 0;
    return 0;
}

/*
 * train(data, loss, optimizer, lr, momentum, beta1, beta2, eps, batch_size,
 *       shuffle, rng_state, n_epochs, losses) -> (status, epochs_done, bad_epoch, rng_state)
 * Trains in place with the engine's optimizer state.  status: 0 done, 3 loss
 * non-finite at bad_epoch (parameters and state restored to that epoch's
 * start).  Ctrl-C raises KeyboardInterrupt; however the call ends, the
 * parameters, the optimizer state and its step count describe the same whole
 * number of completed steps.
 */
static PyObject *engine_train(EngineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "loss", "optimizer", "lr", "momentum", "beta1", "beta2",
                             "eps", "batch_size", "shuffle", "rng_state", "n_epochs", "losses",
                             NULL};
    PyObject *data_obj;
    PyArrayObject *losses;
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    unsigned long long rng_state;
    long long batch_size, n_epochs;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oiiddddd" "LpKLO!", kwlist, &data_obj,
                                     &cfg.loss, &cfg.optimizer, &cfg.lr, &cfg.momentum,
                                     &cfg.beta1, &cfg.beta2, &cfg.eps, &batch_size,
                                     &cfg.shuffle, &rng_state, &n_epochs, &PyArray_Type, &losses))
        return NULL;
    DataObject *d;
    if (engine_ready(self) < 0 || check_loss_code(cfg.loss) < 0 || !(d = as_data(self, data_obj)))
        return NULL;
    if (cfg.optimizer < 0 || cfg.optimizer >= NN_N_OPTIMIZERS || batch_size < 1 || n_epochs < 0) {
        PyErr_SetString(PyExc_ValueError, "invalid optimizer code, batch_size or n_epochs");
        return NULL;
    }
    if (PyArray_TYPE(losses) != NPY_DOUBLE || !PyArray_IS_C_CONTIGUOUS(losses) ||
        !PyArray_ISWRITEABLE(losses) || PyArray_SIZE(losses) < n_epochs) {
        PyErr_SetString(PyExc_ValueError, "losses must be a writeable float64 array of "
                                          "n_epochs elements");
        return NULL;
    }
    const int blocks = nn_optimizer_state_blocks(&cfg);
    if (engine_idle(self) < 0 || engine_prepare_state(self, cfg.optimizer, blocks) < 0) return NULL;
    cfg.batch_size = batch_size;
    cfg.rng_state = rng_state;
    cfg.adam_step = self->adam_step;
    cfg.n_epochs = n_epochs;
    const npy_intp n = PyArray_DIM(d->X, 0);
    core_call call;
    if (core_begin(self, 3 * work_of(self, n) * (double)n_epochs, &call) < 0) return NULL;
    if (call.ts) { /* the poll needs the GIL released */
        cfg.poll = poll_signals;
        cfg.poll_ctx = &call;
    }
    nn_train_result result;
    const nn_status status =
        self->ops->train(&self->net, params_data(self), PyArray_DATA(self->opt_state),
                         PyArray_DATA(d->X), PyArray_DATA(d->Y), n, &cfg, PyArray_DATA(losses),
                         &result);
    core_end(self, &call); /* (nn_train reports an interrupt in its status) */
    self->adam_step = cfg.adam_step; /* in step with opt_state, however the call ended */
    switch (status) {
    case NN_OK:
    case NN_ERR_NONFINITE:
        return Py_BuildValue("iLLK", (int)status, (long long)result.epochs_done,
                             (long long)result.bad_epoch, (unsigned long long)cfg.rng_state);
    case NN_ERR_NOMEM:
        return PyErr_NoMemory();
    case NN_ERR_INTERRUPTED:
        if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    default:
        PyErr_SetString(PyExc_ValueError, "invalid training arguments");
        return NULL;
    }
}

/* optimizer_state() -> None, or (optimizer code, blocks, state copy, adam_step). */
static PyObject *engine_optimizer_state(EngineObject *self, PyObject *Py_UNUSED(ignored))
{
    if (engine_ready(self) < 0) return NULL;
    if (!self->opt_state) Py_RETURN_NONE;
    PyObject *copy = PyArray_NewCopy(self->opt_state, NPY_CORDER);
    if (!copy) return NULL;
    PyObject *t = Py_BuildValue("iiOL", self->opt_optimizer, self->opt_blocks, copy,
                                (long long)self->adam_step);
    Py_DECREF(copy);
    return t;
}

/* set_optimizer_state(None) forgets the state; set_optimizer_state((optimizer,
 * blocks, state, adam_step)) copies it in (as returned by optimizer_state). */
static PyObject *engine_set_optimizer_state(EngineObject *self, PyObject *arg)
{
    if (engine_ready(self) < 0 || engine_idle(self) < 0) return NULL;
    if (arg == Py_None) {
        Py_CLEAR(self->opt_state);
        self->adam_step = 0;
        Py_RETURN_NONE;
    }
    int optimizer, blocks;
    PyObject *state_obj;
    long long step;
    if (!PyArg_ParseTuple(arg, "iiOL", &optimizer, &blocks, &state_obj, &step)) return NULL;
    if (optimizer < 0 || optimizer >= NN_N_OPTIMIZERS || blocks < 0 || blocks > 2 || step < 0) {
        PyErr_SetString(PyExc_ValueError, "optimizer state: invalid optimizer, blocks or step");
        return NULL;
    }
    PyArray_Descr *descr = PyArray_DescrFromType(self->typenum);
    if (!descr) return NULL;
    PyArrayObject *state = (PyArrayObject *)PyArray_FromAny(
        state_obj, descr, 1, 1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_ENSURECOPY,
        NULL);
    if (!state) return NULL;
    if (PyArray_SIZE(state) != (npy_intp)blocks * self->n_params || !all_finite(state)) {
        PyErr_Format(PyExc_ValueError, "optimizer state must be %lld finite values",
                     (long long)blocks * (long long)self->n_params);
        Py_DECREF(state);
        return NULL;
    }
    Py_XSETREF(self->opt_state, state);
    self->opt_optimizer = optimizer;
    self->opt_blocks = blocks;
    self->adam_step = step;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ engine: type */

/* Engine(sizes, activations, bias, dtype): a network's shape and its own
 * parameter block (zeros), bound to the core. */
static int engine_init(EngineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"sizes", "activations", "bias", "dtype", NULL};
    PyObject *sizes, *acts;
    int bias;
    PyArray_Descr *dtype = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOpO&", kwlist, &sizes, &acts, &bias,
                                     PyArray_DescrConverter, &dtype))
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
    }
    self->net.n_layers = (int)(n - 1);
    self->net.sizes = self->sizes;
    self->net.activations = self->activations;
    self->net.has_bias = bias;
    if (!nn_net_valid(&self->net)) {
        PyErr_Format(PyExc_ValueError, "not a network the core can hold: softmax before the "
                     "last layer, or more than %lld parameters", (long long)NN_MAX_PARAMS);
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

/* The engine's methods; each docstring is the method's first comment above. */
#define METHOD(name, flags, doc) {#name, (PyCFunction)(void (*)(void))engine_##name, flags, doc}
static PyMethodDef engine_methods[] = {
    METHOD(data, METH_VARARGS, "data(X, y) -> Data: X and y validated once for this network."),
    METHOD(predict, METH_O, "predict(X) -> output (n, n_out), or (n_out,) for a 1-D X."),
    METHOD(forward, METH_O, "forward(X) -> [l0, ..., lL], every layer's output."),
    METHOD(loss, METH_VARARGS, "loss(data, loss_code) -> float."),
    METHOD(gradients, METH_VARARGS, "gradients(data, loss_code) -> (loss, grads)."),
    METHOD(train, METH_VARARGS | METH_KEYWORDS, "train(data, ...) -> (status, epochs, bad, rng)."),
    METHOD(trace, METH_VARARGS, "trace(data, loss_code) -> (acts, errors, deltas, grads)."),
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
    {Py_tp_doc, "Engine(sizes, activations, bias, dtype): the C core bound to one "
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

static PyType_Spec engine_spec = {
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
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMemberDef data_members[] = {
    {"X", T_OBJECT_EX, offsetof(DataObject, X), READONLY, "the validated inputs (n, n_in)"},
    {"Y", T_OBJECT_EX, offsetof(DataObject, Y), READONLY, "the validated targets (n, n_out)"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot data_slots[] = {
    {Py_tp_doc, "X and y validated for one network by Engine.data (internal)."},
    {Py_tp_dealloc, data_dealloc}, {Py_tp_members, data_members}, {0, NULL}};

static PyType_Spec data_spec = {"nnext._core.Data", sizeof(DataObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, data_slots};

/* ------------------------------------------------------------ module */

/* A tuple of the names name_of(0), name_of(1), ... up to count. */
static PyObject *names_tuple(const char *(*name_of)(int), int count)
{
    PyObject *t = PyTuple_New(count);
    if (!t) return NULL;
    for (int i = 0; i < count; i++) {
        PyObject *s = PyUnicode_FromString(name_of(i));
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static int add_names(PyObject *module, const char *attr, const char *(*name_of)(int), int count)
{
    PyObject *t = names_tuple(name_of, count);
    if (!t) return -1;
    const int rc = PyModule_AddObjectRef(module, attr, t);
    Py_DECREF(t);
    return rc;
}

static int module_exec(PyObject *module)
{
    import_array1(-1);
    module_state *st = PyModule_GetState(module);
    st->engine_type = PyType_FromModuleAndSpec(module, &engine_spec, NULL);
    if (!st->engine_type) return -1;
    st->data_type = PyType_FromModuleAndSpec(module, &data_spec, NULL);
    if (!st->data_type) return -1;
    if (PyModule_AddObjectRef(module, "Engine", st->engine_type) < 0 ||
        PyModule_AddObjectRef(module, "Data", st->data_type) < 0 ||
        PyModule_AddIntConstant(module, "MAX_LAYERS", NN_MAX_LAYERS) < 0 ||
        PyModule_AddIntConstant(module, "MAX_WIDTH", (long)NN_MAX_WIDTH) < 0 ||
        PyModule_AddIntConstant(module, "MAX_THREADS", NN_MAX_THREADS) < 0 ||
        add_names(module, "ACTIVATIONS", nn_activation_name, NN_N_ACTIVATIONS) < 0 ||
        add_names(module, "LOSSES", nn_loss_name, NN_N_LOSSES) < 0 ||
        add_names(module, "OPTIMIZERS", nn_optimizer_name, NN_N_OPTIMIZERS) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *st = PyModule_GetState(module);
    Py_VISIT(st->engine_type);
    Py_VISIT(st->data_type);
    return 0;
}

static int module_clear(PyObject *module)
{
    module_state *st = PyModule_GetState(module);
    Py_CLEAR(st->engine_type);
    Py_CLEAR(st->data_type);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

static PyObject *core_set_num_threads(PyObject *module, PyObject *arg)
{
    (void)module;
    const long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 0 || n > NN_MAX_THREADS) {
        PyErr_Format(PyExc_ValueError, "n must be in 0..%d (0: the default), got %ld",
                     NN_MAX_THREADS, n);
        return NULL;
    }
    nn_set_num_threads((int)n);
    Py_RETURN_NONE;
}

static PyObject *core_get_num_threads(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromLong(nn_get_num_threads());
}

/* For tests: the fused small-network path of training on or off (process-wide). */
static PyObject *core_set_fused_path(PyObject *module, PyObject *arg)
{
    (void)module;
    const int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    nn_set_fused_path(on);
    Py_RETURN_NONE;
}

static PyObject *core_get_fused_path(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyBool_FromLong(nn_get_fused_path());
}

/* Interrupts every call running in any thread (sweep's answer to Ctrl-C). */
static PyObject *core_interrupt_all(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    atomic_fetch_add(&interrupt_generation, 1);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_interrupt_all", core_interrupt_all, METH_NOARGS,
     "_interrupt_all(): every call running in another thread stops with KeyboardInterrupt."},
    {"set_num_threads", core_set_num_threads, METH_O,
     "set_num_threads(n): threads for large products; 0 restores the default."},
    {"get_num_threads", core_get_num_threads, METH_NOARGS,
     "get_num_threads() -> the number of threads used for large products."},
    {"_set_fused_path", core_set_fused_path, METH_O,
     "_set_fused_path(on): for tests, the fused path of training for tiny networks "
     "(on by default; it gives the same bits as the general path)."},
    {"_get_fused_path", core_get_fused_path, METH_NOARGS,
     "_get_fused_path() -> whether the fused path of training is on."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "nnext._core",
    .m_doc = "The C core of nnext bound to NumPy arrays (internal: use nnext.Network).",
    .m_size = sizeof(module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&core_module); }
