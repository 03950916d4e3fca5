"""`acie dm`: Dark-matter detection physics: rates, reach curves, modulation, form factors, plots.

Commands import the physics lazily so ``acie --help`` stays fast. Machine output
(``--json`` / ``--csv``) carries units: in a ``units`` object (JSON) or in the column
names (CSV, e.g. ``energy_keV``). Plain text prints the settings in force (defaults
marked) above a table whose headers carry units (:mod:`acie.cli.dm_output`).

This module holds ``halo``, ``eta`` and ``rate``; ``reach`` is in
:mod:`acie.cli.dm_reach`, ``modulation`` in :mod:`acie.cli.dm_modulation`, ``plot`` in :mod:`acie.cli.dm_plot`, the form-factor commands
in :mod:`acie.cli.dm_formfactor` and :mod:`acie.cli.dm_exciton`.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from acie.cli.dm_channels import BandOpt, Coupling, CouplingOpt, RateChannel, rate_extra
from acie.cli.dm_options import (
    CsvOpt,
    FormFactorOpt,
    HaloOpt,
    Ionization,
    JsonOpt,
    MediatorOpt,
    TargetOpt,
    WarnBeyondOpt,
    check_range,
    load_table,
    mediator_text,
    parse_mediator,
    table_text,
    table_uncertainty,
    table_warnings,
)
from acie.cli.dm_output import Setting, emit, halo_text

app = typer.Typer(
    help="Dark-matter detection physics: rates, reach curves, modulation, form factors, plots.",
    no_args_is_help=True,
)


@app.command()
def halo(
    name: Annotated[
        str | None, typer.Argument(help="A parameter-set name or .json file; omit to list all.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the halo parameter sets, or show one with units and citation."""
    from acie.darkmatter.halo_parameters import (
        available_halo_parameters,
        get_halo_parameters,
        resolve_halo,
    )

    sets = (
        [resolve_halo(name)]
        if name
        else [get_halo_parameters(n) for n in available_halo_parameters()]
    )
    rows = [
        {
            "name": h.name,
            "model": h.model,
            "v0_km_s": h.v0.value,
            "vesc_km_s": h.vesc.value,
            "rho_GeV_cm3": h.rho.value,
            "v_earth_km_s": h.v_earth.value,
            "beta": h.beta,
            "sausage_fraction": h.sausage_fraction,
            "version": h.version,
            "citation": h.citation,
        }
        for h in sets
    ]
    if as_json:
        emit(
            rows,
            {"v0": "km/s", "vesc": "km/s", "rho": "GeV/cm3", "v_earth": "km/s"},
            as_json=True,
            as_csv=False,
        )
        return
    for h in sets:
        typer.echo(halo_text(h))
        typer.echo(f"    {h.citation}")


@app.command()
def eta(
    ctx: typer.Context,
    vmin_max: Annotated[
        float, typer.Option(help="Largest v_min, km/s (default: the halo's vesc + v_E).")
    ] = math.nan,
    n: Annotated[int, typer.Option(help="Number of points.")] = 41,
    halo_name: HaloOpt = "baxter2021",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Mean inverse speed η(v_min) of the chosen halo model, s/km."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter.halo import eta as eta_fn
    from acie.darkmatter.halo_parameters import resolve_halo

    h = resolve_halo(halo_name)
    if math.isnan(vmin_max):
        vmin_max = float((h.vesc + h.v_earth).to_value(u.km / u.s))
    v = np.linspace(0.0, vmin_max, n) * u.km / u.s
    e = eta_fn(v, h).to_value(u.s / u.km)
    rows = [{"vmin_km_s": float(a), "eta_s_km": float(b)} for a, b in zip(v.value, e, strict=True)]
    emit(
        rows,
        {"vmin": "km/s", "eta": "s/km"},
        as_json=as_json,
        as_csv=as_csv,
        meta={"halo": h.name},
        ctx=ctx,
        title="η(v_min), mean inverse speed in the Earth frame",
        settings=[
            ("halo", halo_text(h), "halo_name"),
            ("v_min", f"0–{vmin_max:g} km/s, {n} points", ("vmin_max", "n")),
        ],
    )


@app.command()
def rate(
    ctx: typer.Context,
    channel: Annotated[
        RateChannel,
        typer.Option(
            help="nuclear (WIMP SI), electron (crystal), nuclear-sd (spin-dependent) or migdal."
        ),
    ] = RateChannel.nuclear,
    mass: Annotated[
        float, typer.Option(help="Dark-matter mass: GeV (nuclear) or MeV (electron).")
    ] = 50.0,
    sigma: Annotated[
        float,
        typer.Option(
            help="Cross-section, cm² (σ_n or σ̄e); default 1e-45 / 1e-39.", show_default=False
        ),
    ] = math.nan,
    target: TargetOpt = "Xe",
    formfactor: FormFactorOpt = None,
    mediator: MediatorOpt = "heavy",
    e_min: Annotated[float, typer.Option(help="Nuclear: lowest recoil energy, keV.")] = 1.0,
    e_max: Annotated[float, typer.Option(help="Nuclear: highest recoil energy, keV.")] = 60.0,
    n_energies: Annotated[int, typer.Option(help="Nuclear: number of energies.")] = 60,
    per_ne: Annotated[
        bool, typer.Option("--per-ne", help="Electron: rates per number of e-h pairs.")
    ] = False,
    n_max: Annotated[int, typer.Option(help="Electron --per-ne: largest n_e (bins 0…n_max).")] = 10,
    ionization: Annotated[
        Ionization, typer.Option(help="Electron --per-ne: ionization model.")
    ] = Ionization.step,
    screening: Annotated[
        bool, typer.Option("--screening", help="Electron: Thomas–Fermi screening.")
    ] = False,
    halo_name: HaloOpt = "baxter2021",
    warn_beyond: WarnBeyondOpt = 0.05,
    coupling: CouplingOpt = Coupling.proton,
    band: BandOpt = "central",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Differential rate dR/dE (nuclear: per keV kg day; electron: per eV kg yr) or rates per n_e."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter import electron, nuclear
    from acie.darkmatter.halo_parameters import resolve_halo

    if channel in (RateChannel.nuclear_sd, RateChannel.migdal):  # acie.cli.dm_channels
        rate_extra(
            ctx, channel, mass=mass, sigma=sigma, target=target, coupling=coupling, band=band,
            e_min=e_min, e_max=e_max, n_energies=n_energies, halo_name=halo_name,
            as_json=as_json, as_csv=as_csv,
        )  # fmt: skip
        return
    h = resolve_halo(halo_name)
    if channel is RateChannel.nuclear:
        s = 1e-45 if math.isnan(sigma) else sigma
        check_range(e_min, e_max, n_energies, ("--e-min", "--e-max", "--n-energies"))
        e = np.linspace(e_min, e_max, n_energies) * u.keV
        r = nuclear.dr_de(e, mass * u.GeV, s * u.cm**2, target, halo=h).to_value(nuclear.DRU)
        rows = [
            {"energy_keV": float(a), "dRdE_per_keV_kg_day": float(b)}
            for a, b in zip(e.value, r, strict=True)
        ]
        emit(
            rows,
            {"energy": "keV", "dRdE": "1/(keV kg day)", "mass": "GeV", "sigma": "cm2"},
            as_json=as_json,
            as_csv=as_csv,
            meta={"target": target, "mass_GeV": mass, "sigma_cm2": s, "halo": h.name},
            ctx=ctx,
            title="Spin-independent nuclear-recoil spectrum dR/dE",
            settings=[
                ("target", target, "target"),
                ("mass", f"{mass:g} GeV", "mass"),
                ("σ_n (per nucleon)", f"{s:g} cm²", "sigma"),
                ("halo", halo_text(h), "halo_name"),
                ("energies", f"{e_min:g}–{e_max:g} keV, {n_energies} points", _E_OPTS),
            ],
        )
        return
    table = load_table(formfactor)
    med = parse_mediator(mediator)
    s = 1e-39 if math.isnan(sigma) else sigma
    from acie.darkmatter.table_range import beyond_table_fraction

    beyond = float(
        beyond_table_fraction(table, mass * u.MeV, mediator=med, halo=h, screening=screening)
    )
    meta = {
        "material": table.material,
        "mass_MeV": mass,
        "sigma_cm2": s,
        "mediator": mediator_text(med),
        "halo": h.name,
        "beyond_table_fraction": beyond,
    }
    unc_table = table_uncertainty(formfactor, table)
    settings: list[Setting] = [
        ("form factor", table_text(formfactor, table), "formfactor"),
        ("mass", f"{mass:g} MeV", "mass"),
        ("σ̄e", f"{s:g} cm²", "sigma"),
        ("mediator", mediator_text(med), "mediator"),
        ("screening", "Thomas–Fermi" if screening else "off", "screening"),
        ("halo", halo_text(h), "halo_name"),
        (
            "beyond table",
            f"{beyond:.1%} of the rate (estimated; warn above {warn_beyond:.0%})",
            "warn_beyond",
        ),
    ]
    if unc_table is not None:
        settings.append(("f2 uncertainty", "from the file, fully correlated (1σ)", None))
    with table_warnings():
        from acie.darkmatter.table_range import warn_if_beyond

        warn_if_beyond(beyond, table.material, warn_beyond)
    kw = dict(mediator=med, halo=h, screening=screening)
    if per_ne:

        def per_ne_rate(tab):
            return electron.rate_per_ne(
                tab,
                mass * u.MeV,
                s * u.cm**2,
                n_max=n_max,
                ionization=str(ionization),
                warn_beyond=None,
                **kw,
            )

        res = per_ne_rate(table)
        rows_ne = res.as_rows()
        if unc_table is not None:
            for row, du in zip(rows_ne, per_ne_rate(unc_table).as_rows(), strict=True):
                row["rate_unc_per_kg_yr"] = du["rate_per_kg_yr"]
        gap, eps, fano = electron.material_ionization(table.material)
        model = f"{ionization}: gap {gap:g} eV, ε = {eps:g} eV" + (
            f", Fano {fano:g}" if ionization is Ionization.fano else ""
        )
        emit(
            rows_ne,
            {"ne": "electron-hole pairs", "rate": "1/(kg yr)", "mass": "MeV", "sigma": "cm2"},
            as_json=as_json,
            as_csv=as_csv,
            meta=meta,
            ctx=ctx,
            title="Electron-recoil rates per number of electron-hole pairs n_e "
            "(n_e = 0: below the gap, unseen)",
            settings=[
                *settings,
                ("ionization", model, "ionization"),
                ("n_e bins", f"0…{n_max}", "n_max"),
            ],
        )
        return
    r = electron.dr_de(table, mass * u.MeV, s * u.cm**2, **kw).to_value(electron.RATE_UNIT)
    rows = [
        {"energy_eV": float(a), "dRdE_per_eV_kg_yr": float(b)}
        for a, b in zip(table.energy_eV, r, strict=True)
    ]
    if unc_table is not None:
        du = electron.dr_de(unc_table, mass * u.MeV, s * u.cm**2, **kw).to_value(electron.RATE_UNIT)
        for row, d in zip(rows, du, strict=True):
            row["dRdE_unc_per_eV_kg_yr"] = float(d)
    emit(
        rows,
        {"energy": "eV", "dRdE": "1/(eV kg yr)", "mass": "MeV", "sigma": "cm2"},
        as_json=as_json,
        as_csv=as_csv,
        meta=meta,
        ctx=ctx,
        title="Electron-recoil spectrum dR/dE on the table's energy bins",
        settings=settings,
    )


_E_OPTS = ("e_min", "e_max", "n_energies")

from acie.cli import dm_advise, dm_channels, dm_exciton, dm_formfactor, dm_plot, dm_reach  # noqa: E402  (other modules)

dm_reach.register(app)
dm_plot.register(app)
dm_formfactor.register(app)
dm_exciton.register(app)
dm_advise.register(app)
dm_channels.register(app)
