import os

import numpy as np
import pytest

import fastnn

try:
    from hypothesis import settings

    settings.register_profile("ci", max_examples=30, deadline=None)
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.register_profile("deep", max_examples=2000, deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")
except ImportError:  # hypothesis is in the [test] extra
    pass

ISAS = fastnn.config()["isa_available"]


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test once per ISA this CPU has, restoring the best afterwards."""
    before = fastnn.get_isa()
    fastnn.set_isa(request.param)
    yield request.param
    fastnn.set_isa(before)


@pytest.fixture(params=[1, 2])
def threads(request):
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(request.param)
    yield request.param
    fastnn.set_num_threads(max(before, 1))


@pytest.fixture
def restore_threads():
    before = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(max(before, 1))


def ulp_error(y, ref):
    """|y - ref| in units of the last place of ref rounded to y's dtype."""
    ref = np.asarray(ref, dtype=np.float64)
    spacing = np.spacing(np.abs(ref).astype(y.dtype)).astype(np.float64)
    y64 = y.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(y64 - ref) / spacing
    err[y64 == ref] = 0.0  # exact, including matching infinities
    err[np.isinf(ref) & (y64 != ref)] = np.inf
    return err
