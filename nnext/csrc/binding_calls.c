/* Engine's calls into the core (see binding.h). */
#include "binding.h"

/* ------------------------------------------------------------ engine: calls */

int engine_ready(EngineObject *self)
{
    if (!self->params) {
        PyErr_SetString(PyExc_RuntimeError, "Engine was not initialised");
        return -1;
    }
    return 0;
}

void *params_data(EngineObject *self) { return PyArray_DATA(self->params); }

/* -1 with RuntimeError when another thread is inside a call on this engine. */
int engine_idle(EngineObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this network is in use by another thread; use one network per thread "
                        "or call Network methods, which serialise access");
        return -1;
    }
    return 0;
}

/* Bumped by _interrupt_all(): every running call stops with KeyboardInterrupt
 * (Ctrl-C reaches only the main thread; sweep's worker threads need this). */
atomic_ulong interrupt_generation;

/* Polls made by every call so far (_polls()), counted with the GIL held: the
 * tests count the polls between a signal and the call's end, a measure that a
 * loaded machine cannot stretch as it stretches the time. */
atomic_ulong poll_count;

/* Cancellation tokens: a thread that calls _watch(token) has each of its calls
 * stop with KeyboardInterrupt once token.is_set() is true (a threading.Event),
 * at the call's start and at its polls, as Ctrl-C stops a call of the main
 * thread.  Only that thread's calls watch it: sweep cancels its own runs, and
 * nothing else.  The token is kept in the thread state's dict; cancel_watchers
 * counts the threads watching one, so that a call looks it up only then. */
atomic_int cancel_watchers;

/* The token the calling thread watches (borrowed), or NULL; the GIL held. */
PyObject *watched_token(void)
{
    if (!atomic_load(&cancel_watchers)) return NULL;
    PyObject *dict = PyThreadState_GetDict();
    return dict ? PyDict_GetItemString(dict, CANCEL_KEY) : NULL;
}

/* 1 with KeyboardInterrupt set when token is set, -1 with its error, 0 when not. */
static int token_cancelled(PyObject *token)
{
    PyObject *flag = PyObject_CallMethod(token, "is_set", NULL);
    if (!flag) return -1;
    const int set = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    if (set > 0) PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
    return set;
}

/* The poll (nnext_runtime.h): take the GIL for a moment, look for Ctrl-C, for
 * _interrupt_all() and for the call's token; non-zero, with the exception set,
 * to stop. */
int poll_signals(void *ctx)
{
    core_call *c = ctx;
    PyEval_RestoreThread(c->ts);
    atomic_fetch_add(&poll_count, 1);
    int stop = PyErr_CheckSignals() != 0;
    if (!stop && atomic_load(&interrupt_generation) != c->generation) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        stop = 1;
    }
    if (!stop && c->cancel) stop = token_cancelled(c->cancel) != 0;
    c->ts = PyEval_SaveThread();
    return stop;
}

/* The one GIL rule: a call into the core takes the busy flag, and releases the
 * GIL when its work (multiply-adds, roughly) is above GIL_RELEASE_WORK; only
 * then does it poll for Ctrl-C (the poll needs the GIL released).  -1 with an
 * exception when the engine is busy. */
int core_begin(EngineObject *self, double work, core_call *call)
{
    call->ts = NULL;
    call->cancel = NULL;
    if (engine_idle(self) < 0) return -1;
    PyObject *token = watched_token();
    if (token && token_cancelled(token) != 0) return -1; /* cancelled: nothing done */
    self->busy = 1;
    if (work > GIL_RELEASE_WORK) {
        call->generation = atomic_load(&interrupt_generation);
        call->cancel = token;
        Py_XINCREF(token); /* (the thread may watch another one before the call ends) */
        call->ts = PyEval_SaveThread();
        nn_poll_begin(poll_signals, call);
    }
    return 0;
}

/* Ends the call; -1 with the poll's exception (KeyboardInterrupt) when it was
 * interrupted. */
int core_end(EngineObject *self, core_call *call)
{
    int interrupted = 0;
    if (call->ts) {
        interrupted = nn_poll_end();
        PyEval_RestoreThread(call->ts);
        Py_CLEAR(call->cancel);
    }
    self->busy = 0;
    if (interrupted && !PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    return interrupted ? -1 : 0;
}

/* The multiply-adds of one pass over n rows. */
double work_of(const EngineObject *self, npy_intp n)
{
    return (double)n * (double)self->n_params;
}

/* The one workspace policy: up to CHUNK_ROWS rows, the engine's cached one;
 * more, one made for the call (*owned = 1: the caller frees it). */
nn_workspace *engine_workspace(EngineObject *self, int64_t rows, int *owned)
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

int check_loss_code(int loss)
{
    if (loss < 0 || loss >= NN_N_LOSSES) {
        PyErr_Format(PyExc_ValueError, "loss code must be in 0..%d, got %d", NN_N_LOSSES - 1,
                     loss);
        return -1;
    }
    return 0;
}

/* The rows' weights of data, or NULL. */
const void *data_weights(DataObject *d) { return d->W ? PyArray_DATA(d->W) : NULL; }

/* data as validated for this engine (a Data made by engine.data()). */
DataObject *as_data(EngineObject *self, PyObject *data)
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

/* sample_weight as the rows' weights: n values of the engine's dtype (cast),
 * aligned and C-contiguous, finite, >= 0, with a positive sum; NULL with an
 * exception naming it. */
static PyArrayObject *to_weights(EngineObject *self, PyObject *obj, npy_intp n)
{
    if (PyArray_Check(obj) && PyArray_ISCOMPLEX((PyArrayObject *)obj)) {
        PyErr_SetString(PyExc_TypeError, "sample_weight must be real numbers, got a complex array");
        return NULL;
    }
    PyArray_Descr *descr = PyArray_DescrFromType(self->typenum);
    if (!descr) return NULL;
    PyArrayObject *w = (PyArrayObject *)PyArray_FromAny(
        obj, descr, 0, 0, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    if (!w) return NULL;
    if (PyArray_NDIM(w) != 1 || PyArray_DIM(w, 0) != n) {
        PyObject *shape = shape_of(w);
        if (shape)
            PyErr_Format(PyExc_ValueError, "sample_weight must be 1-D, one weight per row of X "
                         "(%lld), got shape %R", (long long)n, shape);
        Py_XDECREF(shape);
        Py_DECREF(w);
        return NULL;
    }
    double sum = 0;
    int bad = 0;
    for (npy_intp i = 0; i < n && !bad; i++) {
        const double v = self->typenum == NPY_DOUBLE ? ((const double *)PyArray_DATA(w))[i]
                                                     : (double)((const float *)PyArray_DATA(w))[i];
        bad = !(isfinite(v) && v >= 0);
        sum += v;
    }
    if (bad || !(sum > 0) || !isfinite(sum)) {
        PyErr_SetString(PyExc_ValueError, bad ? "sample_weight must be finite and >= 0"
                                              : "sample_weight must have a positive, finite sum");
        Py_DECREF(w);
        return NULL;
    }
    return w;
}

/* data(X, Y, sample_weight=None) -> Data: X (n, n_in), Y (n, n_out) and the
 * rows' weights validated together, once. */
PyObject *engine_data(EngineObject *self, PyObject *args)
{
    PyObject *X_obj, *Y_obj, *W_obj = Py_None;
    if (!PyArg_ParseTuple(args, "OO|O", &X_obj, &Y_obj, &W_obj) || engine_ready(self) < 0)
        return NULL;
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
    PyArrayObject *W = W_obj == Py_None ? NULL : to_weights(self, W_obj, PyArray_DIM(X, 0));
    DataObject *d = W_obj == Py_None || W ? PyObject_New(DataObject, (PyTypeObject *)st->data_type)
                                          : NULL;
    if (!d) {
        Py_DECREF(X);
        Py_DECREF(Y);
        Py_XDECREF(W);
        return NULL;
    }
    d->X = X; /* references handed over */
    d->Y = Y;
    d->W = W;
    d->typenum = self->typenum;
    d->n_in = self->sizes[0];
    d->n_out = self->sizes[L];
    return (PyObject *)d;
}

/* predict(X) -> output (n, n_out), or (n_out,) for a 1-D X. */
/* predict, or with nowait: None, at once, unless the call can run whole with
 * the GIL held (small work) on an engine no other thread is in. */
/* predict(X); nowait: None instead of waiting (see predict_nowait); to_float:
 * a Python float when X is one sample (1-D) and the network has one output. */
static PyObject *predict(EngineObject *self, PyObject *X_obj, int nowait, int to_float)
{
    if (engine_ready(self) < 0) return NULL;
    if (nowait && self->busy) Py_RETURN_NONE;
    const int L = self->net.n_layers;
    int was_1d, owned;
    PyArrayObject *X = to_matrix(self, X_obj, self->sizes[0], "X", 1, &was_1d);
    if (!X) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    if (nowait && work_of(self, n) > GIL_RELEASE_WORK) {
        Py_DECREF(X);
        Py_RETURN_NONE;
    }
    to_float = to_float && was_1d && self->sizes[L] == 1;
    double one = 0; /* the one output when to_float: room for either dtype */
    npy_intp dims[2] = {n, self->sizes[L]};
    PyArrayObject *out = to_float ? NULL
                                  : (PyArrayObject *)PyArray_SimpleNew(was_1d ? 1 : 2,
                                                                       was_1d ? dims + 1 : dims,
                                                                       self->typenum);
    core_call call;
    nn_workspace *ws = out || to_float ? engine_workspace(self, n < CHUNK_ROWS ? n : CHUNK_ROWS, &owned)
                                       : NULL;
    if (!ws || core_begin(self, work_of(self, n), &call) < 0) {
        Py_DECREF(X);
        Py_XDECREF(out);
        return NULL;
    }
    self->ops->predict(&self->net, params_data(self), ws, PyArray_DATA(X), n,
                       to_float ? (void *)&one : PyArray_DATA(out));
    Py_DECREF(X);
    if (core_end(self, &call) < 0) {
        Py_XDECREF(out);
        return NULL;
    }
    if (to_float) {
        float one_f32;
        memcpy(&one_f32, &one, sizeof one_f32);
        return PyFloat_FromDouble(self->typenum == NPY_DOUBLE ? one : (double)one_f32);
    }
    return (PyObject *)out;
}

PyObject *engine_predict(EngineObject *self, PyObject *X_obj) { return predict(self, X_obj, 0, 0); }

/* predict_nowait(X) -> output, or None: Network.predict's path without its lock.
 * A call that keeps the GIL throughout cannot interleave with another thread's
 * Python code, and an engine call that released the GIL, or a Python-level
 * write in progress (set_busy), shows as busy. */
PyObject *engine_predict_nowait(EngineObject *self, PyObject *X_obj)
{
    return predict(self, X_obj, 1, 0);
}

/* feedforward_nowait(x) -> predict_nowait(x), but a Python float for one
 * sample (1-D x) of a one-output network (Network.feedforward's result,
 * without making an array for it). */
PyObject *engine_feedforward_nowait(EngineObject *self, PyObject *X_obj)
{
    return predict(self, X_obj, 1, 1);
}

/* set_busy(flag): marks the engine busy while Python code writes its
 * parameters in more than one step (Network's setters), so that
 * predict_nowait waits for the lock instead.  RuntimeError when another
 * thread is inside a call. */
PyObject *engine_set_busy(EngineObject *self, PyObject *flag)
{
    const int busy = PyObject_IsTrue(flag);
    if (busy < 0 || engine_ready(self) < 0) return NULL;
    if (busy && engine_idle(self) < 0) return NULL;
    self->busy = busy;
    Py_RETURN_NONE;
}

/* A list of L + 1 new 2-D arrays, entry l (n, sizes[l]) or, with cols, (n,
 * cols_{l-1}) (the width of layer l-1's pre-activation); data pointers into
 * ptrs.  Entry 0 is left as None (with a NULL pointer) when skip_first. */
PyObject *new_layer_arrays(EngineObject *self, npy_intp n, int skip_first, int cols, void **ptrs)
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
        npy_intp dims[2] = {n, cols && l ? nn_layer_cols(&self->net, l - 1) : self->sizes[l]};
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

/* The maxout layers' pre-activations for n rows: a list holding (n, cols_{l-1})
 * arrays at the maxout layers l (None elsewhere), data pointers into ptrs
 * (NULL elsewhere); None for a network without maxout (ptrs all NULL). */
static PyObject *new_pre_arrays(EngineObject *self, npy_intp n, void **ptrs)
{
    const int L = self->net.n_layers;
    for (int l = 0; l <= L; l++) ptrs[l] = NULL;
    if (!nn_has_maxout(&self->net)) return Py_NewRef(Py_None);
    PyObject *list = PyList_New(L + 1);
    if (!list) return NULL;
    for (int l = 0; l <= L; l++) {
        PyObject *a = Py_None;
        if (l > 0 && self->net.activations[l - 1] == NN_MAXOUT) {
            npy_intp dims[2] = {n, nn_layer_cols(&self->net, l - 1)};
            a = PyArray_SimpleNew(2, dims, self->typenum);
            if (!a) {
                Py_DECREF(list);
                return NULL;
            }
            ptrs[l] = PyArray_DATA((PyArrayObject *)a);
        } else {
            Py_INCREF(a);
        }
        PyList_SET_ITEM(list, l, a);
    }
    return list;
}

/* forward(X) -> [l0, l1, ..., lL], each 2-D (n, sizes[l]); l0 a copy of X. */
PyObject *engine_forward(EngineObject *self, PyObject *X_obj)
{
    if (engine_ready(self) < 0) return NULL;
    PyArrayObject *X = to_matrix(self, X_obj, self->sizes[0], "X", 1, NULL);
    if (!X) return NULL;
    const npy_intp n = PyArray_DIM(X, 0);
    void *acts[NN_MAX_LAYERS + 1], *pre[NN_MAX_LAYERS + 1];
    PyObject *list = new_layer_arrays(self, n, 0, 0, acts);
    PyObject *pre_list = list ? new_pre_arrays(self, n, pre) : NULL;
    core_call call;
    if (!pre_list || core_begin(self, work_of(self, n), &call) < 0) {
        Py_DECREF(X);
        Py_XDECREF(list);
        Py_XDECREF(pre_list);
        return NULL;
    }
    memcpy(acts[0], PyArray_DATA(X), (size_t)PyArray_NBYTES(X));
    self->ops->forward(&self->net, params_data(self), acts, pre, n);
    const int failed = core_end(self, &call) < 0; /* (the GIL is held again) */
    Py_DECREF(X);
    Py_DECREF(pre_list);
    if (failed) Py_CLEAR(list);
    return list;
}

/* The arguments (data, loss_code) of the loss-based calls, checked; NULL with
 * an exception when they are not right for this engine. */
DataObject *data_and_loss(EngineObject *self, PyObject *args, int *loss)
{
    PyObject *data_obj;
    if (!PyArg_ParseTuple(args, "Oi", &data_obj, loss) || engine_ready(self) < 0 ||
        check_loss_code(*loss) < 0)
        return NULL;
    return as_data(self, data_obj);
}

/* loss(data, loss_code) -> float: the loss over the whole set. */
PyObject *engine_loss(EngineObject *self, PyObject *args)
{
    int loss, owned;
    DataObject *d = data_and_loss(self, args, &loss);
    if (!d) return NULL;
    const npy_intp n = PyArray_DIM(d->X, 0);
    core_call call;
    nn_workspace *ws = engine_workspace(self, n < CHUNK_ROWS ? n : CHUNK_ROWS, &owned);
    if (!ws || core_begin(self, work_of(self, n), &call) < 0) return NULL;
    const double value = self->ops->loss_value(&self->net, params_data(self), ws, loss,
                                               PyArray_DATA(d->X), PyArray_DATA(d->Y),
                                               data_weights(d), n);
    if (core_end(self, &call) < 0) return NULL;
    return PyFloat_FromDouble(value);
}

/* gradients(data, loss_code) -> (loss, grads (n_params,)). */
PyObject *engine_gradients(EngineObject *self, PyObject *args)
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
                                              PyArray_DATA(d->X), PyArray_DATA(d->Y),
                                              data_weights(d), n, PyArray_DATA(grads));
    if (owned) nn_workspace_free(ws);
    if (core_end(self, &call) < 0) {
        Py_DECREF(grads);
        return NULL;
    }
    PyObject *result = Py_BuildValue("dO", value, (PyObject *)grads);
    Py_DECREF(grads);
    return result;
}

/* A parameter-sized array of the engine's dtype (aligned, C-contiguous, and
 * writeable when out), or NULL with ValueError naming it. */
static PyArrayObject *param_block(EngineObject *self, PyObject *obj, const char *name, int out)
{
    PyArrayObject *a = (PyArrayObject *)obj;
    if (!PyArray_Check(obj) || PyArray_TYPE(a) != self->typenum || !PyArray_IS_C_CONTIGUOUS(a) ||
        !PyArray_ISALIGNED(a) || PyArray_SIZE(a) != self->n_params ||
        (out && !PyArray_ISWRITEABLE(a))) {
        PyErr_Format(PyExc_ValueError, "%s must be an aligned, C-contiguous%s %s array of "
                     "n_params = %lld values, got %R", name, out ? ", writeable" : "",
                     self->typenum == NPY_DOUBLE ? "float64" : "float32",
                     (long long)self->n_params, (PyObject *)Py_TYPE(obj));
        return NULL;
    }
    return a;
}

/* objective(data, loss, loss_scale, grad_scale, l2, l1, reg_per_row, prob_clip, params,
 *           grads) -> float
 * nn_objective over all of data's rows in one batch: the loss (clipped by
 * prob_clip) times loss_scale plus the regularisation, as one step of train
 * with these settings computes it; its gradient written into grads.  params:
 * None (the engine's own) or an array to evaluate at instead (the engine's
 * parameters untouched), so that an optimizer's candidate points need no copy
 * into the network.  Arrays: the engine's dtype, n_params values, C order. */
PyObject *engine_objective(EngineObject *self, PyObject *args)
{
    PyObject *data_obj, *params_obj, *grads_obj;
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!PyArg_ParseTuple(args, "OiddddpdOO", &data_obj, &cfg.loss, &cfg.loss_scale,
                          &cfg.grad_scale, &cfg.l2, &cfg.l1, &cfg.reg_per_row, &cfg.prob_clip,
                          &params_obj, &grads_obj))
        return NULL;
    DataObject *d;
    if (engine_ready(self) < 0 || check_loss_code(cfg.loss) < 0 ||
        !(d = as_data(self, data_obj)) || check_prob_clip(cfg.prob_clip) < 0)
        return NULL;
    if (!(cfg.l2 >= 0 && cfg.l1 >= 0 && isfinite(cfg.l2) && isfinite(cfg.l1) &&
          isfinite(cfg.loss_scale) && isfinite(cfg.grad_scale))) {
        PyErr_SetString(PyExc_ValueError, "l2 and l1 must be finite and >= 0, loss_scale and "
                                          "grad_scale finite");
        return NULL;
    }
    PyArrayObject *grads = param_block(self, grads_obj, "grads", 1);
    PyArrayObject *params = params_obj == Py_None ? self->params
                                                  : param_block(self, params_obj, "params", 0);
    if (!grads || !params) return NULL;
    cfg.sample_weight = data_weights(d);
    const npy_intp n = PyArray_DIM(d->X, 0);
    int owned;
    nn_workspace *ws = engine_workspace(self, n, &owned);
    core_call call;
    if (!ws || core_begin(self, 3 * work_of(self, n), &call) < 0) {
        if (ws && owned) nn_workspace_free(ws);
        return NULL;
    }
    const double value = self->ops->objective(&self->net, PyArray_DATA(params), ws, &cfg,
                                              PyArray_DATA(d->X), PyArray_DATA(d->Y), n,
                                              PyArray_DATA(grads));
    if (owned) nn_workspace_free(ws);
    if (core_end(self, &call) < 0) return NULL;
    return PyFloat_FromDouble(value);
}

/* trace(data, loss_code) -> (acts, errors, deltas, grads): one forward and backward
 * pass over all rows.  acts[l] (n, sizes[l]) for l = 0..L; errors[l] = dL/da_l
 * (n, sizes[l]) and deltas[l] = dL/dz_{l-1} (n, cols_{l-1}: wider than sizes[l]
 * for a maxout layer) for l = 1..L (entry 0 is None); grads (n_params,). */
PyObject *engine_trace(EngineObject *self, PyObject *args)
{
    int loss;
    DataObject *d = data_and_loss(self, args, &loss);
    if (!d) return NULL;
    const npy_intp n = PyArray_DIM(d->X, 0);
    void *acts[NN_MAX_LAYERS + 1], *errors[NN_MAX_LAYERS + 1], *deltas[NN_MAX_LAYERS + 1];
    void *pre[NN_MAX_LAYERS + 1];
    PyObject *result = NULL, *grads = NULL, *pre_list = NULL;
    PyObject *acts_list = new_layer_arrays(self, n, 0, 0, acts);
    PyObject *errors_list = acts_list ? new_layer_arrays(self, n, 1, 0, errors) : NULL;
    PyObject *deltas_list = errors_list ? new_layer_arrays(self, n, 1, 1, deltas) : NULL;
    if (deltas_list) pre_list = new_pre_arrays(self, n, pre);
    if (pre_list) {
        npy_intp size = self->n_params;
        grads = PyArray_SimpleNew(1, &size, self->typenum);
    }
    core_call call;
    if (!grads || core_begin(self, 3 * work_of(self, n), &call) < 0) goto done;
    memcpy(acts[0], PyArray_DATA(d->X), (size_t)PyArray_NBYTES(d->X));
    self->ops->forward(&self->net, params_data(self), acts, pre, n);
    self->ops->backward(&self->net, params_data(self), (const void *const *)acts,
                        (const void *const *)pre, PyArray_DATA(d->Y), n, loss, errors, deltas,
                        PyArray_DATA((PyArrayObject *)grads));
    if (core_end(self, &call) < 0) goto done;
    result = PyTuple_Pack(4, acts_list, errors_list, deltas_list, grads);
done:
    Py_XDECREF(acts_list);
    Py_XDECREF(errors_list);
    Py_XDECREF(deltas_list);
    Py_XDECREF(pre_list);
    Py_XDECREF(grads);
    return result;
}
