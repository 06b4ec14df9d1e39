"""Build of fastnn's single extension module, fastnn._C.

All C of fastnn (csrc/) and the Cython bindings compile into one module so a
process has one ISA dispatch table and one thread setting.  Per-ISA kernels
select their instruction set with `#pragma GCC target` inside their own files;
the build itself targets plain x86-64 (never the build machine's own ISA).  A probe drops an
ISA the compiler cannot target.
"""
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join("csrc")

PROBES = {
    "FNN_HAVE_AVX2": ("avx2,fma", "__m256 v = _mm256_fmadd_ps(_mm256_set1_ps(1.f), _mm256_set1_ps(2.f), _mm256_setzero_ps());"
                      " return (int)_mm256_cvtss_f32(v);"),
    "FNN_HAVE_AVX512": ("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma",
                        "__m512 v = _mm512_fmadd_ps(_mm512_set1_ps(1.f), _mm512_set1_ps(2.f), _mm512_setzero_ps());"
                        " __mmask16 m = _mm512_cmp_ps_mask(v, v, _CMP_EQ_OQ); return (int)m + (int)_mm512_reduce_add_ps(v);"),
}


def _compiler():
    """The compiler command as a list: CC may hold a wrapper and its
    compiler ("ccache gcc"), as distutils allows."""
    return shlex.split(os.environ.get("CC", "cc"))


def probe(target, body):
    src = f'#pragma GCC target("{target}")\n#include <immintrin.h>\nint main(void) {{ {body} }}\n'
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        try:
            r = subprocess.run(_compiler() + ["-O2", "-c", path, "-o", os.path.join(d, "probe.o")],
                               capture_output=True)
        except OSError:
            return False
        return r.returncode == 0


def isa_macros():
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    return [(name, "1") for name, (target, body) in PROBES.items() if probe(target, body)]


def copy_public_headers():
    """Ship the public headers inside the package so fastnn.get_include() finds
    them, with a copy of fastnn/capi.pxd so that Cython's include_path=[that
    directory] finds `fastnn.capi` even where the package itself is not on
    sys.path as a plain directory (e.g. some editable installs)."""
    dst = os.path.join(HERE, "src", "fastnn", "include", "fastnn")
    os.makedirs(dst, exist_ok=True)
    for h in glob(os.path.join(HERE, "csrc", "include", "fastnn", "*.h")):
        shutil.copy2(h, dst)
    shutil.copy2(os.path.join(HERE, "src", "fastnn", "capi.pxd"), dst)


def check_generated_capi():
    """fastnn.h is the one source of the C API: refuse to build when the
    files tools/gen_capi.py makes from it (the table list, fastnn_capi.h's
    names, the .pxd files) no longer match it.  A tree without tools/ (an
    sdist) builds the files it has."""
    gen = os.path.join(HERE, "tools", "gen_capi.py")
    if not os.path.exists(gen):
        return
    spec = importlib.util.spec_from_file_location("gen_capi", gen)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        stale = mod.stale(HERE)
    except mod.CapiError as e:
        sys.exit(f"setup.py: tools/gen_capi.py: {e}")
    if stale:
        sys.exit("setup.py: not what fastnn.h makes now (run python tools/gen_capi.py): " + ", ".join(stale))


check_generated_capi()
copy_public_headers()
c_sources = sorted(glob(os.path.join(CSRC, "**", "*.c"), recursive=True))
macros = isa_macros() + [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
# -ffp-contract=off: the vector math relies on error-free transformations
# (two-sum, fma residuals) that a compiler-fused a*b+c would silently break;
# every fused multiply-add we want is written explicitly.
compile_args = ["-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-function"]
if sys.platform == "darwin":
    compile_args = [a for a in compile_args if a != "-fopenmp"] + ["-Xpreprocessor", "-fopenmp"]

ext = Extension(
    "fastnn._C",
    sources=["src/fastnn/_C.pyx"] + c_sources,
    # the .inc bodies and headers are compiled through the .c files: a change
    # to any of them must rebuild the module
    depends=sorted(glob(os.path.join(CSRC, "**", "*.inc"), recursive=True)
                   + glob(os.path.join(CSRC, "**", "*.h"), recursive=True)),
    include_dirs=[os.path.join(CSRC, "include"), CSRC, numpy.get_include()],
    define_macros=macros,
    extra_compile_args=compile_args,
    extra_link_args=["-fopenmp"],
)

setup(
    ext_modules=cythonize([ext], language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True, "embedsignature": True}),
)
