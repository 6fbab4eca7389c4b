"""warehouse.clv: BG/NBD + Gamma-Gamma reproduce the published CDNOW results.

Published results reproduced (data: tests/fixtures/cdnow/, Hardie's CDNOW sample of 2,357 customers,
39-week calibration period, time in weeks):

- BG/NBD: Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An Alternative to the
  Pareto/NBD Model", Marketing Science 24(2), 275-284 (parameter estimates on CDNOW):
  r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, log-likelihood -9582.4.
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
  Analysis", Journal of Marketing Research 42(4), 415-430, and Fader & Hardie (2013), "The Gamma-Gamma
  Model of Monetary Value", fitted on the 946 repeat customers: p = 6.25, q = 3.74, gamma = 15.44.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from warehouse.clv import (
    DAYS_PER_MONTH,
    BgNbd,
    ClvFitError,
    GammaGamma,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
)

CDNOW = Path(__file__).parent / "fixtures" / "cdnow" / "cdnow_summary.csv"

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _published_bgnbd() -> BgNbd:
    return BgNbd(**PUBLISHED_BGNBD, log_likelihood=PUBLISHED_BGNBD_LL, n_customers=2357)


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    data = np.loadtxt(CDNOW, delimiter=",", skiprows=1)
    return {"x": data[:, 1], "t_x": data[:, 2], "T": data[:, 3], "zbar": data[:, 4]}


@pytest.fixture(scope="module")
def bgnbd(cdnow: dict[str, np.ndarray]) -> BgNbd:
    return fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])


@pytest.fixture(scope="module")
def gg(cdnow: dict[str, np.ndarray]) -> GammaGamma:
    return fit_gamma_gamma(cdnow["x"], cdnow["zbar"])


def test_fixture_is_the_published_cdnow_sample(cdnow: dict[str, np.ndarray]) -> None:
    assert cdnow["x"].size == 2357
    assert np.count_nonzero(cdnow["x"] > 0) == 946
    assert int(cdnow["x"].sum()) == 2457


def test_bgnbd_reproduces_fader_hardie_lee_2005(bgnbd: BgNbd) -> None:
    """Marketing Science 24(2) (2005): r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4 on CDNOW."""
    fitted = {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b}
    for name, published in PUBLISHED_BGNBD.items():
        assert fitted[name] == pytest.approx(published, rel=0.01), name
        # The paper prints three decimals; the fit rounds to exactly those.
        assert round(fitted[name], 3) == published, name
    assert bgnbd.log_likelihood == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.5)
    assert bgnbd.n_customers == 2357


def test_bgnbd_likelihood_at_the_published_parameters(cdnow: dict[str, np.ndarray]) -> None:
    """The likelihood itself (not just the optimiser) gives the published LL at the published estimates."""
    ll = _published_bgnbd().log_likelihood_of(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert ll == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.5)


def test_fits_do_not_depend_on_the_units(cdnow: dict[str, np.ndarray], bgnbd: BgNbd, gg: GammaGamma) -> None:
    """The warehouse fits in days and yuan: the same data in days give alpha x 7 and the same shape,
    and the log-likelihood moves by exactly the Jacobian -(total repeat purchases) * ln 7."""
    in_days = fit_bgnbd(cdnow["x"], cdnow["t_x"] * 7, cdnow["T"] * 7)
    assert in_days.alpha / 7 == pytest.approx(bgnbd.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(in_days, name) == pytest.approx(getattr(bgnbd, name), rel=1e-4), name
    assert in_days.log_likelihood == pytest.approx(bgnbd.log_likelihood - 2457 * np.log(7), abs=1e-3)
    in_yuan = fit_gamma_gamma(cdnow["x"], cdnow["zbar"] * 7.1)
    assert in_yuan.gamma / 7.1 == pytest.approx(gg.gamma, rel=1e-4)
    assert (in_yuan.p, in_yuan.q) == pytest.approx((gg.p, gg.q), rel=1e-4)


def test_gamma_gamma_reproduces_fader_hardie_2013(gg: GammaGamma) -> None:
    """JMR 42(4) (2005) / Hardie's 2013 Gamma-Gamma note: p=6.25, q=3.74, gamma=15.44 on 946 repeaters."""
    assert gg.n_customers == 946
    assert gg.p == pytest.approx(PUBLISHED_GG["p"], rel=0.01)
    assert gg.q == pytest.approx(PUBLISHED_GG["q"], rel=0.01)
    assert gg.gamma == pytest.approx(PUBLISHED_GG["gamma"], rel=0.01)
    # E[M] = p * gamma / (q - 1): the published estimates imply ~35.2 dollars for an unknown customer.
    assert gg.population_mean_spend == pytest.approx(6.25 * 15.44 / 2.74, rel=0.01)


def test_conditional_expectation_and_p_alive_match_lifetimes_at_published_parameters() -> None:
    """eq. 10 and P(alive) at the published parameters agree with lifetimes 0.11.3 (reference values
    computed once with lifetimes' BetaGeoFitter at r=0.243, alpha=4.414, a=0.793, b=2.426)."""
    model = _published_bgnbd()
    x = np.array([10.0, 20, 50, 0, 2])
    t_x = np.array([35.0, 25, 38, 0, 30.43])
    big_t = np.array([39.0, 39, 39, 39, 38.86])
    expected = {
        2: [0.391569207091, 0.009272426844, 2.167174296388, 0.01111672006, 0.074478904414],
        39: [6.116055569365, 0.142874527636, 33.069436713428, 0.194530721703, 1.226028174767],
        104: [12.700275956177, 0.293560007018, 67.460307006303, 0.452611124285, 2.669257951006],
    }
    for t, values in expected.items():
        np.testing.assert_allclose(model.expected_purchases(t, x, t_x, big_t), values, rtol=1e-9)
    np.testing.assert_allclose(
        model.p_alive(x, t_x, big_t),
        [0.842603188642, 0.010107788487, 0.952630093183, 1.0, 0.726578570081],
        rtol=1e-9,
    )
    np.testing.assert_array_equal(model.expected_purchases(0, x, t_x, big_t), np.zeros(5))


def test_conditional_expectation_is_stable_at_the_edges() -> None:
    """Heavy buyers over long horizons (2F1 overflows in eq. 10 as printed) and a = 1 (0/0 there)."""
    daily = BgNbd(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426, log_likelihood=0.0, n_customers=0)
    x = np.array([100.0, 200.0, 400.0])
    big_t = np.full(3, 700.0)
    ten_years = daily.expected_purchases(3650, x, big_t * 0.99, big_t)
    assert np.all(np.isfinite(ten_years))
    assert ten_years[0] < ten_years[1] < ten_years[2]
    # Alive at T, the expected rate is (r + x) / (alpha + T) a day; dropout only lowers the total.
    never_dropping = 3650 * (0.243 + x) / (4.414 * 7 + big_t)
    assert np.all(ten_years < never_dropping)
    assert np.all(ten_years > 0.3 * never_dropping)

    def at(a: float) -> float:
        model = BgNbd(r=0.243, alpha=4.414, a=a, b=2.426, log_likelihood=0.0, n_customers=0)
        return float(model.expected_purchases(39, [2.0], [30.43], [38.86])[0])

    values = [at(a) for a in (0.9999, 1 - 1e-7, 1.0, 1 + 1e-7, 1.0001)]
    assert all(np.isfinite(values))
    assert values == sorted(values, reverse=True)  # decreasing in a, through a = 1
    assert values[2] == pytest.approx((values[0] + values[4]) / 2, rel=1e-6)


def test_behaviour_recency_frequency_and_unknown_spend(bgnbd: BgNbd, gg: GammaGamma) -> None:
    # Same frequency and age; the one who bought more recently is more likely alive and buys more.
    x = np.array([4.0, 4.0])
    t_x = np.array([10.0, 36.0])
    big_t = np.array([39.0, 39.0])
    alive = bgnbd.p_alive(x, t_x, big_t)
    purchases = bgnbd.expected_purchases(52, x, t_x, big_t)
    assert alive[1] > alive[0] + 0.3
    assert purchases[1] > 2 * purchases[0]
    # Same recency; more purchases -> more expected purchases.
    more = bgnbd.expected_purchases(52, np.array([2.0, 8.0]), np.array([36.0, 36.0]), big_t)
    assert more[1] > more[0]
    # Zero-repeat customers get the population mean spend whatever monetary says.
    spend = gg.expected_spend(np.array([0.0, 0.0, 3.0]), np.array([0.0, 500.0, 500.0]))
    assert spend[0] == spend[1] == pytest.approx(gg.population_mean_spend, rel=1e-12)
    # A repeat customer's spend is shrunk from zbar towards the population mean.
    assert gg.population_mean_spend < spend[2] < 500.0


def test_customer_lifetime_value(bgnbd: BgNbd, gg: GammaGamma, cdnow: dict[str, np.ndarray]) -> None:
    x, t_x, big_t, zbar = cdnow["x"][:50], cdnow["t_x"][:50], cdnow["T"][:50], cdnow["zbar"][:50]
    spend = gg.expected_spend(x, zbar)
    month_weeks = DAYS_PER_MONTH / 7
    # Undiscounted, the monthly differences telescope to the 12-month expectation times spend.
    undiscounted = customer_lifetime_value(
        bgnbd, gg, x, t_x, big_t, zbar, months=12, monthly_discount=0.0, time_unit_days=7
    )
    np.testing.assert_allclose(
        undiscounted, bgnbd.expected_purchases(12 * month_weeks, x, t_x, big_t) * spend, rtol=1e-12
    )
    # One month at 1 %: that month's purchases times spend, discounted once.
    one = customer_lifetime_value(
        bgnbd, gg, x, t_x, big_t, zbar, months=1, monthly_discount=0.01, time_unit_days=7
    )
    np.testing.assert_allclose(
        one, bgnbd.expected_purchases(month_weeks, x, t_x, big_t) * spend / 1.01, rtol=1e-12
    )
    # Discounting lowers every value, but by less than a full year's discount.
    discounted = customer_lifetime_value(bgnbd, gg, x, t_x, big_t, zbar, time_unit_days=7)
    assert np.all(discounted < undiscounted)
    assert np.all(discounted > undiscounted / 1.01**12)
    # The time unit matters: the same data read as days is a 7x longer horizon in model time.
    as_days = customer_lifetime_value(bgnbd, gg, x, t_x, big_t, zbar, monthly_discount=0.0, time_unit_days=1)
    assert np.all(as_days > undiscounted)
    assert customer_lifetime_value(bgnbd, gg, x, t_x, big_t, zbar, months=0).sum() == 0.0


def test_fits_refuse_data_that_do_not_identify_the_model() -> None:
    rng = np.random.default_rng(7)
    n = 200
    big_t = np.full(n, 52.0)
    # Nobody has repeated: BG/NBD has nothing to learn dropout from.
    with pytest.raises(ClvFitError, match="at least 10 customers with a repeat purchase"):
        fit_bgnbd(np.zeros(n), np.zeros(n), big_t)
    # Everyone identical: the heterogeneity parameters run off to infinity.
    with pytest.raises(ClvFitError, match="BG/NBD fit diverged"):
        fit_bgnbd(np.full(n, 3.0), np.full(n, 10.0), big_t)
    # Every repeat customer spends the same: no spend heterogeneity to fit.
    x = rng.integers(1, 5, n).astype(float)
    with pytest.raises(ClvFitError, match="Gamma-Gamma fit diverged"):
        fit_gamma_gamma(x, np.full(n, 20.0))
    with pytest.raises(ClvFitError, match="at least 10 customers"):
        fit_gamma_gamma(np.array([0.0, 1.0, 2.0]), np.array([0.0, 5.0, 7.0]))


def test_fits_reject_malformed_input() -> None:
    with pytest.raises(ClvFitError, match=r"recency must lie in \[0, T\]"):
        fit_bgnbd([1, 2], [5.0, 60.0], [52.0, 52.0])
    with pytest.raises(ClvFitError, match="whole number"):
        fit_bgnbd([1.5, 2], [5.0, 6.0], [52.0, 52.0])
    with pytest.raises(ClvFitError, match="missing or infinite"):
        fit_bgnbd([1, 2], [5.0, np.nan], [52.0, 52.0])
    with pytest.raises(ClvFitError, match="differ in length"):
        fit_bgnbd([1, 2], [5.0], [52.0, 52.0])
    with pytest.raises(ClvFitError, match="positive mean spend"):
        fit_gamma_gamma([1, 2], [5.0, 0.0])


def test_nbd_reproduces_the_published_cdnow_fit(cdnow: dict[str, np.ndarray]) -> None:
    """The NBD (BG/NBD without dropout, our fallback when a short history shows no dropout) on the
    same CDNOW data: r = 0.385, alpha = 12.072 (Fader, Hardie & Lee 2005, the NBD benchmark beside
    BG/NBD). Their log-likelihood (-9763.7) is of the purchase timings; ours is of the counts, which
    differs by a constant that does not move the parameters."""
    from scipy.special import gammaln

    from warehouse.clv import fit_nbd

    data = cdnow
    nbd = fit_nbd(data["x"], data["t_x"], data["T"])
    assert round(nbd.r, 3) == 0.385
    assert round(nbd.alpha, 3) == 12.072
    timing_ll = nbd.log_likelihood - float(np.sum(data["x"] * np.log(data["T"]) - gammaln(data["x"] + 1)))
    assert timing_ll == pytest.approx(-9763.7, abs=0.5)


@pytest.mark.parametrize(
    "params",
    [(0.243, 4.414, 0.793, 2.426), (1.5, 0.8, 3.0, 0.4), (0.05, 40.0, 0.01, 9.0)],
    ids=["published", "a-above-b", "near-no-dropout"],
)
def test_the_fits_analytic_gradients_are_the_likelihoods_derivatives(
    cdnow: dict[str, np.ndarray], params: tuple[float, ...]
) -> None:
    """The fits follow analytic gradients (a finite-difference one cost a likelihood per parameter):
    each equals the central difference of its log-likelihood, customer by customer."""
    from warehouse.clv import (
        _bgnbd_gradient,
        _bgnbd_log_likelihood,
        _gamma_gamma_gradient,
        _gamma_gamma_log_likelihood,
        _nbd_gradient,
        _nbd_log_likelihood,
    )

    x, t_x, big_t, zbar = cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"]
    repeat = x > 0
    cases: list[tuple[Callable[..., np.ndarray], Callable[..., np.ndarray], tuple[float, ...], tuple]] = [
        (_bgnbd_log_likelihood, _bgnbd_gradient, params, (x, t_x, big_t)),
        (_nbd_log_likelihood, _nbd_gradient, params[:2], (x, big_t)),
        (_gamma_gamma_log_likelihood, _gamma_gamma_gradient, params[1:], (x[repeat], zbar[repeat])),
    ]
    for log_likelihood, gradient, at, data in cases:
        analytic = gradient(*at, *data)
        for i, value in enumerate(at):
            step = value * 1e-6
            up, down = list(at), list(at)
            up[i], down[i] = value + step, value - step
            numeric = (log_likelihood(*up, *data) - log_likelihood(*down, *data)) / (2 * step)
            np.testing.assert_allclose(
                analytic[:, i], numeric, rtol=1e-5, atol=1e-6, err_msg=f"{gradient} {i}"
            )
