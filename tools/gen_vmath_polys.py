"""Generate the polynomials of fastnn's vector math (csrc/simd/vmath.inc).

1. expm1(r)/r on |r| <= ln2/2 for float32: a degree-5 Chebyshev fit (relative
   error 1.3e-8, a fifth of an ulp; Taylor needs degree 6 for the same).
   float64 keeps Taylor's 1/k! to degree 12.

2. erfc, for float64:
For z >= 0 we write erfc(z) = exp(-z*z) * g(t) / (1 + 2z) with t = (z - L)/(z + L),
which maps [0, inf) onto [-1, 1).  g is smooth on the whole interval (it tends to
2/sqrt(pi) as z grows), so one polynomial in t covers every z: no branches in the
vector code.  This is Weideman's substitution; the coefficients are our own
Chebyshev fit, computed here with mpmath and printed as C arrays (highest degree
first, for Horner).

3. The float32 normal tail, Q(a) = 1 - Phi(a) = exp(-a^2/2) h(t) / (a + C) with
t = (a - C)/(a + C), C = 1.5, on 0 <= a <= 14.5 only (beyond, x Q(x) is below half
the least subnormal): one reciprocal r = 1/(a + C) gives both t = 1 - 2C r and the
factor r (vmath.inc corrects r's rounding to second order).  What is left is
t's own rounding, up to 2^-25 near t = -1 (a = 0), where h'/h grows with C:
a small C keeps it a fraction of an ulp (a larger C allows a lower degree,
but its error near 0 reaches an ulp).  Weighted least squares on the relative
error in the monomial basis, the coefficients rounded to float one at a time
(largest first) with the rest refitted, so that the rounding is compensated.

4. The float32 normal tail near the origin, for vectors whose every lane has
a = |x| <= 4 (most of what a network feeds GELU): Q(a) = exp(-a^2/2) h(a) with
h a polynomial of degree 15 in u = a/2 - 1 (exact for a in [1, 4]), so no
reciprocal and no correction of it.  h falls from 1/2 to 0.094 and its
coefficients alternate in sign, so Horner cancels only for u > 0, by less than
a factor 3.  Fitted and rounded the same way as 3.

Run: python tools/gen_vmath_polys.py  (needs mpmath)
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


def fit_expm1_f32(deg=5, nodes=2000):
    h = float(mpmath.log(2) / 2)
    t = np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes) * h
    f = np.array([float(mpmath.expm1(mpmath.mpf(x)) / x) for x in t])
    cheb = np.polynomial.chebyshev.chebfit(t / h, f, deg)
    return np.polynomial.chebyshev.cheb2poly(cheb) / h ** np.arange(deg + 1)


TAIL_C, TAIL_AMAX = 1.5, 14.5


def tail_h(a):
    a = mpmath.mpf(a)
    return mpmath.erfc(a / mpmath.sqrt(2)) / 2 * mpmath.exp(a * a / 2) * (a + TAIL_C)


def fit_relative_f32(f, x, deg, xx):
    """Coefficients (lowest degree first) of a degree-deg polynomial fitted to
    f on the nodes x, weighted least squares on the relative error in the
    monomial basis, rounded to float one at a time (largest first) with the
    rest refitted so that the rounding is compensated; and the max relative
    error with those float coefficients on the points xx."""
    y = np.array([float(f(v)) for v in x])
    A = np.vander(x, deg + 1, increasing=True) / y[:, None]
    co = np.linalg.lstsq(A, np.ones_like(y), rcond=None)[0]
    free = list(np.argsort(-np.abs(co)))
    while free:
        k = free.pop(0)
        co[k] = float(np.float32(co[k]))
        if free:
            fixed = [i for i in range(deg + 1) if i not in free]
            co[free] = np.linalg.lstsq(A[:, free], 1 - A[:, fixed] @ co[fixed], rcond=None)[0]
    ref = np.array([float(f(v)) for v in xx])
    return co, float(np.max(np.abs(np.polynomial.polynomial.polyval(xx, co) / ref - 1)))


def chebyshev_nodes(nodes):
    return np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)


def fit_tail_f32(deg=11, nodes=600):
    t1 = (TAIL_AMAX - TAIL_C) / (TAIL_AMAX + TAIL_C)
    t = -1 + (chebyshev_nodes(nodes) + 1) / 2 * (t1 + 1)
    return fit_relative_f32(lambda x: tail_h(TAIL_C * (1 + x) / (1 - x)), t, deg, np.linspace(-1, t1, 4001))


def near_h(u):
    a = 2 * (mpmath.mpf(u) + 1)
    return mpmath.erfc(a / mpmath.sqrt(2)) / 2 * mpmath.exp(a * a / 2)


def fit_tail_near_f32(deg=15, nodes=800):
    return fit_relative_f32(near_h, chebyshev_nodes(nodes), deg, np.linspace(-1, 1, 4001))


if __name__ == "__main__":
    h, err = fit_tail_near_f32()
    print(f"/* degree {len(h) - 1}, max relative error of h with float coefficients {err:.2e} */")
    print(f"static const float fnn_tail_near_poly_f32[{len(h)}] = {{")
    print("    " + ", ".join("%.9ef" % np.float32(c) for c in h[::-1]) + "};")
    h, err = fit_tail_f32()
    print(f"/* degree {len(h) - 1}, max relative error of h with float coefficients {err:.2e} */")
    print(f"static const float fnn_tail_poly_f32[{len(h)}] = {{")
    print("    " + ", ".join("%.9ef" % np.float32(c) for c in h[::-1]) + "};")
    q = fit_expm1_f32()
    print("static const float fnn_expm1_poly_f32[6] = {")
    print("    " + ", ".join("%.9ef" % np.float32(c) for c in q[::-1]) + "};")
    for name, deg, fmt in (("f64", 22, "%.17e"),):
        p = fit(deg)
        print(f"/* degree {deg}, max relative error of g {max_rel_err(p):.2e} */")
        print(f"static const {'float' if name == 'f32' else 'double'} fnn_erfc_poly_{name}[{deg + 1}] = {{")
        print("    " + ",\n    ".join(fmt % c for c in p[::-1]) + "};")
