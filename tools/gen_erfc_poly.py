"""Generate the polynomial behind fastnn's vectorised erfc (csrc/simd/vmath.inc).

For z >= 0 we write erfc(z) = exp(-z*z) * g(t) / (1 + 2z) with t = (z - L)/(z + L),
which maps [0, inf) onto [-1, 1).  g is smooth on the whole interval (it tends to
2/sqrt(pi) as z grows), so one polynomial in t covers every z: no branches in the
vector code.  This is Weideman's substitution; the coefficients are our own
Chebyshev fit, computed here with mpmath and printed as C arrays (highest degree
first, for Horner).  Run: python tools/gen_erfc_poly.py  (needs mpmath)
"""
import mpmath
import numpy as np

mpmath.mp.dps = 40
L = 3.0


def g(t):
    z = L * (1 + t) / (1 - t)
    return mpmath.erfc(z) * mpmath.exp(z * z) * (1 + 2 * z)


def fit(deg, nodes=300):
    ts = [mpmath.cos(mpmath.pi * (k + 0.5) / nodes) for k in range(nodes)]
    ys = np.array([float(g(t)) for t in ts])
    cheb = np.polynomial.chebyshev.chebfit(np.array([float(t) for t in ts]), ys, deg)
    return np.polynomial.chebyshev.cheb2poly(cheb)


def max_rel_err(p):
    tz = np.linspace(-1, 0.99999, 2001)
    ref = np.array([float(g(mpmath.mpf(t))) for t in tz])
    return float(np.max(np.abs(np.polynomial.polynomial.polyval(tz, p) / ref - 1)))


if __name__ == "__main__":
    for name, deg, fmt in (("f32", 11, "%.9ef"), ("f64", 22, "%.17e")):
        p = fit(deg)
        print(f"/* degree {deg}, max relative error of g {max_rel_err(p):.2e} */")
        print(f"static const {'float' if name == 'f32' else 'double'} fnn_erfc_poly_{name}[{deg + 1}] = {{")
        print("    " + ",\n    ".join(fmt % c for c in p[::-1]) + "};")
