"""Run-time configuration: ISA, threads, and what the build holds."""
import os

from . import _C


def get_num_threads():
    """Threads a kernel called now would use (threadpoolctl's limits included)."""
    return _C.get_num_threads()


def set_num_threads(n):
    """Use n threads in fastnn's kernels (also sets OpenMP's default for this thread)."""
    _C.set_num_threads(n)


def get_isa():
    """The instruction set whose kernels run now: 'generic', 'avx2' or 'avx512'."""
    return _C.get_isa()


def set_isa(name):
    """Switch every kernel to the named ISA (one the CPU has); not while a kernel runs."""
    _C.set_isa(name)


def get_include():
    """Directory holding fastnn's public C headers and its Cython declarations:
    fastnn/fastnn.h (the kernels), fastnn/fastnn_capi.h (import_fastnn() for
    extensions that call them) and fastnn/capi.pxd (the same for Cython).
    Pass it as include_dirs= of the Extension, and as include_path= to
    cythonize() for Cython modules."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "include")


def config():
    """A dict describing this build and process."""
    from . import __version__
    return {
        "version": __version__,
        "isa": _C.get_isa(),
        "isa_available": _C.isa_available(),
        "num_threads": _C.get_num_threads(),
        "openmp": _C.openmp_version(),
        # libgomp's wait policy: "user" (OMP_WAIT_POLICY / GOMP_SPINCOUNT)
        # or "libgomp" (its default)
        "omp_wait": _omp_wait(),
        "compiler": _C.compiler(),
        "kernels": _C.kernel_names(),
        # freed large NumPy blocks kept for reuse: bytes kept, the limit
        # (FASTNN_MEMORY_CACHE_MB), requests served from it, and misses
        "memory_cache": _C.memory_cache_stats(),
    }


def empty_cache():
    """Return every block the memory cache keeps to the system (as
    torch.cuda.empty_cache); returns the bytes freed."""
    return _C.memory_cache_release()


def _omp_wait():
    from . import _omp_wait as w
    return w


def show_config():
    """Print config() for people."""
    c = config()
    print(f"fastnn {c['version']}")
    print(f"  isa:           {c['isa']} (available: {', '.join(c['isa_available'])})")
    print(f"  num_threads:   {c['num_threads']}")
    print(f"  openmp:        {c['openmp'] or 'no'} (wait policy: {c['omp_wait']})")
    print(f"  compiler:      {c['compiler']}")
    mc = c["memory_cache"]
    print(f"  memory cache:  {mc['bytes'] >> 20} of {mc['limit'] >> 20} MiB kept ({mc['hits']} reuses)")
    print(f"  kernels:       {len(c['kernels'])} for {c['isa']}")
