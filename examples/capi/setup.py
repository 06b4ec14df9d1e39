# setup.py: python setup.py build_ext --inplace  (fastnn must be installed)
import fastnn
from Cython.Build import cythonize
from setuptools import Extension, setup

inc = fastnn.get_include()  # fastnn/fastnn.h, fastnn/fastnn_capi.h, fastnn/capi.pxd
setup(
    name="fnn-example",
    ext_modules=[Extension("fnn_example", ["fnn_example.c"], include_dirs=[inc])]
    + cythonize([Extension("fnn_example_cy", ["fnn_example_cy.pyx"], include_dirs=[inc])],
                include_path=[inc], language_level=3),
)
