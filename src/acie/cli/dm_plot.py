"""`acie dm plot`: 300 dpi figures of rates, η, reach, form factors and material comparisons.

Registered onto the ``acie dm`` group by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acie.cli.dm_options import HaloOpt, PlotKind, TargetOpt, load_table


def plot_cmd(
    kind: Annotated[
        PlotKind, typer.Argument(help="spectrum, ne, eta, reach, formfactor or materials.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.png or .pdf), 300 dpi.")],
    formfactor: Annotated[
        list[str] | None,
        typer.Option(
            "--formfactor",
            "-f",
            help="Form factor(s): shipped material names or HDF5 files; several for 'materials'.",
        ),
    ] = None,
    mass: Annotated[
        list[float] | None, typer.Option(help="Mass(es): MeV (electron) or GeV (nuclear spectrum).")
    ] = None,
    target: TargetOpt = "Xe",
    halo_name: HaloOpt = "baxter2021",
) -> None:
    """Save a figure: dR/dE, rates per n_e, η(v_min), reach, form-factor heat map, material comparison."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter import electron, nuclear
    from acie.darkmatter import plots as P
    from acie.darkmatter.halo import eta
    from acie.darkmatter.halo_parameters import available_halo_parameters, resolve_halo

    h = resolve_halo(halo_name)
    files = list(formfactor or [])
    tables = [load_table(f) for f in files]
    sig_e = 1e-39 * u.cm**2
    if kind is PlotKind.eta:
        halos = {n: resolve_halo(n) for n in available_halo_parameters()}
        halos.setdefault(h.name, h)
        v = P.eta_speed_grid(list(halos.values()))
        fig = P.plot_eta(v, {name: eta(v, x) for name, x in halos.items()})
    elif kind is PlotKind.spectrum and not tables:
        e = np.linspace(0.5, 60, 120) * u.keV
        fig = P.plot_spectrum(
            e,
            {
                f"{target}, {m:g} GeV": nuclear.dr_de(e, m * u.GeV, 1e-45 * u.cm**2, target, halo=h)
                for m in (mass or [10.0, 50.0, 200.0])
            },
            title="SI, σ_n = 1e-45 cm²",
        )
    else:
        if not tables:
            from acie.errors import InputValidationError

            raise InputValidationError(f"plot {kind} needs --formfactor MATERIAL or FILE")
        t = tables[0]
        masses = mass or [10.0, 100.0, 1000.0]
        if kind is PlotKind.spectrum:
            fig = P.plot_spectrum(
                t.energy,
                {
                    f"{t.material}, {m:g} MeV": electron.dr_de(t, m * u.MeV, sig_e, halo=h)
                    for m in masses
                },
                title="σ̄e = 1e-39 cm², heavy mediator",
            )
        elif kind is PlotKind.ne:
            fig = P.plot_rates_per_ne(
                {
                    f"{t.material}, {m:g} MeV": electron.rate_per_ne(t, m * u.MeV, sig_e, halo=h)
                    for m in masses
                },
                title="σ̄e = 1e-39 cm², heavy mediator",
            )
        elif kind is PlotKind.reach:
            from acie.darkmatter.reach import electron_reach

            curves = [
                electron_reach(x, np.geomspace(0.5, 1000, 30) * u.MeV, 1 * u.kg * u.yr, halo=h)
                for x in tables
            ]
            fig = P.plot_reach(curves, title="1 kg yr, n_e ≥ 1, background-free")
        elif kind is PlotKind.formfactor:
            fig = P.plot_formfactor(t)
        else:
            m = masses[0]
            fig = P.plot_material_comparison(
                {
                    x.material: (x.energy, electron.dr_de(x, m * u.MeV, sig_e, halo=h))
                    for x in tables
                },
                title=f"{m:g} MeV, σ̄e = 1e-39 cm²",
            )
    path = P.save_figure(fig, out)
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Attach ``plot`` to ``app`` (the ``dm`` group)."""
    app.command("plot")(plot_cmd)
