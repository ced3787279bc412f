/*
 * nnext._core: the thin layer between Python and the C core.  It converts and
 * validates arrays (dtype, shape, finiteness), releases the GIL around the
 * core's loops and turns the core's status codes into Python exceptions.
 * Names, defaults and friendly argument handling live in nnext/network.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>

#include <string.h>

#include "nnext_core.h"

#define MAX_LAYERS 64
/* Below this many multiply-adds a call keeps the GIL: releasing costs more. */
#define GIL_RELEASE_WORK 20000

typedef struct {
    PyObject *engine_type;
} module_state;

typedef struct {
    PyObject_HEAD
    nn_net net;
    int64_t sizes[MAX_LAYERS + 1];
    int activations[MAX_LAYERS];
    int typenum;               /* NPY_DOUBLE or NPY_FLOAT                   */
    int64_t n_params;
    PyArrayObject *params;     /* (n_params,) the network's own parameters  */
    nn_workspace *predict_ws;  /* cached for predict/loss, made on demand   */
    int busy;                  /* a call is running with the GIL released   */
} EngineObject;

/* ------------------------------------------------------------ arrays */

static int is_f64(const EngineObject *self) { return self->typenum == NPY_DOUBLE; }

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

static int all_finite(PyArrayObject *a)
{
    const npy_intp n = PyArray_SIZE(a);
    if (PyArray_TYPE(a) == NPY_DOUBLE) {
        const double *x = PyArray_DATA(a);
        double acc = 0;
        for (npy_intp i = 0; i < n; i++) acc += x[i] - x[i];
        return acc == 0;
    }
    const float *x = PyArray_DATA(a);
    float acc = 0;
    for (npy_intp i = 0; i < n; i++) acc += x[i] - x[i];
    return acc == 0;
}

/*
 * Converts obj into a new reference to a C-contiguous (rows, ncols) array of
 * typenum.  A 1-D input is taken as one row when allow_1d (and *was_1d is
 * set).  Errors: TypeError for non-real data, ValueError for a wrong shape,
 * no rows, or NaN/inf.
 */
static PyArrayObject *to_matrix(PyObject *obj, int typenum, npy_intp ncols, const char *name,
                                int allow_1d, int *was_1d)
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
    PyArray_Descr *descr = PyArray_DescrFromType(typenum);
    if (!descr) goto fail;
    PyArrayObject *out = (PyArrayObject *)PyArray_FromArray(
        arr, descr, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    Py_DECREF(arr);
    if (!out) return NULL;
    if (nd == 1) {
        npy_intp dims[2] = {1, ncols};
        PyArray_Dims newshape = {dims, 2};
        PyArrayObject *r = (PyArrayObject *)PyArray_Newshape(out, &newshape, NPY_CORDER);
        Py_DECREF(out);
        if (!r) return NULL;
        out = r;
        if (was_1d) *was_1d = 1;
    }
    if (!all_finite(out)) {
        PyErr_Format(PyExc_ValueError, "%s contains NaN or infinity%s", name,
                     PyTypeNum_ISFLOAT(t) ? "" : " after conversion");
        Py_DECREF(out);
        return NULL;
    }
    return out;
fail:
    Py_DECREF(arr);
    return NULL;
}

/* A scratch array that the caller owns, checked to be exactly what we need. */
static int check_buffer(PyArrayObject *a, int typenum, npy_intp size, const char *name)
{
    if (!PyArray_Check(a) || PyArray_TYPE((PyArrayObject *)a) != typenum ||
        !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a) || PyArray_SIZE(a) != size) {
        PyErr_Format(PyExc_ValueError, "internal buffer %s must be a writeable contiguous "
                                       "array of %zd elements of the network's dtype",
                     name, (Py_ssize_t)size);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ engine */

static int engine_acquire(EngineObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this network is in use by another thread; use one network per thread "
                        "or call Network methods, which serialise access");
        return -1;
    }
    self->busy = 1;
    return 0;
}

static int engine_ensure_predict_ws(EngineObject *self)
{
    if (self->predict_ws) return 0;
    self->predict_ws = is_f64(self) ? nn_workspace_new_f64(&self->net, 256)
                                    : nn_workspace_new_f32(&self->net, 256);
    if (!self->predict_ws) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void *params_data(EngineObject *self) { return PyArray_DATA(self->params); }

static double work_per_row(const EngineObject *self)
{
    return (double)self->n_params;
}

static int engine_init(EngineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"sizes", "activations", "bias", "params", NULL};
    PyObject *sizes, *acts;
    int bias;
    PyArrayObject *params;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOpO!", kwlist, &sizes, &acts, &bias,
                                     &PyArray_Type, &params))
        return -1;
    if (self->params) {
        PyErr_SetString(PyExc_RuntimeError, "Engine is already initialised");
        return -1;
    }
    Py_ssize_t n = PySequence_Size(sizes), na = PySequence_Size(acts);
    if (n < 0 || na < 0) return -1;
    if (n < 2 || n > MAX_LAYERS + 1 || na != n - 1) {
        PyErr_Format(PyExc_ValueError, "need 2 to %d sizes and one activation per layer",
                     MAX_LAYERS + 1);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_GetItem(sizes, i);
        if (!o) return -1;
        long long v = PyLong_AsLongLong(o);
        Py_DECREF(o);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 1 || v > ((long long)1 << 31)) {
            PyErr_Format(PyExc_ValueError, "layer width %lld out of range", v);
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
        self->activations[i] = (int)v;
    }
    self->net.n_layers = (int)(n - 1);
    self->net.sizes = self->sizes;
    self->net.activations = self->activations;
    self->net.has_bias = bias;
    if (!nn_net_valid(&self->net)) {
        PyErr_SetString(PyExc_ValueError, "invalid activation codes for this network");
        return -1;
    }
    self->n_params = nn_param_count(&self->net);
    const int typenum = PyArray_TYPE(params);
    if ((typenum != NPY_DOUBLE && typenum != NPY_FLOAT) ||
        check_buffer(params, typenum, self->n_params, "params") < 0) {
        PyErr_Format(PyExc_ValueError,
                     "params must be a writeable contiguous float64 or float32 array of %lld "
                     "elements", (long long)self->n_params);
        return -1;
    }
    self->typenum = typenum;
    Py_INCREF(params);
    self->params = params;
    return 0;
}

static int engine_traverse(EngineObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->params);
    return 0;
}

static int engine_clear(EngineObject *self)
{
    Py_CLEAR(self->params);
    return 0;
}

static void engine_dealloc(EngineObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    engine_clear(self);
    if (self->predict_ws) nn_workspace_free(self->predict_ws);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int engine_ready(EngineObject *self)
{
    if (!self->params) {
        PyErr_SetString(PyExc_RuntimeError, "Engine was not initialised");
        return -1;
    }
    return 0;
}

static PyObject *engine_predict(EngineObject *self, PyObject *X_obj)
{
    if (engine_ready(self) < 0) return NULL;
    const int L = self->net.n_layers;
    int was_1d;
    PyArrayObject *X = to_matrix(X_obj, self->typenum, self->sizes[0], "X", 1, &was_1d);
    if (!X) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    npy_intp dims[2] = {n, self->sizes[L]};
    PyArrayObject *out = was_1d ? (PyArrayObject *)PyArray_SimpleNew(1, dims + 1, self->typenum)
                                : (PyArrayObject *)PyArray_SimpleNew(2, dims, self->typenum);
    if (!out || engine_ensure_predict_ws(self) < 0 || engine_acquire(self) < 0) {
        Py_DECREF(X);
        Py_XDECREF(out);
        return NULL;
    }
    const int release = (double)n * work_per_row(self) > GIL_RELEASE_WORK;
    PyThreadState *ts = release ? PyEval_SaveThread() : NULL;
    if (is_f64(self))
        nn_predict_f64(&self->net, params_data(self), self->predict_ws, PyArray_DATA(X), n,
                       PyArray_DATA(out));
    else
        nn_predict_f32(&self->net, params_data(self), self->predict_ws, PyArray_DATA(X), n,
                       PyArray_DATA(out));
    if (ts) PyEval_RestoreThread(ts);
    self->busy = 0;
    Py_DECREF(X);
    return (PyObject *)out;
}

/* forward(X) -> [l0, l1, ..., lL], each 2-D (n, sizes[l]). */
static PyObject *engine_forward(EngineObject *self, PyObject *X_obj)
{
    if (engine_ready(self) < 0) return NULL;
    const int L = self->net.n_layers;
    PyArrayObject *X = to_matrix(X_obj, self->typenum, self->sizes[0], "X", 1, NULL);
    if (!X) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    PyObject *list = PyList_New(L + 1);
    if (!list) {
        Py_DECREF(X);
        return NULL;
    }
    /* l0 is a copy, so that the caller may not alias its own input */
    PyObject *l0 = PyArray_NewCopy(X, NPY_CORDER);
    Py_DECREF(X);
    if (!l0) goto fail;
    PyList_SET_ITEM(list, 0, l0);
    void *acts[MAX_LAYERS + 1];
    acts[0] = PyArray_DATA((PyArrayObject *)l0);
    for (int l = 1; l <= L; l++) {
        npy_intp dims[2] = {n, self->sizes[l]};
        PyObject *a = PyArray_SimpleNew(2, dims, self->typenum);
        if (!a) goto fail;
        PyList_SET_ITEM(list, l, a);
        acts[l] = PyArray_DATA((PyArrayObject *)a);
    }
    if (engine_acquire(self) < 0) goto fail;
    Py_BEGIN_ALLOW_THREADS
    if (is_f64(self))
        nn_forward_f64(&self->net, params_data(self), (double *const *)acts, n);
    else
        nn_forward_f32(&self->net, params_data(self), (float *const *)acts, n);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

static int check_loss_code(int loss)
{
    if (loss < 0 || loss >= NN_N_LOSSES) {
        PyErr_Format(PyExc_ValueError, "invalid loss code %d", loss);
        return -1;
    }
    return 0;
}

/* Validates X and Y together: same number of rows. */
static int to_xy(EngineObject *self, PyObject *X_obj, PyObject *Y_obj, PyArrayObject **X,
                 PyArrayObject **Y)
{
    const int L = self->net.n_layers;
    *X = to_matrix(X_obj, self->typenum, self->sizes[0], "X", 0, NULL);
    if (!*X) return -1;
    *Y = to_matrix(Y_obj, self->typenum, self->sizes[L], "y", 0, NULL);
    if (!*Y) {
        Py_CLEAR(*X);
        return -1;
    }
    if (PyArray_DIM(*X, 0) != PyArray_DIM(*Y, 0)) {
        PyErr_Format(PyExc_ValueError, "X and y must have the same number of rows, got %zd and %zd",
                     (Py_ssize_t)PyArray_DIM(*X, 0), (Py_ssize_t)PyArray_DIM(*Y, 0));
        Py_CLEAR(*X);
        Py_CLEAR(*Y);
        return -1;
    }
    return 0;
}

/* loss(X, Y, loss_code) -> float: the loss over the whole set. */
static PyObject *engine_loss(EngineObject *self, PyObject *args)
{
    PyObject *X_obj, *Y_obj;
    int loss;
    if (!PyArg_ParseTuple(args, "OOi", &X_obj, &Y_obj, &loss)) return NULL;
    if (engine_ready(self) < 0 || check_loss_code(loss) < 0) return NULL;
    PyArrayObject *X, *Y;
    if (to_xy(self, X_obj, Y_obj, &X, &Y) < 0) return NULL;
    double value = 0;
    if (engine_ensure_predict_ws(self) < 0 || engine_acquire(self) < 0) goto fail;
    const npy_intp n = PyArray_DIM(X, 0);
    Py_BEGIN_ALLOW_THREADS
    if (is_f64(self))
        value = nn_loss_value_f64(&self->net, params_data(self), self->predict_ws, loss,
                                  PyArray_DATA(X), PyArray_DATA(Y), n);
    else
        value = nn_loss_value_f32(&self->net, params_data(self), self->predict_ws, loss,
                                  PyArray_DATA(X), PyArray_DATA(Y), n);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    Py_DECREF(X);
    Py_DECREF(Y);
    return PyFloat_FromDouble(value);
fail:
    Py_DECREF(X);
    Py_DECREF(Y);
    return NULL;
}

/* gradients(X, Y, loss_code, grads_out) -> float loss; grads_out (n_params,) is written. */
static PyObject *engine_gradients(EngineObject *self, PyObject *args)
{
    PyObject *X_obj, *Y_obj;
    PyArrayObject *grads;
    int loss;
    if (!PyArg_ParseTuple(args, "OOiO!", &X_obj, &Y_obj, &loss, &PyArray_Type, &grads))
        return NULL;
    if (engine_ready(self) < 0 || check_loss_code(loss) < 0 ||
        check_buffer(grads, self->typenum, self->n_params, "grads") < 0)
        return NULL;
    PyArrayObject *X, *Y;
    if (to_xy(self, X_obj, Y_obj, &X, &Y) < 0) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    nn_workspace *ws = is_f64(self) ? nn_workspace_new_f64(&self->net, n)
                                    : nn_workspace_new_f32(&self->net, n);
    double value = 0;
    if (!ws) {
        PyErr_NoMemory();
        goto fail;
    }
    if (engine_acquire(self) < 0) {
        nn_workspace_free(ws);
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    if (is_f64(self))
        value = nn_gradients_f64(&self->net, params_data(self), ws, loss, PyArray_DATA(X),
                                 PyArray_DATA(Y), n, PyArray_DATA(grads));
    else
        value = nn_gradients_f32(&self->net, params_data(self), ws, loss, PyArray_DATA(X),
                                 PyArray_DATA(Y), n, PyArray_DATA(grads));
    nn_workspace_free(ws);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    Py_DECREF(X);
    Py_DECREF(Y);
    return PyFloat_FromDouble(value);
fail:
    Py_DECREF(X);
    Py_DECREF(Y);
    return NULL;
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

/* trace(X, Y, loss_code) -> (acts, errors, deltas, grads): one forward and backward
 * pass over all rows.  acts[l] (n, sizes[l]) for l = 0..L; errors[l] = dL/da_l and
 * deltas[l] = dL/dz_l for l = 1..L (entry 0 is None); grads (n_params,). */
static PyObject *engine_trace(EngineObject *self, PyObject *args)
{
    PyObject *X_obj, *Y_obj;
    int loss;
    if (!PyArg_ParseTuple(args, "OOi", &X_obj, &Y_obj, &loss)) return NULL;
    if (engine_ready(self) < 0 || check_loss_code(loss) < 0) return NULL;
    PyArrayObject *X, *Y;
    if (to_xy(self, X_obj, Y_obj, &X, &Y) < 0) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    void *acts[MAX_LAYERS + 1], *errors[MAX_LAYERS + 1], *deltas[MAX_LAYERS + 1];
    PyObject *result = NULL, *grads = NULL;
    PyObject *acts_list = new_layer_arrays(self, n, 0, acts);
    PyObject *errors_list = acts_list ? new_layer_arrays(self, n, 1, errors) : NULL;
    PyObject *deltas_list = errors_list ? new_layer_arrays(self, n, 1, deltas) : NULL;
    if (deltas_list) {
        npy_intp size = self->n_params;
        grads = PyArray_SimpleNew(1, &size, self->typenum);
    }
    if (!grads || engine_acquire(self) < 0) goto done;
    memcpy(acts[0], PyArray_DATA(X), (size_t)PyArray_NBYTES(X));
    Py_BEGIN_ALLOW_THREADS
    if (is_f64(self)) {
        nn_forward_f64(&self->net, params_data(self), (double *const *)acts, n);
        nn_backward_f64(&self->net, params_data(self), (const double *const *)acts,
                        PyArray_DATA(Y), n, loss, (double *const *)errors,
                        (double *const *)deltas, PyArray_DATA((PyArrayObject *)grads));
    } else {
        nn_forward_f32(&self->net, params_data(self), (float *const *)acts, n);
        nn_backward_f32(&self->net, params_data(self), (const float *const *)acts,
                        PyArray_DATA(Y), n, loss, (float *const *)errors,
                        (float *const *)deltas, PyArray_DATA((PyArrayObject *)grads));
    }
    Py_END_ALLOW_THREADS
    self->busy = 0;
    result = PyTuple_Pack(4, acts_list, errors_list, deltas_list, grads);
done:
    Py_XDECREF(acts_list);
    Py_XDECREF(errors_list);
    Py_XDECREF(deltas_list);
    Py_XDECREF(grads);
    Py_DECREF(X);
    Py_DECREF(Y);
    return result;
}

/* The poll callback: take the GIL for a moment and look for Ctrl-C. */
typedef struct {
    PyThreadState *ts;
} poll_context;

static int poll_signals(void *ctx)
{
    poll_context *c = ctx;
    PyEval_RestoreThread(c->ts);
    const int interrupted = PyErr_CheckSignals() != 0;
    c->ts = PyEval_SaveThread();
    return interrupted;
}

/*
 * train(X, Y, loss, optimizer, lr, momentum, beta1, beta2, eps, batch_size,
 *       shuffle, rng_state, adam_step, n_epochs, opt_state, losses)
 *   -> (status, epochs_done, bad_epoch, rng_state, adam_step)
 * X and Y must already be validated arrays of the network's dtype (the Python
 * layer converts once per fit with as_matrix); they are checked again here.
 * status: 0 done, 3 loss non-finite at bad_epoch (parameters restored to the
 * start of that epoch).  Ctrl-C raises KeyboardInterrupt.
 */
static PyObject *engine_train(EngineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"X", "Y", "loss", "optimizer", "lr", "momentum", "beta1",
                             "beta2", "eps", "batch_size", "shuffle", "rng_state",
                             "adam_step", "n_epochs", "opt_state", "losses", NULL};
    PyObject *X_obj, *Y_obj;
    PyArrayObject *opt_state, *losses;
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    unsigned long long rng_state;
    long long batch_size, adam_step, n_epochs;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOiiddddd" "LpKLLO!O!", kwlist, &X_obj,
                                     &Y_obj, &cfg.loss, &cfg.optimizer, &cfg.lr, &cfg.momentum,
                                     &cfg.beta1, &cfg.beta2, &cfg.eps, &batch_size,
                                     &cfg.shuffle, &rng_state, &adam_step, &n_epochs,
                                     &PyArray_Type, &opt_state, &PyArray_Type, &losses))
        return NULL;
    if (engine_ready(self) < 0 || check_loss_code(cfg.loss) < 0) return NULL;
    if (cfg.optimizer < 0 || cfg.optimizer >= NN_N_OPTIMIZERS || batch_size < 1 ||
        n_epochs < 0 || adam_step < 0) {
        PyErr_SetString(PyExc_ValueError, "invalid optimizer, batch_size, epochs or adam_step");
        return NULL;
    }
    const npy_intp n_state = nn_optimizer_state_blocks(&cfg);
    if (check_buffer(opt_state, self->typenum, n_state ? n_state * self->n_params
                                                       : PyArray_SIZE(opt_state), "opt_state") < 0)
        return NULL;
    if (!PyArray_Check(losses) || PyArray_TYPE(losses) != NPY_DOUBLE ||
        !PyArray_IS_C_CONTIGUOUS(losses) || !PyArray_ISWRITEABLE(losses) ||
        PyArray_SIZE(losses) < n_epochs) {
        PyErr_SetString(PyExc_ValueError, "losses must be a writeable float64 array of "
                                          "n_epochs elements");
        return NULL;
    }
    cfg.batch_size = batch_size;
    cfg.rng_state = rng_state;
    cfg.adam_step = adam_step;
    cfg.n_epochs = n_epochs;
    PyArrayObject *X, *Y;
    if (to_xy(self, X_obj, Y_obj, &X, &Y) < 0) return NULL;
    if (engine_acquire(self) < 0) {
        Py_DECREF(X);
        Py_DECREF(Y);
        return NULL;
    }
    poll_context pc;
    cfg.poll = poll_signals;
    cfg.poll_ctx = &pc;
    nn_train_result result;
    nn_status status;
    pc.ts = PyEval_SaveThread();
    if (is_f64(self))
        status = nn_train_f64(&self->net, params_data(self), PyArray_DATA(opt_state),
                              PyArray_DATA(X), PyArray_DATA(Y), PyArray_DIM(X, 0), &cfg,
                              PyArray_DATA(losses), &result);
    else
        status = nn_train_f32(&self->net, params_data(self), PyArray_DATA(opt_state),
                              PyArray_DATA(X), PyArray_DATA(Y), PyArray_DIM(X, 0), &cfg,
                              PyArray_DATA(losses), &result);
    PyEval_RestoreThread(pc.ts);
    self->busy = 0;
    Py_DECREF(X);
    Py_DECREF(Y);
    switch (status) {
    case NN_OK:
    case NN_ERR_NONFINITE:
        return Py_BuildValue("iLLKL", (int)status, (long long)result.epochs_done,
                             (long long)result.bad_epoch, (unsigned long long)cfg.rng_state,
                             (long long)cfg.adam_step);
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

/* as_matrix(obj, ncols, name) -> validated C-contiguous 2-D array of the network's dtype. */
static PyObject *engine_as_matrix(EngineObject *self, PyObject *args)
{
    PyObject *obj;
    Py_ssize_t ncols;
    const char *name;
    if (!PyArg_ParseTuple(args, "Ons", &obj, &ncols, &name)) return NULL;
    if (engine_ready(self) < 0) return NULL;
    return (PyObject *)to_matrix(obj, self->typenum, ncols, name, 0, NULL);
}

static PyObject *engine_get_n_params(EngineObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->n_params);
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

static PyMethodDef engine_methods[] = {
    {"predict", (PyCFunction)engine_predict, METH_O,
     "predict(X) -> output array (n, n_out), or (n_out,) for a 1-D X."},
    {"forward", (PyCFunction)engine_forward, METH_O,
     "forward(X) -> [l0, ..., lL], every layer's output."},
    {"loss", (PyCFunction)engine_loss, METH_VARARGS, "loss(X, Y, loss_code) -> float."},
    {"gradients", (PyCFunction)engine_gradients, METH_VARARGS,
     "gradients(X, Y, loss_code, grads_out) -> loss; writes grads_out."},
    {"train", (PyCFunction)(void (*)(void))engine_train, METH_VARARGS | METH_KEYWORDS,
     "train(...) -> (status, epochs_done, bad_epoch, rng_state, adam_step)."},
    {"trace", (PyCFunction)engine_trace, METH_VARARGS,
     "trace(X, Y, loss_code) -> (acts, errors, deltas, grads): one forward and backward pass."},
    {"as_matrix", (PyCFunction)engine_as_matrix, METH_VARARGS,
     "as_matrix(obj, ncols, name) -> validated 2-D array of the network's dtype."},
    {"offsets", (PyCFunction)engine_offsets, METH_NOARGS,
     "offsets() -> [(weight_offset, bias_offset or -1)] per layer in the params block."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef engine_getset[] = {
    {"n_params", (getter)engine_get_n_params, NULL, "number of parameters", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot engine_slots[] = {
    {Py_tp_doc, "Engine(sizes, activations, bias, params): the C core bound to one "
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

/* ------------------------------------------------------------ module */

static int module_exec(PyObject *module)
{
    import_array1(-1);
    module_state *st = PyModule_GetState(module);
    st->engine_type = PyType_FromModuleAndSpec(module, &engine_spec, NULL);
    if (!st->engine_type) return -1;
    if (PyModule_AddObjectRef(module, "Engine", st->engine_type) < 0) return -1;
    if (PyModule_AddIntConstant(module, "MAX_LAYERS", MAX_LAYERS) < 0) return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *st = PyModule_GetState(module);
    Py_VISIT(st->engine_type);
    return 0;
}

static int module_clear(PyObject *module)
{
    module_state *st = PyModule_GetState(module);
    Py_CLEAR(st->engine_type);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

static PyObject *core_set_num_threads(PyObject *module, PyObject *arg)
{
    (void)module;
    const long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    nn_set_num_threads(n < 0 || n > 1 << 20 ? 0 : (int)n);
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

static PyMethodDef module_methods[] = {
    {"set_num_threads", core_set_num_threads, METH_O,
     "set_num_threads(n): threads for large products; n < 1 restores the default."},
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
