"""`acie dm select`: rank the target materials by computed σ̄e reach at one mass."""

from __future__ import annotations

import json

import typer

from acie.cli.dm_options import load_table, parse_mediator, table_uncertainty
from acie.cli.dm_output import halo_text, print_settings


def select(
    ctx: typer.Context,
    mass: float = typer.Option(..., help="Dark-matter mass, MeV."),
    exposure: float = typer.Option(1.0, help="Exposure, kg·yr."),
    threshold: int = typer.Option(1, help="n_e threshold (electron–hole pairs)."),
    threshold_ev: float = typer.Option(
        0.0, help="Energy threshold in eV instead (0 = use --threshold)."
    ),
    background: float = typer.Option(0.0, help="Expected background events in the exposure."),
    mediator: str = typer.Option(
        "heavy", help="heavy, light, or a mediator mass (10keV; a plain number is MeV)."
    ),
    table: list[str] = typer.Option(
        None,
        "--table",
        help="MATERIAL=PATH or MATERIAL=SHIPPED (a form-factor or exciton file, or a shipped "
        "material's table) instead of the shipped table.",
    ),
    allow_material_mismatch: bool = typer.Option(False, help="Allow --table X=<non-X table>."),
    json_out: bool = typer.Option(
        False, "--json", help="JSON (σ̄e in cm², mass MeV, exposure kg·yr)."
    ),
) -> None:
    """Rank the materials by computed σ̄e reach at one mass (lower is better)."""
    import astropy.units as u

    from acie.darkmatter.selector import select_material
    from acie.errors import InputValidationError

    tables, unc = None, {}
    med = parse_mediator(mediator)
    if table:
        tables = {}
        for item in table:
            name, _, path = item.partition("=")
            if not name or not path:
                raise InputValidationError(f"--table must be MATERIAL=PATH; got {item!r}")
            tables[name] = load_table(path, "--table")
            if (du := table_uncertainty(path, tables[name])) is not None:
                unc[name] = du
    thr = threshold_ev * u.eV if threshold_ev > 0 else threshold
    r = select_material(
        mass * u.MeV,
        exposure * u.kg * u.yr,
        thr,
        background,
        mediator=med,
        tables=tables,
        allow_material_mismatch=allow_material_mismatch,
        f2_uncertainty=unc,
    )
    if json_out:
        typer.echo(
            json.dumps({"settings": r.settings, "ranking": r.rows, "skipped": r.skipped}, indent=2)
        )
        return
    from acie.darkmatter.halo_parameters import resolve_halo

    st = r.settings
    print_settings(
        ctx,
        "Targets ranked by σ̄e reach at one mass (lower is better)",
        [
            ("mass", f"{mass:g} MeV", "mass"),
            ("exposure", f"{exposure:g} kg yr", "exposure"),
            (
                "threshold",
                f"E ≥ {threshold_ev:g} eV (its energy bin split there; the n_e it falls in below)"
                if threshold_ev > 0
                else f"n_e ≥ {threshold}",
                ("threshold", "threshold_ev"),
            ),
            ("background", f"{background:g} events (observed = {st['n_obs']})", "background"),
            ("mediator", mediator, "mediator"),
            ("limit", f"{st['method']}, {st['cl']:g} CL", None),
            ("halo", halo_text(resolve_halo(None)), None),
            ("form factors", "shipped tables" if not table else ", ".join(table), "table"),
        ],
    )
    typer.echo(
        f"{'rank':4} {'material':8} {'σ̄e reach [cm²]':>16} {'events [per 1e-37 cm²]':>23} "
        f"{'n_e threshold':>13} {'beyond table [1]':>16}"
    )
    for i, row in enumerate(r.rows, 1):
        typer.echo(
            f"{i:<4} {row['material']:8} {row['sigma_limit_cm2']:16.3e} "
            f"{row['events_per_1e-37cm2']:23.3e} {row['ne_threshold']:13d} "
            f"{row['beyond_table_fraction']:16.3f}"
        )
    for name, why in r.skipped.items():
        typer.echo(f"skipped {name}: {why}")
