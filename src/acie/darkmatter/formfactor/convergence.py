"""Evidence about form-factor quality: rate comparisons, convergence studies, an advisor.

* :func:`compare_rates` — rate ratio of two form-factor tables (ours / a reference such as
  QCDark's Ge) versus dark-matter mass for heavy and light mediators, also with the
  reference cut to our q range, so that missing high-q (core) strength and genuine
  differences can be told apart.
* :func:`convergence_study` — the same rates for a series of settings (k-mesh, basis…),
  computed (or supplied as tables), with DFT gap, completeness and timings.
* :func:`recommend_settings` — the cheapest setting whose rates stay within a tolerance of
  the most expensive one, with the deviations that justify it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np

from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.units import as_positive, as_positive_float
from acie.errors import InputValidationError, expected_got

__all__ = [
    "ConvergencePoint",
    "ConvergenceStudy",
    "RateComparison",
    "compare_rates",
    "convergence_study",
    "recommend_settings",
    "truncate_q",
]

MEDIATORS = ("heavy", "light")
_SIGMA = 1e-37 * u.cm**2


def truncate_q(table: FormFactorTable, q_max) -> FormFactorTable:
    """A copy of ``table`` keeping only q bins with centre below ``q_max`` (Quantity, keV)."""
    qmax = as_positive_float(q_max, u.keV, "q_max")
    keep = table.q_keV < qmax
    if keep.sum() < 2:
        raise InputValidationError(
            expected_got(
                "q_max", f"above two bin centres of the table ({table.q_keV[1]:g} keV)", qmax
            )
        )
    return replace(table, q=table.q[keep], f2=table.f2[keep])


def _total(table: FormFactorTable, masses: u.Quantity, mediator: str) -> np.ndarray:
    from acie.darkmatter.electron import total_rate

    return np.atleast_1d(
        total_rate(table, masses, _SIGMA, mediator=mediator).to_value(1 / (u.kg * u.yr))
    )


@dataclass(frozen=True, kw_only=True)
class RateComparison:
    """Rates of two tables versus mass.

    Attributes
    ----------
    mass : Quantity ['mass'], (n_m,)
    rates : dict
        ``{mediator: {"ours": ..., "reference": ..., "reference_cut": ...}}``, events/(kg yr)
        at σ̄e = 1e-37 cm².
    ratio, ratio_cut : dict
        ``{mediator: ours / reference}`` and against the reference cut to our q range.
    q_max_keV : float
        Our table's q range.
    """

    mass: u.Quantity
    rates: dict
    ratio: dict
    ratio_cut: dict
    q_max_keV: float
    labels: tuple[str, str] = ("ACIE", "reference")

    def as_rows(self) -> list[dict]:
        """One row per (mediator, mass); rates in events/(kg yr) at σ̄e = 1e-37 cm²."""
        rows = []
        for med in self.rates:
            for i, m in enumerate(self.mass.to_value(u.MeV)):
                rows.append(
                    {
                        "mediator": med,
                        "mass_MeV": float(m),
                        "rate_ours": float(self.rates[med]["ours"][i]),
                        "rate_reference": float(self.rates[med]["reference"][i]),
                        "ratio": float(self.ratio[med][i]),
                        "ratio_same_q_range": float(self.ratio_cut[med][i]),
                    }
                )
        return rows


def compare_rates(
    ours: FormFactorTable,
    reference: FormFactorTable,
    masses,
    *,
    mediators=MEDIATORS,
    labels: tuple[str, str] = ("ACIE", "reference"),
) -> RateComparison:
    """Total-rate ratio ``ours / reference`` versus mass, for each mediator.

    Parameters
    ----------
    ours, reference : FormFactorTable
    masses : Quantity ['mass'], (n_m,)
    mediators : sequence of "heavy", "light" or mediator-mass Quantities
    """
    m = np.atleast_1d(as_positive(masses, u.MeV, "masses")) * u.MeV
    qmax = float(ours.q_keV[-1] + 0.5 * (ours.q_keV[1] - ours.q_keV[0]))
    ref_cut = truncate_q(reference, qmax * u.keV) if reference.q_keV[-1] > qmax else reference
    rates, ratio, ratio_cut = {}, {}, {}
    for med in mediators:
        key = str(med)
        r_o, r_r, r_c = _total(ours, m, med), _total(reference, m, med), _total(ref_cut, m, med)
        rates[key] = {"ours": r_o, "reference": r_r, "reference_cut": r_c}
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio[key] = np.where(r_r > 0, r_o / r_r, np.nan)
            ratio_cut[key] = np.where(r_c > 0, r_o / r_c, np.nan)
    return RateComparison(
        mass=m, rates=rates, ratio=ratio, ratio_cut=ratio_cut, q_max_keV=qmax, labels=labels
    )


@dataclass(frozen=True, kw_only=True)
class ConvergencePoint:
    """One setting of a convergence study and what it gave.

    Attributes
    ----------
    label : str
    settings : dict
    rates : dict
        ``{mediator: rates (n_m,)}``, events/(kg yr) at σ̄e = 1e-37 cm².
    cost : float
        Cost proxy n_k² · n_ao² (the k-pair work: n_k² pairs, n_ao² AO pairs per q).
    dft_gap_eV, seconds : float
    """

    label: str
    settings: dict
    rates: dict
    cost: float
    dft_gap_eV: float = float("nan")
    seconds: float = float("nan")


@dataclass(frozen=True, kw_only=True)
class ConvergenceStudy:
    """Rates versus settings for one material."""

    material: str
    mass: u.Quantity
    points: list[ConvergencePoint] = field(default_factory=list)

    def reference(self) -> ConvergencePoint:
        """The most expensive point (the best available, not a converged truth)."""
        return max(self.points, key=lambda p: p.cost)

    def deviations(self) -> dict[str, float]:
        """Max |rate / reference − 1| over masses and mediators, per point."""
        ref = self.reference()
        out = {}
        for p in self.points:
            devs = [
                np.nanmax(np.abs(p.rates[k] / ref.rates[k] - 1))
                for k in ref.rates
                if np.all(ref.rates[k] > 0)
            ]
            out[p.label] = float(max(devs)) if devs else float("nan")
        return out


def _point_from_table(
    label: str, table: FormFactorTable, masses: u.Quantity, mediators
) -> ConvergencePoint:
    s = table.metadata.get("settings", {})
    km = s.get("kmesh", [1, 1, 1])
    cost = float(np.prod(km)) ** 2 * float(s.get("n_ao", 1)) ** 2
    rates = {str(med): _total(table, masses, med) for med in mediators}
    return ConvergencePoint(
        label=label,
        settings=s,
        rates=rates,
        cost=cost,
        dft_gap_eV=float(s.get("dft_gap_eV", float("nan"))),
        seconds=float(
            sum(
                v
                for v in table.metadata.get("timings", {}).values()
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
        ),
    )


def convergence_study(
    material: str,
    masses,
    *,
    tables: dict[str, FormFactorTable] | None = None,
    settings: dict | None = None,
    mediators=MEDIATORS,
    workdir=None,
    progress: bool = False,
) -> ConvergenceStudy:
    """Rates for a series of form-factor settings.

    Parameters
    ----------
    material : str
    masses : Quantity ['mass'], (n_m,)
    tables : dict of label to FormFactorTable, optional
        Already computed tables (e.g. from files).
    settings : dict of label to FormFactorSettings, optional
        Settings to compute now (with :func:`~acie.darkmatter.formfactor.runner.compute_form_factor`;
        checkpoints under ``workdir/label`` if given).
    """
    from pathlib import Path

    m = np.atleast_1d(as_positive(masses, u.MeV, "masses")) * u.MeV
    tables = dict(tables or {})
    if settings:
        from acie.darkmatter.formfactor.runner import compute_form_factor

        for label, s in settings.items():
            wd = Path(workdir) / label if workdir is not None else None
            tables[label] = compute_form_factor(material, s, workdir=wd, progress=progress)
    if len(tables) < 2:
        raise InputValidationError(
            expected_got("convergence study", "at least two settings", len(tables))
        )
    points = [_point_from_table(lbl, t, m, mediators) for lbl, t in tables.items()]
    return ConvergenceStudy(material=material, mass=m, points=points)


def recommend_settings(study: ConvergenceStudy, *, rtol: float = 0.1) -> dict:
    """The cheapest setting whose rates are within ``rtol`` of the study's reference.

    Returns
    -------
    dict
        ``recommended`` (label), ``settings``, ``reference`` (label), ``rtol``,
        ``deviations`` (label -> max relative rate deviation), ``costs`` and a one-line
        ``reason``. The reference is the most expensive setting studied; the advice says
        nothing about convergence beyond it.
    """
    if not 0 < rtol < 1:
        raise InputValidationError(expected_got("rtol", "in (0, 1)", rtol))
    dev = study.deviations()
    ref = study.reference()
    ok = [p for p in study.points if dev[p.label] <= rtol]
    best = min(ok, key=lambda p: (p.cost, p.label))
    return {
        "recommended": best.label,
        "settings": {k: best.settings.get(k) for k in ("kmesh", "basis", "pseudo", "xc")},
        "reference": ref.label,
        "rtol": rtol,
        "deviations": dev,
        "costs": {p.label: p.cost for p in study.points},
        "reason": (
            f"{best.label} is the cheapest setting whose rates at all masses and mediators lie within "
            f"{rtol:.0%} of {ref.label} (max deviation {dev[best.label]:.1%}); "
            f"{ref.label} itself is only the best setting studied"
        ),
    }
