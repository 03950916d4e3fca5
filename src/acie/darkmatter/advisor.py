"""Which target material to use, how sure that is, and what the answer depends on.

:func:`advise` answers, for a mass range, an exposure and an n_e threshold:

* **Best material, with a confidence.** Every material's σ̄e reach goes through the
  systematic budget's Monte Carlo (:func:`acie.darkmatter.budget.reach_budget`): the halo
  draws are common to all materials (one sky), each material's form-factor scalings are
  independent (independent tables). A draw's score is the mean of log10 σ̄e over the mass
  range (the geometric-mean reach; masses no material reaches are left out, and a
  material that cannot reach some other mass of the range scores +∞); the confidence of
  a material is the fraction of draws in which its score is the lowest.
* **Excitons.** From exciton data only (a file given per material,
  :class:`~acie.darkmatter.excitons.ExcitonData`): the binding energy E_b = gap − lowest
  excitation energy; with a DFT baseline in the file, the counted-rate ratio exciton/DFT
  per mass; else the fraction of the counted rate deposited below gap + E_b. Either is
  compared with the budget's own 1σ relative spread of the reach at that mass: excitons
  *can matter* where the effect exceeds it. No exciton data → it says so.
* **DFT settings.** :func:`~acie.darkmatter.formfactor.convergence.recommend_settings` on
  the shipped convergence series of the material at the target accuracy, over the range's
  masses; no series → it says so.

Every line of :meth:`Advice.lines` prints the numbers it was computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import astropy.units as u
import numpy as np

from acie.darkmatter.budget import Budget, reach_budget
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.units import as_positive
from acie.errors import InputValidationError, NonPhysicalValueError, expected_got

__all__ = ["Advice", "advise", "confidence_best", "dft_settings_advice", "exciton_assessment"]


@dataclass(frozen=True, kw_only=True)
class Advice:
    """The advisor's answer.

    Attributes
    ----------
    best : str
        Material with the highest confidence.
    confidence : dict material -> float
        Probability (fraction of draws) that the material gives the best reach.
    median_score : dict material -> float
        Median over draws of the mean log10 σ̄e [cm²] over the mass range.
    budgets : dict material -> Budget
    excitons : dict material -> dict
    dft : dict material -> dict
    settings : dict
    """

    best: str
    confidence: dict[str, float]
    median_score: dict[str, float]
    budgets: dict[str, Budget]
    excitons: dict[str, dict]
    dft: dict[str, dict]
    settings: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The recommendation, one statement a line, each with its numbers."""
        s = self.settings
        out = [
            f"best reach over {s['mass_min_MeV']:g}–{s['mass_max_MeV']:g} MeV "
            f"({s['n_masses']} masses), {s['exposure_kg_yr']:g} kg yr, n_e ≥ {s['ne_threshold']}: "
            f"{self.best} with confidence {self.confidence[self.best]:.3f} "
            f"(fraction of {s['n_draws']} budget draws, halo {s['halo']}, seed {s['seed']}, "
            f"in which its mean log10 σ̄e is lowest)"
        ]
        for m in sorted(self.confidence, key=lambda k: self.median_score[k]):
            out.append(
                f"  {m}: P(best) = {self.confidence[m]:.3f}, median mean log10 σ̄e/cm² = "
                f"{self.median_score[m]:.3f}"
            )
        for m, e in self.excitons.items():
            out.append(f"excitons, {m}: {e['text']}")
        for m, d in self.dft.items():
            out.append(f"DFT settings, {m}: {d['text']}")
        return out


def confidence_best(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of draws in which each material has the lowest score (ties: the first listed).

    ``scores`` maps material -> (n_draws,) arrays of one draw order.
    """
    names = list(scores)
    if not names:
        raise InputValidationError(expected_got("scores", "at least one material", scores))
    arr = np.stack([np.asarray(scores[k], float) for k in names])
    arr = np.where(np.isnan(arr), np.inf, arr)
    win = np.argmin(arr, axis=0)
    return {k: float(np.mean(win == i)) for i, k in enumerate(names)}


def exciton_assessment(
    material: str, data, counts, budget: Budget | None = None
) -> dict[str, object]:
    """Whether excitonic effects can matter, from exciton data (see the module docstring).

    Parameters
    ----------
    material : str
    data : ExcitonData or None
    counts : callable table -> counted events per mass (n_m,)
    budget : Budget, optional
        Its 1σ relative reach spread per mass is the yardstick.
    """
    if data is None:
        return {
            "available": False,
            "text": f"exciton binding energy of {material} not available (no exciton data "
            "shipped or given for it); cannot assess",
        }
    gap = float(data.table.band_gap_eV)
    e_low = float(np.min(data.excitation_energies.to_value(u.eV)))
    e_b = gap - e_low
    spread = 10 ** np.sqrt(budget.variance_all) - 1 if budget is not None else np.zeros(1)
    c = counts(data.table)
    if data.baseline is not None:
        c0 = counts(data.baseline)
        effect = np.where(
            c0 > 0, np.abs(np.divide(c, c0, out=np.ones_like(c), where=c0 > 0) - 1), 0
        )
        what = "|rate(exciton)/rate(DFT baseline) − 1|"
    else:
        below = data.table.energy_eV < gap + max(e_b, 0.0)
        t_low = replace(data.table, f2=np.where(below[None, :], data.table.f2, 0.0))
        effect = np.where(c > 0, np.divide(counts(t_low), c, out=np.zeros_like(c), where=c > 0), 0)
        what = f"fraction of the counted rate below gap + E_b = {gap + e_b:.3g} eV"
    matters = bool(np.any(effect > spread)) and e_b > 0
    text = (
        f"{material}: E_b = gap − lowest excitation = {gap:.3g} − {e_low:.3g} = {e_b:.3g} eV "
        f"(E_b/gap = {e_b / gap if gap > 0 else float('nan'):.3g}; {data.method}, "
        f"{'BSE' if data.is_bse else 'not BSE'}); {what} = {np.min(effect):.3g}–"
        f"{np.max(effect):.3g} vs the budget's 1σ reach spread {np.min(spread):.3g}–"
        f"{np.max(spread):.3g}: excitonic effects {'can' if matters else 'cannot'} matter here"
    )
    return {
        "available": True,
        "binding_energy_eV": e_b,
        "effect": effect,
        "spread": spread,
        "can_matter": matters,
        "text": text,
    }


def dft_settings_advice(material: str, masses, target_accuracy: float) -> dict[str, object]:
    """:func:`recommend_settings` on the material's shipped convergence series, or why not."""
    from acie.darkmatter.formfactor.convergence import convergence_study, recommend_settings
    from acie.darkmatter.formfactor_systematics import shipped_series

    series = shipped_series(material)
    if len(series) < 2:
        return {
            "available": False,
            "text": f"no convergence study shipped for {material} (only {len(series)} "
            "table); the settings that suffice cannot be read from data",
        }
    study = convergence_study(material, masses, tables=series)
    rec = recommend_settings(study, rtol=target_accuracy)
    devs = ", ".join(f"{k} {v:.1%}" for k, v in rec["deviations"].items())
    ok = rec["recommended"] != rec["reference"] or rec["deviations"][rec["reference"]] == 0
    text = (
        f"for ≤ {target_accuracy:.0%} total-rate deviation at "
        f"{masses.to_value(u.MeV).min():g}–{masses.to_value(u.MeV).max():g} MeV: "
        f"{rec['recommended']} (max deviation from {rec['reference']}: {devs})"
    )
    if rec["recommended"] == rec["reference"]:
        text += "; no cheaper setting is within the target, so convergence at it is not shown"
    return {"available": True, "recommendation": rec, "converged_below_reference": ok, "text": text}


def advise(
    mass_min,
    mass_max,
    exposure,
    *,
    ne_threshold: int = 1,
    materials: list[str] | None = None,
    tables: dict[str, FormFactorTable] | None = None,
    excitons: dict | None = None,
    target_accuracy: float = 0.2,
    n_masses: int = 12,
    n_draws: int = 1000,
    seed: int = 0,
    halo: str = "shmpp2019-round",
    mediator="heavy",
    background: float = 0.0,
    cl: float = 0.9,
    method: str = "poisson",
) -> Advice:
    """Recommend a target material for a mass range (see the module docstring).

    Parameters
    ----------
    mass_min, mass_max : Quantity ['energy'] or ['mass']
    exposure : Quantity ['mass' × 'time']
    ne_threshold : int
    materials : list of str, optional
        Default: every material with a shipped table (or the keys of ``tables``).
    tables : dict material -> FormFactorTable, optional
        Tables to use instead of the shipped ones.
    excitons : dict material -> ExcitonData, optional
    target_accuracy : float
        Relative total-rate accuracy for the DFT-settings advice, in (0, 1).
    n_masses, n_draws, seed, halo, mediator, background, cl, method
        Mass grid, budget Monte Carlo and limit settings.
    """
    from acie.darkmatter.formfactor.shipped import shipped_materials, shipped_table
    from acie.darkmatter.materials import get_material
    from acie.darkmatter.reach import median_background_outcome, signal_upper_limit

    lo = float(as_positive(mass_min, u.MeV, "mass_min"))
    hi = float(as_positive(mass_max, u.MeV, "mass_max"))
    if not lo < hi:
        raise NonPhysicalValueError(expected_got("mass range", "mass_min < mass_max", (lo, hi)))
    if not 0 < target_accuracy < 1:
        raise InputValidationError(expected_got("target accuracy", "in (0, 1)", target_accuracy))
    if n_masses < 2:
        raise InputValidationError(expected_got("number of masses", ">= 2", n_masses))
    tabs = {get_material(k).name: v for k, v in (tables or {}).items()}
    names = [get_material(m).name for m in (materials or list(tabs) or shipped_materials())]
    if len(names) < 1:
        raise InputValidationError(expected_got("materials", "at least one", names))
    masses = np.geomspace(lo, hi, n_masses) * u.MeV
    s_up = signal_upper_limit(median_background_outcome(background), background, cl, method)
    budgets: dict[str, Budget] = {}
    for i, name in enumerate(names):
        t = tabs.get(name) or shipped_table(name)
        budgets[name] = reach_budget(
            t,
            masses,
            exposure,
            signal_limit=s_up,
            halo=halo,
            n_draws=n_draws,
            seed=seed,
            scaling_seed=seed + 1 + i,
            ne_threshold=ne_threshold,
            mediator=mediator,
        )
    reached = np.any([np.isfinite(b.central.value) for b in budgets.values()], axis=0)
    if not reached.any():
        raise NonPhysicalValueError(
            expected_got("mass range", "a mass some material can reach at this threshold", (lo, hi))
        )
    with np.errstate(divide="ignore"):
        scores = {
            k: np.mean(np.log10(b.samples.to_value(u.cm**2)[:, reached]), axis=1)
            for k, b in budgets.items()
        }
    conf = confidence_best(scores)
    best = max(conf, key=lambda k: (conf[k], -float(np.median(scores[k]))))
    ex = {}
    for name, b in budgets.items():
        data = (excitons or {}).get(name)
        ex[name] = exciton_assessment(name, data, _counts_fn(masses, exposure, b), b)
    dft = {name: dft_settings_advice(name, masses, target_accuracy) for name in names}
    return Advice(
        best=best,
        confidence=conf,
        median_score={k: float(np.median(v)) for k, v in scores.items()},
        budgets=budgets,
        excitons=ex,
        dft=dft,
        settings={
            "mass_min_MeV": lo,
            "mass_max_MeV": hi,
            "n_masses": n_masses,
            "exposure_kg_yr": float(as_positive(exposure, u.kg * u.yr, "exposure")),
            "ne_threshold": ne_threshold,
            "n_draws": n_draws,
            "seed": seed,
            "halo": halo,
            "signal_limit": s_up,
            "target_accuracy": target_accuracy,
            "score": "mean over reached masses of log10 σ̄e [cm²]",
        },
    )


def _counts_fn(masses, exposure, budget: Budget):
    from acie.darkmatter.budget import counting_function

    st = budget.settings
    return counting_function(
        masses,
        exposure,
        st["halo_entry"],
        signal_limit=st["signal_limit"],
        ne_threshold=st["ne_threshold"],
        ne_bin=st["ne_bin"],
        efficiency=st["efficiency"],
        mediator=st["mediator"],
    )
