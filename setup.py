"""Build of the C extension nnext._core (metadata lives in pyproject.toml).

Environment variables:
  NNEXT_SANITIZE=1  build with -fsanitize=address,undefined (for the test suite under ASan/UBSan)
  NNEXT_DEBUG=1     build with -O0 -g
"""
import glob
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


# What each source costs gcc -O3 on one x86-64 core, roughly (the rest take a
# fraction of a second): orders the parallel compile, longest first, and
# gives pip's one-line estimate.  The typed cores compile every hot function
# once per instruction set (nnext_isa_instantiate.h), hence their weight.
_COMPILE_SECONDS = {
    "nnext_core_f64.c": 24, "nnext_core_f32.c": 24, "nnext_gemm.c": 7,
}


def _estimate_seconds(jobs):
    """Wall time of the compile on `jobs` CPUs: the sources packed longest
    first onto the CPUs, plus the small files and the link."""
    loads = [0.0] * jobs
    for cost in sorted(_COMPILE_SECONDS.values(), reverse=True):
        loads[loads.index(min(loads))] += cost
    return int(math.ceil(max(loads) + 3))


def _announce(message):
    """One line that reaches the user even through pip, which hides a build
    backend's output unless given -v: written to the terminal itself when
    there is one and standard output is not it."""
    print(message, flush=True)
    if sys.stdout.isatty():
        return
    try:
        with open("/dev/tty", "w") as tty:
            tty.write(message + "\n")
    except OSError:
        pass  # no terminal (CI, a notebook): the printed line is all there is


class ParallelBuildExt(build_ext):
    """Compiles the sources of each extension side by side, one compiler
    process per CPU (setuptools' own `parallel` builds whole extensions side
    by side, and nnext has one), the longest first so that the short ones
    fill in around them."""

    def build_extension(self, ext):
        compiler = self.compiler
        serial_compile = compiler.compile
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

        def parallel_compile(sources, output_dir=None, macros=None, include_dirs=None,
                             debug=False, extra_preargs=None, extra_postargs=None,
                             depends=None):
            macros, objects, postargs, pp_opts, build = compiler._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
            todo = sorted((obj for obj in objects if obj in build),
                          key=lambda obj: -_COMPILE_SECONDS.get(os.path.basename(build[obj][0]), 0))

            if todo:
                _announce(f"nnext: compiling the C core ({len(todo)} files) on {jobs} CPU(s), "
                          f"about {_estimate_seconds(jobs)} s ...")

            def one(obj):
                src, src_ext = build[obj]
                compiler._compile(obj, src, src_ext, cc_args, postargs, pp_opts)

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for future in [pool.submit(one, obj) for obj in todo]:
                    future.result()  # the first compile error, as a serial build raises it
            return objects

        compiler.compile = parallel_compile
        try:
            super().build_extension(ext)
        finally:
            compiler.compile = serial_compile


CSRC = "nnext/csrc"
flags = ["-std=c11", "-Wall", "-Wextra", "-fno-strict-aliasing", "-fno-trapping-math", "-pthread"]
link_flags = ["-pthread"]
if os.environ.get("NNEXT_DEBUG"):
    flags += ["-O0", "-g"]
else:
    flags += ["-O3"]
if os.environ.get("NNEXT_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    flags += san + ["-g"]
    link_flags += san

core = Extension(
    "nnext._core",
    sources=sorted(glob.glob(f"{CSRC}/*.c")),
    depends=sorted(glob.glob(f"{CSRC}/*.h")),
    include_dirs=[np.get_include(), CSRC],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=flags,
    extra_link_args=link_flags,
    libraries=["m"],
)

setup(ext_modules=[core], cmdclass={"build_ext": ParallelBuildExt})
