"""Customer lifetime value: the BG/NBD purchase model and the Gamma-Gamma spend model.

Pure numpy + scipy (no Dagster, no DuckDB), vectorised over customers. Implemented here rather than
taken from a library: ``lifetimes`` (the reference implementation) has had no release since 2020 and
brings autograd and dill; ``btyd`` (its fork) stopped at a 2022 beta; ``pymc-marketing`` is far too
heavy for the install. tests/test_clv.py checks these formulas against lifetimes' values.

References
----------
- BG/NBD: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your Customers' the Easy Way:
  An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284 -- the likelihood and the
  conditional expectation (eq. 10); P(alive) from the note "Computing P(alive) Using the BG/NBD Model"
  (Fader, Hardie & Lee 2008).
- Gamma-Gamma: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: Using Iso-Value
  Curves for Customer Base Analysis", Journal of Marketing Research 42(4), 415-430; Fader, P. S. &
  Hardie, B. G. S. (2013), "The Gamma-Gamma Model of Monetary Value" (note: the likelihood of the mean
  spend and the conditional expected spend, eq. 5).

Inputs (one entry per customer, the usual "RFM summary" of the calibration period):
- ``frequency`` x: the number of *repeat* purchases (purchases after the first);
- ``recency`` t_x: the time from the first purchase to the last one (0 when x = 0);
- ``T``: the time from the first purchase to the end of the calibration period;
- ``monetary`` zbar: the mean value of the repeat purchases (ignored where x = 0).

Time is in whatever unit the caller fits in (weeks in the published CDNOW results, days in our
warehouse); every forecast horizon ``t`` is in that same unit, and ``customer_lifetime_value`` is told
how many days one unit is. Money is in whatever unit ``monetary`` is in: these are statistical
estimates, returned as floats, never booked amounts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

Array = NDArray[np.float64]

# A month, in days, for the CLV horizon and its monthly discounting (a mean Gregorian month; lifetimes
# uses 30 days or 4.345 weeks).
DAYS_PER_MONTH = 365.25 / 12
# Fitted parameters are searched on the log scale; a fit whose log-parameter runs past this bound is
# diverging (the data do not identify the model) and is rejected instead of returned.
MAX_ABS_LOG_PARAM = 15.0
# Within this distance of a = 1, BG/NBD's conditional expectation (0/0 at a = 1) is interpolated
# between its values at 1 -/+ this distance.
A_NEAR_ONE = 1e-5
# Fewest customers with a repeat purchase that the fits accept: below this the estimates are noise.
MIN_REPEAT_CUSTOMERS = 10


class ClvFitError(ValueError):
    """The model cannot be fitted to these data (bad input, too little data, or no convergence)."""


def _as_array(name: str, values: ArrayLike) -> Array:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ClvFitError(
            f"CLV: {name} must be one-dimensional (one value per customer), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ClvFitError(f"CLV: {name} has missing or infinite values; fill or drop those customers first")
    return arr


def _rfm(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[Array, Array, Array]:
    """Validated (x, t_x, T) arrays of one length."""
    x, t_x, big_t = _as_array("frequency", frequency), _as_array("recency", recency), _as_array("T", T)
    if not x.shape == t_x.shape == big_t.shape:
        raise ClvFitError(
            f"CLV: frequency, recency and T differ in length: {x.size}, {t_x.size}, {big_t.size}"
        )
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ClvFitError("CLV: frequency must be a whole number of repeat purchases >= 0")
    if np.any(t_x < 0) or np.any(t_x > big_t):
        raise ClvFitError("CLV: recency must lie in [0, T] (time from first to last purchase)")
    if np.any(big_t <= 0):
        raise ClvFitError(
            "CLV: T must be > 0 (time from first purchase to the end of the calibration period)"
        )
    return x, t_x, big_t


def _require_repeat_customers(model: str, n_repeat: int) -> None:
    if n_repeat < MIN_REPEAT_CUSTOMERS:
        raise ClvFitError(
            f"CLV: {model} needs at least {MIN_REPEAT_CUSTOMERS} customers with a repeat purchase, "
            f"got {n_repeat}"
        )


def _fit_log_params(
    model: str,
    log_likelihood: Callable[[Array], Array],
    gradient: Callable[[Array], Array],
    n_params: int,
) -> tuple[Array, float]:
    """Maximise a per-customer log-likelihood (a function of the parameters) over log-parameters;
    `gradient` gives its per-customer derivatives by each parameter (one column each).

    Returns the parameters and the total log-likelihood; raises ClvFitError unless it cleanly converged.
    """

    def neg_ll(log_params: Array) -> float:
        # The mean, not the sum, so the optimiser's tolerances do not depend on the number of customers.
        return -float(np.mean(log_likelihood(np.exp(log_params))))

    def neg_ll_gradient(log_params: Array) -> Array:
        # by the log-parameters: d/d(log p) = p d/dp. Analytic: a finite-difference gradient costs a
        # likelihood per parameter and loses precision near the optimum.
        params = np.exp(log_params)
        return np.asarray(-np.mean(gradient(params), axis=0) * params, dtype=np.float64)

    def diverged(log_params: Array) -> bool:
        return bool(np.any(np.abs(log_params) > MAX_ABS_LOG_PARAM))

    result = minimize(
        neg_ll,
        np.zeros(n_params),
        jac=neg_ll_gradient,
        method="BFGS",
        options={"gtol": 1e-6, "maxiter": 1000},
    )
    if not result.success and np.isfinite(result.fun) and not diverged(result.x):
        # BFGS can stop on precision loss next to the optimum; Nelder-Mead from there settles it.
        result = minimize(
            neg_ll,
            result.x,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 1000 * n_params},
        )
    log_params = np.asarray(result.x, dtype=np.float64)
    if diverged(log_params):
        raise ClvFitError(
            f"CLV: the {model} fit diverged (parameters {np.exp(log_params)}): the likelihood peaks at a "
            "boundary, so these data do not identify the model (e.g. no customer looks dropped out, or "
            "every customer behaves or spends the same); use more or longer history"
        )
    if not result.success or not np.isfinite(result.fun):
        raise ClvFitError(f"CLV: the {model} fit did not converge ({result.message}); check the input data")
    n = log_likelihood(np.exp(log_params)).size
    return np.exp(log_params), -float(result.fun) * n


# --------------------------------------------------------------------------------------------- BG/NBD


def _bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, big_t: Array
) -> Array:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, section 3), in log form."""
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3, a4 = _bgnbd_alive_or_dropped(r, alpha, a, b, x, t_x, big_t)
    return a1 + a2 + np.logaddexp(a3, a4)


def _bgnbd_alive_or_dropped(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, big_t: Array
) -> tuple[Array, Array]:
    """The likelihood's two cases, in logs: A3 (still alive at T) and A4 (dropped out right after
    the last purchase; -inf without a repeat purchase)."""
    a3 = -(r + x) * np.log(alpha + big_t)
    repeat = x > 0
    # ln(a / (b + x - 1)) is only defined (and only used) for repeat customers.
    a4 = np.full_like(x, -np.inf)
    xr = x[repeat]
    a4[repeat] = np.log(a) - np.log(b + xr - 1) - (r + xr) * np.log(alpha + t_x[repeat])
    return a3, a4


def _bgnbd_gradient(r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, big_t: Array) -> Array:
    """Per-customer derivatives of `_bgnbd_log_likelihood` by r, alpha, a and b (one column each).

    With L = logaddexp(A3, A4), dL = w3 dA3 + w4 dA4 where w3, w4 = exp(A3 - L), exp(A4 - L) (w4 = 0
    for customers without a repeat purchase); d lnGamma = digamma."""
    a3, a4 = _bgnbd_alive_or_dropped(r, alpha, a, b, x, t_x, big_t)
    both = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - both), np.exp(a4 - both)
    repeat = x > 0
    inv_b_x_1 = np.zeros_like(x)
    inv_b_x_1[repeat] = 1.0 / (b + x[repeat] - 1)
    digamma_abx = digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + big_t) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + big_t) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma_abx + w4 / a
    d_b = digamma(b + x) - digamma_abx - digamma(b) + digamma(a + b) - w4 * inv_b_x_1
    return np.column_stack((d_r, d_alpha, d_a, d_b))


@dataclass(frozen=True)
class BgNbd:
    """A fitted BG/NBD model (Fader, Hardie & Lee 2005). Time in the unit the model was fitted in.

    r, alpha: the gamma heterogeneity of the purchase rate while alive (mean rate r / alpha per unit);
    a, b: the beta heterogeneity of the probability of dropping out after each purchase.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int

    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
        """Total log-likelihood of these customers under the fitted parameters."""
        x, t_x, big_t = _rfm(frequency, recency, T)
        return float(np.sum(_bgnbd_log_likelihood(self.r, self.alpha, self.a, self.b, x, t_x, big_t)))

    def _dropout_odds(self, x: Array, t_x: Array, big_t: Array) -> Array:
        """delta(x>0) * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x): the odds that the customer is gone."""
        odds = np.zeros_like(x)
        rep = x > 0
        xr = x[rep]
        odds[rep] = np.exp(
            np.log(self.a)
            - np.log(self.b + xr - 1)
            + (self.r + xr) * (np.log(self.alpha + big_t[rep]) - np.log(self.alpha + t_x[rep]))
        )
        return odds

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """P(customer still alive at T | x, t_x, T) (Fader, Hardie & Lee 2008, "Computing P(alive) Using
        the BG/NBD Model").

        A customer with no repeat purchase is alive with probability 1 under BG/NBD (dropout can only
        happen right after a purchase) -- a known property of the model, not a bug.
        """
        x, t_x, big_t = _rfm(frequency, recency, T)
        return 1.0 / (1.0 + self._dropout_odds(x, t_x, big_t))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Expected number of purchases in (T, T + t] given x, t_x, T (Fader, Hardie & Lee 2005, eq. 10).

        ``t`` is in the model's time unit. Eq. 10's term ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x;
        a+b+x-1; z) overflows for heavy buyers over long horizons (Hardie's note "Overcoming the BG/NBD
        Model's #NUM! Error Problem", 2013); it is evaluated through Euler's transformation as
        (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters do not grow with x.
        """
        if t < 0:
            raise ValueError(f"CLV: the forecast horizon t must be >= 0, got {t}")
        x, t_x, big_t = _rfm(frequency, recency, T)
        if t == 0:
            return np.zeros_like(x)
        if abs(self.a - 1) < A_NEAR_ONE:
            # Eq. 10 is 0/0 at a = 1 and loses precision near it; it is smooth in a, so interpolate
            # linearly between its values at 1 -/+ A_NEAR_ONE.
            below = self._purchases_given_alive(t, 1 - A_NEAR_ONE, x, big_t)
            above = self._purchases_given_alive(t, 1 + A_NEAR_ONE, x, big_t)
            weight = (self.a - (1 - A_NEAR_ONE)) / (2 * A_NEAR_ONE)
            given_alive = below + weight * (above - below)
        else:
            given_alive = self._purchases_given_alive(t, self.a, x, big_t)
        return given_alive / (1.0 + self._dropout_odds(x, t_x, big_t))

    def _purchases_given_alive(self, t: float, a: float, x: Array, big_t: Array) -> Array:
        """The numerator of eq. 10 (expected purchases in (T, T+t] if alive at T)."""
        r, b = self.r, self.b
        z = t / (self.alpha + big_t + t)
        euler = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1.0 - euler)


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BgNbd:
    """Fit BG/NBD by maximum likelihood (log-parameters, scipy.optimize.minimize).

    frequency = repeat purchases, recency = time of the last purchase since the first, T = age of the
    customer at the end of the calibration period, all in one time unit of the caller's choosing.
    Raises ClvFitError on bad input, too few repeat customers, or a fit that does not converge.
    """
    x, t_x, big_t = _rfm(frequency, recency, T)
    _require_repeat_customers("BG/NBD", int(np.count_nonzero(x > 0)))
    # alpha is a time scale: search it relative to the mean age so the fit does not depend on the unit.
    scale = float(np.mean(big_t))

    def log_likelihood(params: Array) -> Array:
        r, alpha, a, b = params
        return _bgnbd_log_likelihood(r, alpha * scale, a, b, x, t_x, big_t)

    def gradient(params: Array) -> Array:
        r, alpha, a, b = params
        return _bgnbd_gradient(r, alpha * scale, a, b, x, t_x, big_t) * [1.0, scale, 1.0, 1.0]

    (r, alpha, a, b), ll = _fit_log_params("BG/NBD", log_likelihood, gradient, 4)
    return BgNbd(float(r), float(alpha * scale), float(a), float(b), ll, x.size)


# ------------------------------------------------------------------------------------------------ NBD


@dataclass(frozen=True)
class Nbd:
    """The NBD model (Ehrenberg 1959; Morrison & Schmittlein 1988): BG/NBD without dropout, the limit
    the BG/NBD fit runs to when no customer looks dropped out (a short history, or a base that does
    not churn). Repeat purchases in (0, T] are Poisson(lambda T), lambda ~ Gamma(r, alpha)."""

    r: float
    alpha: float
    log_likelihood: float
    n_customers: int

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        x, _, _ = _rfm(frequency, recency, T)
        return np.ones_like(x)

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """E[purchases in (T, T + t]] = t (r + x) / (alpha + T): the posterior mean rate times t."""
        x, _, big_t = _rfm(frequency, recency, T)
        return t * (self.r + x) / (self.alpha + big_t)


def _nbd_log_likelihood(r: float, alpha: float, x: Array, big_t: Array) -> Array:
    """Per-customer NBD log-likelihood of x repeat purchases in (0, T]."""
    return (
        gammaln(r + x)
        - gammaln(r)
        - gammaln(x + 1)
        + r * np.log(alpha / (alpha + big_t))
        + x * np.log(big_t / (alpha + big_t))
    )


def _nbd_gradient(r: float, alpha: float, x: Array, big_t: Array) -> Array:
    """Per-customer derivatives of `_nbd_log_likelihood` by r and alpha (one column each)."""
    d_r = digamma(r + x) - digamma(r) + np.log(alpha / (alpha + big_t))
    d_alpha = r / alpha - (r + x) / (alpha + big_t)
    return np.column_stack((d_r, d_alpha))


def fit_nbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Nbd:
    """Fit the NBD by maximum likelihood: P(x | T) = Gamma(r + x) / (Gamma(r) x!) (alpha / (alpha + T))^r
    (T / (alpha + T))^x. Raises ClvFitError like the other fits."""
    x, _, big_t = _rfm(frequency, recency, T)
    _require_repeat_customers("NBD", int(np.count_nonzero(x > 0)))
    scale = float(np.mean(big_t))

    def log_likelihood(params: Array) -> Array:
        return _nbd_log_likelihood(params[0], params[1] * scale, x, big_t)

    def gradient(params: Array) -> Array:
        return _nbd_gradient(params[0], params[1] * scale, x, big_t) * [1.0, scale]

    (r, alpha), ll = _fit_log_params("NBD", log_likelihood, gradient, 2)
    return Nbd(float(r), float(alpha * scale), ll, x.size)


# ---------------------------------------------------------------------------------------- Gamma-Gamma


def _gamma_gamma_log_likelihood(p: float, q: float, gamma: float, x: Array, zbar: Array) -> Array:
    """Per-customer log-density of the mean spend zbar over x transactions (Fader & Hardie 2013 note)."""
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(zbar)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * zbar)
    )


def _gamma_gamma_gradient(p: float, q: float, gamma: float, x: Array, zbar: Array) -> Array:
    """Per-customer derivatives of `_gamma_gamma_log_likelihood` by p, q and gamma (one column each)."""
    px = p * x
    digamma_pxq = digamma(px + q)
    log_spend = np.log(gamma + x * zbar)
    d_p = x * (digamma_pxq - digamma(px) + np.log(zbar) + np.log(x) - log_spend)
    d_q = digamma_pxq - digamma(q) + np.log(gamma) - log_spend
    d_gamma = q / gamma - (px + q) / (gamma + x * zbar)
    return np.column_stack((d_p, d_q, d_gamma))


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model (Fader, Hardie & Lee 2005 JMR; Fader & Hardie 2013).

    Each transaction's value is gamma(p, nu); nu varies across customers as gamma(q, gamma). The mean
    spend of the population is p * gamma / (q - 1) (defined for q > 1).
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int

    @property
    def population_mean_spend(self) -> float:
        """E[M] = p * gamma / (q - 1): the expected spend of a customer we know nothing about."""
        if self.q <= 1:
            raise ValueError(f"CLV: Gamma-Gamma population mean spend is infinite for q = {self.q} <= 1")
        return self.p * self.gamma / (self.q - 1)

    def expected_spend(self, frequency: ArrayLike, monetary: ArrayLike) -> Array:
        """E[M | x, zbar] (Fader & Hardie 2013, eq. 5): a weighted mean of the population mean and zbar.

        Customers with no repeat purchase (x = 0) get the population mean whatever ``monetary`` says.
        """
        x, zbar = _as_array("frequency", frequency), _as_array("monetary", monetary)
        if x.shape != zbar.shape:
            raise ValueError(f"CLV: frequency and monetary differ in length: {x.size}, {zbar.size}")
        if self.q <= 1:
            raise ValueError(f"CLV: Gamma-Gamma expected spend is infinite for q = {self.q} <= 1")
        zbar = np.where(x > 0, zbar, 0.0)
        return self.p * (self.gamma + x * zbar) / (self.p * x + self.q - 1)


def fit_gamma_gamma(frequency: ArrayLike, monetary: ArrayLike) -> GammaGamma:
    """Fit Gamma-Gamma by maximum likelihood on the repeat customers (x > 0, zbar > 0).

    ``monetary`` is the mean value of each customer's repeat purchases. Customers with x = 0 are left
    out of the fit (they carry no spend information beyond the first purchase, which the published
    model excludes). Raises ClvFitError on bad input, too few repeat customers, or no convergence.
    """
    x_all, zbar_all = _as_array("frequency", frequency), _as_array("monetary", monetary)
    if x_all.shape != zbar_all.shape:
        raise ClvFitError(f"CLV: frequency and monetary differ in length: {x_all.size}, {zbar_all.size}")
    repeat = x_all > 0
    if np.any(zbar_all[repeat] <= 0):
        raise ClvFitError("CLV: Gamma-Gamma needs a positive mean spend for every repeat customer")
    x, zbar = x_all[repeat], zbar_all[repeat]
    _require_repeat_customers("Gamma-Gamma", x.size)
    # gamma is a money scale: search it relative to the mean spend so the fit does not depend on the unit.
    scale = float(np.mean(zbar))

    def log_likelihood(params: Array) -> Array:
        p, q, g = params
        return _gamma_gamma_log_likelihood(p, q, g * scale, x, zbar)

    def gradient(params: Array) -> Array:
        p, q, g = params
        return _gamma_gamma_gradient(p, q, g * scale, x, zbar) * [1.0, 1.0, scale]

    (p, q, g), ll = _fit_log_params("Gamma-Gamma", log_likelihood, gradient, 3)
    return GammaGamma(float(p), float(q), float(g * scale), ll, x.size)


# ----------------------------------------------------------------------------------------------- CLV


def customer_lifetime_value(
    bgnbd: BgNbd | Nbd,
    gg: GammaGamma,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    months: int = 12,
    monthly_discount: float = 0.01,
    time_unit_days: float = 1.0,
    spend_frequency: ArrayLike | None = None,
) -> Array:
    """Discounted expected value of each customer's purchases over the next ``months`` months.

    ``spend_frequency``: the repeat counts the spend model sees, when they differ from the purchase
    model's (e.g. repeats without a positive spend left out); default ``frequency``.

    As lifetimes' ``customer_lifetime_value``: for each month m = 1..months, the BG/NBD expected number
    of purchases in month m (the difference of the cumulative expectation at the month's end and its
    start) times the Gamma-Gamma expected spend, discounted by (1 + monthly_discount) ** m.
    ``time_unit_days`` is how many days one unit of the time the models were fitted in lasts (7 for
    weeks, 1 for days); a month is DAYS_PER_MONTH days.
    """
    if months < 0:
        raise ValueError(f"CLV: months must be >= 0, got {months}")
    if monthly_discount <= -1:
        raise ValueError(f"CLV: monthly_discount must be > -1, got {monthly_discount}")
    if time_unit_days <= 0:
        raise ValueError(f"CLV: time_unit_days must be > 0, got {time_unit_days}")
    spend = gg.expected_spend(frequency if spend_frequency is None else spend_frequency, monetary)
    month = DAYS_PER_MONTH / time_unit_days
    clv = np.zeros_like(spend)
    previous = np.zeros_like(spend)
    for m in range(1, months + 1):
        cumulative = bgnbd.expected_purchases(m * month, frequency, recency, T)
        clv += spend * (cumulative - previous) / (1.0 + monthly_discount) ** m
        previous = cumulative
    return clv
