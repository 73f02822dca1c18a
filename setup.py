"""Build the Cython frame core (src/fastrec/_ext).

Every ``_ext/_*.pyx`` becomes one extension module.  Build flags favour speed: the
kernels are tuned for the CPU that builds them (pip builds from source on the machine that
records).  Set FASTREC_PORTABLE=1 when building a wheel to ship to other machines.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

EXT_DIR = Path("src/fastrec/_ext")

if sys.platform == "win32":
    compile_args = ["/O2"]
else:
    # Python builds with -fwrapv, which makes `p[4 * x + c]` look like a gather to GCC and
    # stops vectorisation; the kernels never rely on signed wrap-around.
    compile_args = ["-O3", "-fno-wrapv", "-Wno-unused-function"]
    if os.environ.get("FASTREC_PORTABLE") != "1":
        compile_args.append("-march=native")

# shared with scripts/windows/build_core.py (the mingw-w64 cross build), which reads them
# through runpy without running setup()
CYTHON_DIRECTIVES = {
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
}
DEFINE_MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

extensions = [
    Extension(
        f"fastrec._ext.{pyx.stem}",
        [str(pyx)],
        include_dirs=[str(EXT_DIR), np.get_include()],
        define_macros=DEFINE_MACROS,
        extra_compile_args=compile_args,
    )
    for pyx in sorted(EXT_DIR.glob("_*.pyx"))
]

if __name__ == "__main__":  # setuptools' build backend runs this file as __main__ too
    setup(ext_modules=cythonize(extensions, language_level=3,
                                compiler_directives=CYTHON_DIRECTIVES))
