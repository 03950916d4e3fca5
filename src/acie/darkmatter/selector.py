"""Choose a target material: rank the library by computed dark-matter–electron reach.

:func:`select_material` computes, for each material with a form-factor table, the 90 % CL
σ̄e reach at the requested mass, exposure, threshold and background with
:func:`acie.darkmatter.reach.electron_reach` (no rule table), and ranks the materials by it
(lower σ̄e = better). Each row carries the numbers that justify its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.materials import get_material
from acie.darkmatter.units import as_float, as_positive_float
from acie.errors import InputValidationError, UnknownNameError, expected_got

__all__ = ["MaterialRanking", "select_material"]

_SIGMA_REF = 1e-37  # cm², only a scale: limits are linear in σ̄e


@dataclass(frozen=True, kw_only=True)
class MaterialRanking:
    """The outcome of :func:`select_material`.

    Attributes
    ----------
    rows : list of dict
        Best first. Keys: ``material``, ``sigma_limit_cm2`` (reach), ``events_per_1e-37cm2``
        (expected signal events for σ̄e = 1e-37 cm² at this exposure), ``ne_threshold``,
        ``band_gap_eV``, ``pair_energy_eV``, ``background_events``, ``signal_limit``,
        ``energy_threshold_eV`` (None for an n_e threshold), ``beyond_table_fraction``
        (estimated share of the rate beyond the table's q/E range).
    skipped : dict
        Materials not ranked and why (e.g. no table).
    settings : dict
        The query (mass in MeV, exposure in kg·yr, threshold, mediator, CL…).
    """

    rows: list[dict]
    skipped: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def best(self) -> str:
        """Name of the best-ranked material."""
        if not self.rows:
            raise UnknownNameError(
                "no material could be ranked: "
                + "; ".join(f"{k}: {v}" for k, v in self.skipped.items())
            )
        return self.rows[0]["material"]


def _ne_threshold(threshold, material: str) -> int:
    """The n_e threshold, or for an energy threshold the n_e of the bin holding it."""
    if isinstance(threshold, u.Quantity):
        e = as_float(threshold, u.eV, "threshold")
        m = get_material(material)
        return max(1, int(1 + np.floor((e - m.band_gap) / m.pair_energy)) if e > m.band_gap else 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer) or threshold < 1:
        raise InputValidationError(
            expected_got("threshold", "an integer n_e >= 1 or an energy Quantity", threshold)
        )
    return int(threshold)


def _check_material(name: str, table: FormFactorTable, allow: bool) -> None:
    recorded = table.material
    try:
        same = get_material(recorded).name == name
    except UnknownNameError:
        same = recorded == name
    if not same and not allow:
        raise InputValidationError(
            f"table given for {name!r} records material {recorded!r}; rank it under "
            f"{recorded!r}, or allow the mismatch explicitly (allow_material_mismatch=True, "
            "--allow-material-mismatch)"
        )


def select_material(
    mass,
    exposure,
    threshold=1,
    background=0.0,
    *,
    mediator="heavy",
    tables: dict[str, FormFactorTable] | None = None,
    materials: list[str] | None = None,
    cl: float = 0.9,
    method: str = "poisson",
    allow_material_mismatch: bool = False,
    warn_beyond: float = 1.0,
    f2_uncertainty: dict[str, FormFactorTable] | None = None,
) -> MaterialRanking:
    """Rank target materials by their σ̄e reach at one dark-matter mass.

    Parameters
    ----------
    mass : Quantity ['mass'] or ['energy']
        Dark-matter mass (scalar).
    exposure : Quantity ['mass' × 'time']
    threshold : int or Quantity ['energy']
        n_e threshold (events with n_e ≥ threshold count), or an energy threshold: only
        deposits with E ≥ threshold count (the energy bin holding it is split there, not
        rounded down to a whole n_e bin).
    background : float or Quantity ['1/(mass time)']
        Expected background events, or a background rate (multiplied by the exposure).
        The reach is the sensitivity for an observed count equal to the expected
        background, rounded to an integer.
    mediator : "heavy", "light" or Quantity ['energy']
    tables : dict of str to FormFactorTable, optional
        Form factors to use (default: the shipped tables).
    materials : list of str, optional
        Restrict the ranking (default: every material in ``tables`` or with a shipped table).
    cl, method
        Confidence level and limit method of :func:`~acie.darkmatter.reach.electron_reach`.
    allow_material_mismatch : bool
        Rank a table under a name other than the material it records (refused by default).
    warn_beyond : float
        Warn when a material's estimated rate fraction beyond its table's q/E range exceeds
        this (default 1: no warning; each row carries ``beyond_table_fraction`` anyway).
    f2_uncertainty : dict of str to FormFactorTable, optional
        Per material, a table whose f2 is the 1σ uncertainty of that material's f2 (e.g. an
        exciton file's ``f2_uncertainty``); its row then carries ``sigma_f2_lo_cm2`` and
        ``sigma_f2_hi_cm2`` (:func:`~acie.darkmatter.reach.f2_uncertainty_range`).

    Returns
    -------
    MaterialRanking
    """
    from acie.darkmatter.reach import electron_reach

    m_ev = as_positive_float(mass, u.eV, "dark-matter mass")
    expo = as_positive_float(exposure, u.kg * u.yr, "exposure")
    if tables is None:
        from acie.darkmatter.formfactor.shipped import shipped_materials, shipped_table

        names = materials or shipped_materials()
        tables = {}
        skipped = {}
        for n in names:
            try:
                tables[get_material(n).name] = shipped_table(n)
            except UnknownNameError as exc:
                skipped[get_material(n).name] = str(exc)
    else:
        tables = {get_material(k).name: v for k, v in tables.items()}
        for key, tab in tables.items():
            _check_material(key, tab, allow_material_mismatch)
        skipped = {}
        if materials is not None:
            tables = {
                k: v for k, v in tables.items() if k in {get_material(n).name for n in materials}
            }
    if isinstance(background, u.Quantity) and not background.unit.is_equivalent(u.one):
        b_events = as_float(background, 1 / (u.kg * u.yr), "background rate") * expo
    else:
        b_events = as_float(background, u.one, "background")
    if not np.isfinite(b_events) or b_events < 0:
        raise InputValidationError(expected_got("background", "finite and >= 0 events", b_events))
    # sensitivity: the observed count is taken equal to the expected background (rounded)
    n_obs = round(b_events)
    rows = []
    for name, table in tables.items():
        ne_thr = _ne_threshold(threshold, name)
        mat = get_material(name)
        e_thr = threshold if isinstance(threshold, u.Quantity) else None
        reach = electron_reach(
            table,
            np.atleast_1d(m_ev) * u.eV,
            expo * u.kg * u.yr,
            ne_threshold=ne_thr,
            background=b_events,
            n_obs=n_obs,
            cl=cl,
            method=method,
            mediator=mediator,
            energy_threshold=e_thr,
            warn_beyond=warn_beyond,
        )
        sigma = float(reach.cross_section.to_value(u.cm**2)[0])
        events = (
            reach.signal_limit * _SIGMA_REF / sigma if np.isfinite(sigma) and sigma > 0 else 0.0
        )
        row = {
            "material": name,
            "sigma_limit_cm2": sigma,
            "events_per_1e-37cm2": events,
            "ne_threshold": ne_thr,
            "band_gap_eV": mat.band_gap,
            "pair_energy_eV": mat.pair_energy,
            "background_events": reach.settings["background_events"],
            "signal_limit": reach.signal_limit,
            "energy_threshold_eV": reach.settings["energy_threshold_eV"],
            "beyond_table_fraction": reach.settings["beyond_table_fraction"][0],
            "form_factor": table.metadata.get("provenance", {}).get("producer", "table")
            if isinstance(table.metadata, dict)
            else "table",
        }
        unc = {get_material(k).name: v for k, v in (f2_uncertainty or {}).items()}.get(name)
        if unc is not None:
            from acie.darkmatter.reach import f2_uncertainty_range

            r_unc = electron_reach(
                unc,
                np.atleast_1d(m_ev) * u.eV,
                expo * u.kg * u.yr,
                ne_threshold=ne_thr,
                background=b_events,
                n_obs=n_obs,
                cl=cl,
                method=method,
                mediator=mediator,
                energy_threshold=e_thr,
                warn_beyond=None,
            )
            lo, hi = f2_uncertainty_range(reach.cross_section, r_unc.cross_section)
            row["sigma_f2_lo_cm2"], row["sigma_f2_hi_cm2"] = float(lo[0]), float(hi[0])
        rows.append(row)
    rows.sort(key=lambda r: (r["sigma_limit_cm2"], r["material"]))
    settings = {
        "mass_MeV": m_ev / 1e6,
        "exposure_kg_yr": expo,
        "background_events": b_events,
        "n_obs": n_obs,
        "threshold": str(threshold),
        "mediator": str(mediator),
        "cl": cl,
        "method": method,
    }
    return MaterialRanking(rows=rows, skipped=skipped, settings=settings)
