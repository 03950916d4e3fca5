"""`acie dm advise`, `acie dm halos` and the `acie dm reach --budget` report.

``advise`` recommends a target material with a confidence (:mod:`acie.darkmatter.advisor`);
``halos`` lists the Gaia-era halo catalogue (:mod:`acie.darkmatter.halo_catalogue`);
:func:`budget_report` prints and plots a reach's systematic budget
(:mod:`acie.darkmatter.budget`) for ``acie dm reach --budget N``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.cli.dm_options import JsonOpt, parse_mediator
from acie.cli.dm_output import Setting, emit


def halos(as_json: JsonOpt = False) -> None:
    """List the Gaia-era halo catalogue: each set's values, uncertainties and source."""
    from acie.darkmatter.halo_catalogue import load_catalogue

    cat = load_catalogue()
    if as_json:
        rows = [
            {
                "name": e.name,
                "model": e.model,
                "base": e.base,
                "values": e.values,
                "uncertainty": e.uncertainty_text(),
                "citation": e.citation,
            }
            for e in cat.values()
        ]
        typer.echo(json.dumps({"units": {"v": "km/s", "rho": "GeV/cm3"}, "sets": rows}, indent=2))
        return
    for e in cat.values():
        typer.echo(f"{e.name} ({e.model}): {e.uncertainty_text()}")
        typer.echo(f"    {e.citation}")


def advise(
    mass_min: Annotated[float, typer.Option(help="Lowest mass, MeV.")] = 1.0,
    mass_max: Annotated[float, typer.Option(help="Highest mass, MeV.")] = 100.0,
    exposure: Annotated[float, typer.Option(help="Exposure, kg yr.")] = 1.0,
    threshold: Annotated[int, typer.Option(help="Count n_e >= threshold.")] = 1,
    material: Annotated[
        list[str] | None, typer.Option(help="A material to compare (repeat); default: all shipped.")
    ] = None,
    excitons: Annotated[
        list[str] | None,
        typer.Option(help="MATERIAL=PATH of an exciton file (acie.excitons format); repeat."),
    ] = None,
    target_accuracy: Annotated[
        float, typer.Option(help="Total-rate accuracy for the DFT-settings advice, e.g. 0.2.")
    ] = 0.2,
    n_masses: Annotated[int, typer.Option(help="Log-spaced masses in the range.")] = 12,
    draws: Annotated[int, typer.Option(help="Budget Monte Carlo draws.")] = 1000,
    halo: Annotated[str, typer.Option(help="Halo catalogue set (acie dm halos).")] = (
        "shmpp2019-round"
    ),
    mediator: Annotated[str, typer.Option(help="heavy, light or a mediator mass.")] = "heavy",
    seed: Annotated[int, typer.Option(help="Monte Carlo seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Which material gives the best σ̄e reach over a mass range, and how sure that is."""
    import astropy.units as u

    from acie.darkmatter.advisor import advise as run
    from acie.darkmatter.excitons import read_excitons
    from acie.darkmatter.materials import get_material
    from acie.errors import InputValidationError

    ex = {}
    for item in excitons or []:
        name, _, path = item.partition("=")
        if not name or not path:
            raise InputValidationError(f"--excitons must be MATERIAL=PATH; got {item!r}")
        if not Path(path).is_file():
            raise InputValidationError(f"--excitons {item!r}: no such file")
        ex[get_material(name).name] = read_excitons(path)
    a = run(
        mass_min * u.MeV,
        mass_max * u.MeV,
        exposure * u.kg * u.yr,
        ne_threshold=threshold,
        materials=material or None,
        excitons=ex,
        target_accuracy=target_accuracy,
        n_masses=n_masses,
        n_draws=draws,
        seed=seed,
        halo=halo,
        mediator=parse_mediator(mediator),
    )
    if as_json:
        out = {
            "best": a.best,
            "confidence": a.confidence,
            "median_mean_log10_sigma_cm2": a.median_score,
            "excitons": {k: v["text"] for k, v in a.excitons.items()},
            "dft_settings": {k: v["text"] for k, v in a.dft.items()},
            "settings": a.settings,
        }
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    for line in a.lines():
        typer.echo(line)


def budget_report(
    ctx: typer.Context,
    *,
    table: Any,
    formfactor: str | None,
    masses: Any,
    exposure: float,
    o: dict[str, Any],
    n_draws: int,
    halo: str,
    seed: int,
    unc_table: Any,
    plot: Path | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Compute, print (and plot) the systematic budget of ``acie dm reach --budget``."""
    import astropy.units as u

    from acie.darkmatter.budget import plot_budget, reach_budget
    from acie.darkmatter.reach import median_background_outcome, signal_upper_limit

    n_obs = median_background_outcome(o["background"]) if o["n_obs"] is None else o["n_obs"]
    s_up = signal_upper_limit(n_obs, o["background"], o["cl"], str(o["method"]))
    b = reach_budget(
        table,
        masses * u.MeV,
        exposure * u.kg * u.yr,
        signal_limit=s_up,
        halo=halo,
        n_draws=n_draws,
        seed=seed,
        ne_threshold=o["threshold"],
        ne_bin=o["ne_bin"],
        efficiency=o["efficiency"],
        mediator=o["mediator"],
        uncertainty=unc_table,
    )
    if plot is not None:
        from acie.darkmatter.plots import save_figure

        save_figure(plot_budget(b), plot)
    settings: list[Setting] = [
        ("form factor", f"{table.material} ({formfactor})", "formfactor"),
        ("exposure", f"{exposure:g} kg yr", "exposure"),
        ("limit", f"≤ {s_up:.4g} signal events ({o['method']}, {o['cl']:g} CL)", None),
        ("halo", next((v for k, v in b.basis.items() if k.startswith("halo")), halo), None),
        ("Monte Carlo", f"{n_draws} draws per source and jointly, seed {seed}", "budget"),
        ("plot", str(plot) if plot is not None else "none", "plot"),
        ("decomposition", b.method, None),
    ]
    settings += [(f"source {s}", b.basis[s], None) for s in b.sources if not s.startswith("halo")]
    emit(
        b.rows(),
        {"mass": "MeV", "sigma": "cm2", "sd_log10_sigma": "dex", "share": "1"},
        as_json=as_json,
        as_csv=as_csv,
        meta={"method": b.method, "basis": b.basis, "n_draws": n_draws, "halo": halo},
        ctx=ctx,
        title="Systematic budget of the σ̄e reach: each source's share of Var[log10 σ]",
        settings=settings,
    )


def register(app: typer.Typer) -> None:
    """Attach ``advise`` and ``halos`` to ``app`` (the ``dm`` group)."""
    app.command()(advise)
    app.command()(halos)


__all__ = ["advise", "budget_report", "halos", "register"]
