"""Form-factor systematics: a per-table model of how far its counted rate may be off, and draws.

Three sources, each a 1σ relative uncertainty of the counted rate per mass (so of 1/reach),
computed from what ships or is given — never a hand-set number:

* **convergence** — the k-mesh convergence series shipped beside the tables (Ge: 2×2×2,
  3×3×3, 4×4×4 with the same basis, see ``formfactor/data/REFERENCE.md``). For a table at
  k-mesh n the spread is |c(next finer)/c(n) − 1| (the step to the next setting of the
  series); at or beyond the finest setting, the last step of the series (an upper estimate
  if the series converges). A material with no series of its own uses the Ge series'
  relative steps at its k-mesh, and says so (``transferred_from``).
* **functional** — max |c(other xc)/c − 1| over tables of the same material and k-mesh with
  another exchange–correlation functional; when none is shipped or given it is *not
  estimated* (the basis says why) and contributes nothing.
* **table uncertainty** — a table's own 1σ ``f2_uncertainty`` (exciton files): c(σ_f2)/c(f2),
  fully correlated across bins (the conservative limit).

``c`` is a counting function supplied by the caller (counted events per mass for a table,
e.g. at the central halo with the experiment's threshold). :func:`draw_scalings` turns each
source into seeded multiplicative f² scalings s = exp(z ln(1 + σ)), z ~ N(0, 1) per draw,
one z per draw shared by all masses (a table is off in one direction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from acie.darkmatter.formfactor.table import FormFactorTable
from acie.errors import InputValidationError, expected_got

__all__ = [
    "SOURCES",
    "FormFactorSystematic",
    "convergence_spread",
    "draw_scalings",
    "formfactor_systematics",
    "functional_spread",
    "shipped_series",
    "table_uncertainty_spread",
]

SOURCES = ("convergence", "functional", "table uncertainty")
CountsFn = Callable[[FormFactorTable], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class FormFactorSystematic:
    """One form-factor systematic of one table.

    Attributes
    ----------
    source : str
        One of :data:`SOURCES`.
    rel_sigma : ndarray, shape (n_m,)
        1σ relative uncertainty of the counted rate per mass (zeros when not estimated).
    available : bool
        False when the source cannot be estimated from what exists.
    basis : str
        The numbers and tables it was computed from, or why it could not be.
    transferred_from : str or None
        The material whose convergence series was used, if not the table's own.
    """

    source: str
    rel_sigma: np.ndarray
    available: bool
    basis: str
    transferred_from: str | None = None


def _kmesh(table: FormFactorTable) -> tuple[int, ...]:
    km = table.metadata.get("settings", {}).get("kmesh")
    return tuple(int(k) for k in km) if km is not None else ()


def _setting(table: FormFactorTable, key: str) -> str:
    """A setting of ``table``; ``"xc"`` names the functional with any one-shot hybrid."""
    settings = table.metadata.get("settings", {})
    if key == "xc":
        from acie.darkmatter.formfactor.settings import functional_label

        return functional_label(settings)
    return str(settings.get(key, "unknown"))


def shipped_series(material: str) -> dict[str, FormFactorTable]:
    """Every shipped DFT table of ``material`` (the default and the convergence variants).

    Tables extended with atomic shells (``settings["atomic_shells"]``, e.g. the default
    ``Ge.h5``) are left out: their DFT part is the ``*_valence`` table of the same settings,
    and the k-mesh series compares DFT runs on one q range.

    Labels are ``"<kmesh>/<basis>/<xc>"``, e.g. ``"3x3x3/gth-dzvp-molopt-sr/pbe"`` or, with a
    one-shot hybrid, ``"4x4x4/gth-dzvp-molopt-sr/pbe0@pbe"``.
    """
    return dict(_shipped_series(material))


@lru_cache(maxsize=8)
def _shipped_series(material: str) -> tuple[tuple[str, FormFactorTable], ...]:
    from acie.darkmatter.formfactor.io import read_acie

    folder = resources.files("acie.darkmatter.formfactor") / "data"
    out = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        stem = item.name.removesuffix(".h5")
        if item.name.endswith(".h5") and (stem == material or stem.startswith(material + "_")):
            t = read_acie(item)  # type: ignore[arg-type]
            if "atomic_shells" in t.metadata.get("settings", {}):
                continue  # an extended table: its DFT part is in the series as *_valence
            out[_label(t)] = t
    return tuple(out.items())


def _label(table: FormFactorTable) -> str:
    """``"<kmesh>/<basis>/<xc>"`` of a table's settings (the series' keys)."""
    km = "x".join(str(k) for k in _kmesh(table))
    return f"{km}/{_setting(table, 'basis').lower()}/{_setting(table, 'xc')}"


def _rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a/b − 1| where both are positive, else 0 (no counts: no reach to vary)."""
    ok = (a > 0) & (b > 0)
    return np.where(ok, np.abs(np.divide(a, b, out=np.ones_like(a), where=ok) - 1), 0.0)


def convergence_spread(
    table: FormFactorTable,
    counts: CountsFn,
    *,
    series: dict[str, FormFactorTable] | None = None,
    series_material: str | None = None,
) -> FormFactorSystematic:
    """The k-mesh convergence spread of ``table`` (see the module docstring).

    Parameters
    ----------
    table : FormFactorTable
    counts : callable table -> ndarray (n_m,)
    series : dict label -> FormFactorTable, optional
        Tables of one material that differ only in k-mesh; default: the shipped tables of
        ``table.material`` with its basis and functional, else those of Ge.
    series_material : str, optional
        Name of the series' material (for the basis text); taken from the tables.
    """
    own = _kmesh(table)
    if series is None:
        series = _same_basis(shipped_series(table.material), table)
        if len(series) < 2:
            series = _same_basis(shipped_series("Ge"), None)
    if len(series) < 2:
        n = counts(table).shape
        return FormFactorSystematic(
            source="convergence",
            rel_sigma=np.zeros(n),
            available=False,
            basis="no convergence series of two or more k-meshes shipped or given",
        )
    mat = series_material or next(iter(series.values())).material
    ordered = sorted(series.items(), key=lambda kv: (int(np.prod(_kmesh(kv[1]) or (0,))), kv[0]))
    nk = [int(np.prod(_kmesh(t) or (0,))) for _, t in ordered]
    c = [counts(t) for _, t in ordered]
    n_own = int(np.prod(own or (0,)))
    # the step from the table's setting to the next finer one; the last step at or beyond the finest
    i = next((j for j, k in enumerate(nk) if k >= n_own), len(nk) - 1)
    i = min(i, len(nk) - 2)
    rel = _rel(c[i], c[i + 1])
    labels = [lbl for lbl, _ in ordered]
    own_text = "x".join(map(str, own)) or "unknown"
    basis = (
        f"k-mesh series of {mat} ({', '.join(labels)}); table at {own_text}: step "
        f"{labels[i]} → {labels[i + 1]}, |c ratio − 1| = {np.min(rel):.3g}–{np.max(rel):.3g} "
        "over the masses"
    )
    transferred = mat if mat != table.material else None
    if transferred:
        basis += f" (transferred from {mat}: {table.material} has no series of its own)"
    return FormFactorSystematic(
        source="convergence",
        rel_sigma=rel,
        available=True,
        basis=basis,
        transferred_from=transferred,
    )


def _same_basis(series: dict[str, FormFactorTable], table: FormFactorTable | None):
    """The members of ``series`` with the basis and xc of ``table`` (or of the series' finest)."""
    if not series:
        return {}
    ref = table or max(series.values(), key=lambda t: int(np.prod(_kmesh(t) or (0,))))
    key = (_setting(ref, "basis").lower(), _setting(ref, "xc"))
    return {
        k: t for k, t in series.items() if (_setting(t, "basis").lower(), _setting(t, "xc")) == key
    }


def functional_spread(
    table: FormFactorTable,
    counts: CountsFn,
    *,
    others: dict[str, FormFactorTable] | None = None,
) -> FormFactorSystematic:
    """Spread of the counted rate between ``table`` and tables with another functional.

    ``others`` defaults to the shipped tables of the material with the same k-mesh and
    basis; only those with a different ``xc`` count.
    """
    xc = _setting(table, "xc")
    pool = others if others is not None else shipped_series(table.material)
    alt = {
        k: t
        for k, t in pool.items()
        if _setting(t, "xc") != xc
        and (
            others is not None
            or (
                _kmesh(t) == _kmesh(table)
                and _setting(t, "basis").lower() == _setting(table, "basis").lower()
            )
        )
    }
    c0 = counts(table)
    if not alt:
        xcs = sorted({_setting(t, "xc") for t in pool.values()} | {xc})
        return FormFactorSystematic(
            source="functional",
            rel_sigma=np.zeros(c0.shape),
            available=False,
            basis=(
                f"not estimated: the {len(pool)} shipped or given {table.material} tables use "
                f"xc = {', '.join(xcs)} only; a table with a second functional is needed"
            ),
        )
    own = _same_settings(table, pool) if others is None else None
    if own is None:
        rels = {k: _rel(counts(t), c0) for k, t in alt.items()}
        how = f"max |c(other xc)/c({xc}) − 1|"
    elif "atomic_shells" in table.metadata.get("settings", {}):
        # an extended table: the functional changes its DFT part only; relative to the
        # shipped extended table of these settings (a given table may be rescaled)
        c_own, c_full = counts(own), counts(_shipped_default(table) or table)
        rels = {k: _rel(c_full + counts(t) - c_own, c_full) for k, t in alt.items()}
        how = f"max |c(other xc) − c({xc})| of the shipped DFT part over c of the whole table"
    else:
        c_own = counts(own)
        rels = {k: _rel(counts(t), c_own) for k, t in alt.items()}
        how = f"max |c(other xc)/c({xc}) − 1| of the shipped tables of these settings"
    rel = np.max(np.stack(list(rels.values())), axis=0)
    parts = ", ".join(f"{k}: {np.max(v):.3g}" for k, v in rels.items())
    return FormFactorSystematic(
        source="functional",
        rel_sigma=rel,
        available=True,
        basis=f"{how} over the masses: {parts}",
    )


def _same_settings(
    table: FormFactorTable, pool: dict[str, FormFactorTable]
) -> FormFactorTable | None:
    """The DFT table of ``pool`` with ``table``'s k-mesh, basis and functional.

    For a table extended with atomic shells that is its own DFT part; ``None`` if absent.
    """
    return pool.get(_label(table))


def _shipped_default(table: FormFactorTable) -> FormFactorTable | None:
    """The shipped default table of ``table``'s material if it has ``table``'s settings."""
    from acie.darkmatter.formfactor.shipped import shipped_table
    from acie.errors import UnknownNameError

    try:
        default = shipped_table(table.material)
    except UnknownNameError:  # no shipped table of this material: nothing to compare with
        return None
    return default if _label(default) == _label(table) else None


def table_uncertainty_spread(
    table: FormFactorTable, uncertainty: FormFactorTable | None, counts: CountsFn
) -> FormFactorSystematic:
    """c(σ_f2)/c(f2) per mass from a table's own 1σ f² uncertainty (fully correlated)."""
    c0 = counts(table)
    if uncertainty is None:
        return FormFactorSystematic(
            source="table uncertainty",
            rel_sigma=np.zeros(c0.shape),
            available=False,
            basis="the table carries no f2_uncertainty",
        )
    if uncertainty.f2.shape != table.f2.shape:
        raise InputValidationError(
            expected_got("f2 uncertainty", f"shape {table.f2.shape}", uncertainty.f2.shape)
        )
    cu = counts(uncertainty)
    rel = np.where(c0 > 0, np.divide(cu, c0, out=np.zeros_like(cu), where=c0 > 0), 0.0)
    return FormFactorSystematic(
        source="table uncertainty",
        rel_sigma=rel,
        available=True,
        basis=f"c(f2_uncertainty)/c(f2) = {np.min(rel):.3g}–{np.max(rel):.3g} over the masses",
    )


def formfactor_systematics(
    table: FormFactorTable,
    counts: CountsFn,
    *,
    uncertainty: FormFactorTable | None = None,
    series: dict[str, FormFactorTable] | None = None,
    functional_tables: dict[str, FormFactorTable] | None = None,
) -> list[FormFactorSystematic]:
    """The three sources of :data:`SOURCES` for ``table``, in that order."""
    return [
        convergence_spread(table, counts, series=series),
        functional_spread(table, counts, others=functional_tables),
        table_uncertainty_spread(table, uncertainty, counts),
    ]


def draw_scalings(
    systematics: list[FormFactorSystematic], n: int, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Seeded multiplicative f² scalings per source, shape (n, n_m).

    s = exp(z ln(1 + σ(m))), z ~ N(0, 1) one per draw and source (log-normal, median 1,
    so that a rate can never turn negative). Sources draw from one generator in order.
    """
    if n < 2:
        raise InputValidationError(expected_got("number of draws", ">= 2", n))
    rng = np.random.default_rng(seed)
    out = {}
    for s in systematics:
        z = rng.standard_normal(n)
        out[s.source] = np.exp(z[:, None] * np.log1p(s.rel_sigma)[None, :])
    return out
