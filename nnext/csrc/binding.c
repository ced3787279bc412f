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
#define NNEXT_BINDING_MODULE
#include "binding.h"

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

/* ACTIVATION_PARAMS: per activation code, None or (name, default, low, high,
 * low_open, integral), the core's table (nn_activation_param). */
static int add_activation_params(PyObject *module)
{
    PyObject *t = PyTuple_New(NN_N_ACTIVATIONS);
    if (!t) return -1;
    for (int i = 0; i < NN_N_ACTIVATIONS; i++) {
        const nn_activation_param_info *p = nn_activation_param(i);
        PyObject *e = p ? Py_BuildValue("(sdddOO)", p->name, p->fallback, p->low, p->high,
                                        p->low_open ? Py_True : Py_False,
                                        p->integral ? Py_True : Py_False)
                        : Py_NewRef(Py_None);
        if (!e) {
            Py_DECREF(t);
            return -1;
        }
        PyTuple_SET_ITEM(t, i, e);
    }
    const int rc = PyModule_AddObjectRef(module, "ACTIVATION_PARAMS", t);
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
        add_activation_params(module) < 0 ||
        add_names(module, "LOSSES", nn_loss_name, NN_N_LOSSES) < 0 ||
        add_names(module, "OPTIMIZERS", nn_optimizer_name, NN_N_OPTIMIZERS) < 0 ||
        add_names(module, "INITS", nn_init_name, NN_N_INITS) < 0)
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

/* _watch(token) -> the token watched before: the calling thread's calls stop
 * with KeyboardInterrupt once token.is_set() (binding_calls.c); None stops
 * watching. */
static PyObject *core_watch(PyObject *module, PyObject *token)
{
    (void)module;
    if (token != Py_None && !PyObject_HasAttrString(token, "is_set")) {
        PyErr_Format(PyExc_TypeError, "_watch takes a threading.Event or None, got %.80s",
                     Py_TYPE(token)->tp_name);
        return NULL;
    }
    PyObject *dict = PyThreadState_GetDict();
    if (!dict) {
        PyErr_SetString(PyExc_RuntimeError, "_watch: no thread state dict");
        return NULL;
    }
    PyObject *before = PyDict_GetItemString(dict, CANCEL_KEY); /* borrowed */
    Py_XINCREF(before);
    if (token == Py_None) {
        if (before && PyDict_DelItemString(dict, CANCEL_KEY) < 0) goto fail;
        if (before) atomic_fetch_sub(&cancel_watchers, 1);
    } else {
        if (PyDict_SetItemString(dict, CANCEL_KEY, token) < 0) goto fail;
        if (!before) atomic_fetch_add(&cancel_watchers, 1);
    }
    if (before) return before;
    Py_RETURN_NONE;
fail:
    Py_XDECREF(before);
    return NULL;
}

/* The polls for Ctrl-C made so far by all calls (poll_count). */
static PyObject *core_polls(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyLong_FromUnsignedLong(atomic_load(&poll_count));
}

/* _copy_finite(dst, src) -> bool: copies src into dst when both are aligned,
 * C-contiguous arrays of the same float dtype and shape, dst writeable, and
 * every value of src finite (one pass, then one memmove); False, with dst
 * untouched, otherwise: the caller's general path then converts or names
 * the error (_checks.copy_checked). */
static PyObject *core_copy_finite(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_copy_finite takes 2 arguments, got %zd", nargs);
        return NULL;
    }
    if (!PyArray_Check(args[0]) || !PyArray_Check(args[1])) Py_RETURN_FALSE;
    PyArrayObject *dst = (PyArrayObject *)args[0], *src = (PyArrayObject *)args[1];
    const int type = PyArray_TYPE(dst);
    const int flags = NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED;
    if ((type != NPY_DOUBLE && type != NPY_FLOAT) || PyArray_TYPE(src) != type ||
        !PyArray_CHKFLAGS(dst, flags | NPY_ARRAY_WRITEABLE) || !PyArray_CHKFLAGS(src, flags) ||
        !PyArray_ISNBO(PyArray_DESCR(dst)->byteorder) ||
        !PyArray_ISNBO(PyArray_DESCR(src)->byteorder) ||
        !PyArray_SAMESHAPE(dst, src) || !all_finite(src))
        Py_RETURN_FALSE;
    memmove(PyArray_DATA(dst), PyArray_DATA(src), (size_t)PyArray_NBYTES(src));
    Py_RETURN_TRUE;
}

static PyMethodDef module_methods[] = {
    {"_copy_finite", (PyCFunction)(void (*)(void))core_copy_finite, METH_FASTCALL,
     "_copy_finite(dst, src) -> bool: src copied into dst when they match in dtype and shape, "
     "both C-contiguous, and src is finite; else False and dst untouched."},
    {"_interrupt_all", core_interrupt_all, METH_NOARGS,
     "_interrupt_all(): every call running in another thread stops with KeyboardInterrupt."},
    {"_watch", core_watch, METH_O,
     "_watch(token) -> the token watched before: this thread's calls stop with "
     "KeyboardInterrupt once token.is_set() (a threading.Event); None stops watching."},
    {"_polls", core_polls, METH_NOARGS,
     "_polls() -> the polls for Ctrl-C made so far by every call (for tests)."},
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
