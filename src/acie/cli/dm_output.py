"""Output of the `acie dm` commands: JSON, CSV, and plain-text tables with units and settings.

Machine output carries units in a ``units`` object (JSON) or in the column names (CSV,
e.g. ``energy_keV``). Plain text prints first the settings in force — every input the
result depends on, defaults included and marked ``(default)`` — then a table whose
headers name each quantity with its unit (``energy [keV]``).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import typer

__all__ = ["COLUMNS", "Setting", "emit", "halo_text", "print_settings"]

#: Plain-text header (quantity [unit]) of every column the dm commands print.
COLUMNS = {
    "energy_keV": "energy [keV]",
    "energy_eV": "energy [eV]",
    "dRdE_per_keV_kg_day": "dR/dE [1/(keV kg day)]",
    "dRdE_per_eV_kg_yr": "dR/dE [1/(eV kg yr)]",
    "ne": "n_e [electron-hole pairs]",
    "rate_per_kg_yr": "rate [1/(kg yr)]",
    "rate_unc_per_kg_yr": "rate 1σ (f2) [1/(kg yr)]",
    "dRdE_unc_per_eV_kg_yr": "dR/dE 1σ (f2) [1/(eV kg yr)]",
    "beyond_table_fraction": "beyond table [1]",
    "vmin_km_s": "v_min [km/s]",
    "eta_s_km": "η [s/km]",
    "mass_MeV": "mass [MeV]",
    "mass_GeV": "mass [GeV]",
    "sigma_limit_cm2": "σ limit [cm²]",
    "sigma_median_cm2": "σ median [cm²]",
    "sigma_lo68_cm2": "σ 68% low [cm²]",
    "sigma_hi68_cm2": "σ 68% high [cm²]",
    "sigma_lo95_cm2": "σ 95% low [cm²]",
    "sigma_f2_lo_cm2": "σ f2 −1σ [cm²]",
    "sigma_f2_hi_cm2": "σ f2 +1σ [cm²]",
    "sigma_hi95_cm2": "σ 95% high [cm²]",
    "date": "date [UTC]",
    "v_earth_km_s": "v_E [km/s]",
    "S0": "S0 [{rate}]",
    "Sm": "Sm [{rate}]",
    "t_peak_day": "t_peak [day of year]",
}

#: (label, value text, option name(s) or None): one line of the settings block; it is
#: marked "(default)" when every named option was left at its default.
Setting = tuple[str, str, str | tuple[str, ...] | None]


def halo_text(h) -> str:
    """One line naming a halo parameter set with its model and values in units."""
    text = (
        f"{h.name} v{h.version} ({h.model}: v0 = {h.v0.value:g} km/s, vesc = {h.vesc.value:g} "
        f"km/s, ρ = {h.rho.value:g} GeV/cm³, v_E = {h.v_earth.value:g} km/s"
    )
    if h.model == "shm++":
        text += f", β = {h.beta:g}, sausage fraction = {h.sausage_fraction:g}"
    return text + ")"


def print_settings(ctx: typer.Context | None, title: str, settings: list[Setting]) -> None:
    """Print ``title`` and one ``label  value`` line per setting; defaults are marked."""
    typer.echo(title)
    width = max((len(label) for label, _, _ in settings), default=0)
    for label, value, option in settings:
        mark = ""
        if ctx is not None and option is not None:
            names = (option,) if isinstance(option, str) else option
            sources = [ctx.get_parameter_source(n) for n in names]
            # by name: typer vendors its own click, whose ParameterSource is another enum
            if all(src is None or src.name in ("DEFAULT", "DEFAULT_MAP") for src in sources):
                mark = " (default)"
        typer.echo(f"  {label:<{width}}  {value}{mark}")


def emit(
    rows: list[dict[str, Any]],
    units: dict[str, str],
    *,
    as_json: bool,
    as_csv: bool,
    meta: dict[str, Any] | None = None,
    ctx: typer.Context | None = None,
    title: str = "",
    settings: list[Setting] | None = None,
    header_units: dict[str, str] | None = None,
) -> None:
    """Print ``rows`` as JSON (with ``units`` and ``meta``), CSV, or a plain-text table.

    Parameters
    ----------
    rows : list of dict
        Column name (with its unit, e.g. ``energy_keV``) to value.
    units : dict
        Quantity to unit, for the JSON ``units`` object.
    meta : dict, optional
        Extra JSON keys (material, mass, halo…).
    ctx, title, settings
        Plain text: the settings block printed above the table (see :func:`print_settings`).
    header_units : dict, optional
        Values for the ``{placeholders}`` of :data:`COLUMNS` headers (e.g. ``rate``).

    Raises
    ------
    InputValidationError
        If both ``as_json`` and ``as_csv`` are set.
    """
    if as_json and as_csv:
        from acie.errors import InputValidationError

        raise InputValidationError("choose one of --json and --csv, not both")
    if as_json:
        typer.echo(
            json.dumps({"units": units, **(meta or {}), "rows": rows}, indent=2, default=float)
        )
        return
    cols = list(rows[0]) if rows else list(units)
    if as_csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(buf.getvalue().rstrip("\n"))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if settings is not None:
        print_settings(ctx, title, settings)
    headers = [COLUMNS.get(c, c).format(**(header_units or {})) for c in cols]
    table = Table(*[escape(h) for h in headers])  # "[keV]" is a unit, not rich markup
    for r in rows:
        table.add_row(*[f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    Console(width=max(100, sum(len(h) + 3 for h in headers))).print(table)
