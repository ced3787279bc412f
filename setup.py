"""Build of the C extension nnext._core (metadata lives in pyproject.toml).

Environment variables:
  NNEXT_SANITIZE=1  build with -fsanitize=address,undefined (for the test suite under ASan/UBSan)
  NNEXT_DEBUG=1     build with -O0 -g
"""
import glob
import os

import numpy as np
from setuptools import Extension, setup

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

setup(ext_modules=[core])
