"""`acie dm modulation`: annual modulation of nuclear and electron rates, with a cosine fit."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from acie.cli.dm_options import (
    Channel,
    CsvOpt,
    FormFactorOpt,
    HaloOpt,
    JsonOpt,
    MediatorOpt,
    TargetOpt,
    load_table,
    mediator_text,
    parse_mediator,
    table_text,
)
from acie.cli.dm_output import Setting, emit, halo_text


def modulation(
    ctx: typer.Context,
    channel: Annotated[Channel, typer.Option(help="nuclear or electron.")] = Channel.nuclear,
    mass: Annotated[float, typer.Option(help="Mass: GeV (nuclear) or MeV (electron).")] = 60.0,
    sigma: Annotated[
        float, typer.Option(help="Cross-section, cm²; default 1e-45 / 1e-39.", show_default=False)
    ] = math.nan,
    target: TargetOpt = "Xe",
    formfactor: FormFactorOpt = None,
    energy: Annotated[
        list[float] | None, typer.Option(help="Nuclear recoil energies, keV (repeatable).")
    ] = None,
    mediator: MediatorOpt = "heavy",
    year: Annotated[int, typer.Option(help="Calendar year.")] = 2025,
    n_days: Annotated[int, typer.Option(help="Number of dates through the year.")] = 24,
    halo_name: HaloOpt = "baxter2021",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Annual modulation: rates through the year and a fit S0 + Sm cos(2π(t − t_peak)/yr).

    The peak day moves from early June to early December below the crossing energy (phase flip).
    """
    import astropy.units as u
    import numpy as np
    from astropy.time import Time

    from acie.darkmatter import electron, nuclear
    from acie.darkmatter.halo import earth_speed
    from acie.darkmatter.halo_parameters import resolve_halo
    from acie.errors import InputValidationError

    if n_days < 3:
        raise InputValidationError(
            f"--n-days must be >= 3 (a cosine fit needs 3 dates); got {n_days}"
        )
    h = resolve_halo(halo_name)
    med = parse_mediator(mediator)
    days = np.linspace(0, 365.25, n_days, endpoint=False)
    times = Time(f"{year}-01-01") + days * u.day
    rows = []
    settings: list[Setting] = [("channel", str(channel), "channel")]
    if channel is Channel.nuclear:
        s = 1e-45 if math.isnan(sigma) else sigma
        es = np.asarray(energy or [1.0, 5.0, 20.0, 40.0]) * u.keV
        r = nuclear.annual_modulation(
            es, mass * u.GeV, s * u.cm**2, target, times=times, halo=h
        ).to_value(nuclear.DRU)
        for i, t in enumerate(times):
            for j, e in enumerate(es.value):
                rows.append(
                    {
                        "date": t.iso[:10],
                        "energy_keV": float(e),
                        "dRdE_per_keV_kg_day": float(r[i, j]),
                    }
                )
        rate_unit = "1/(keV kg day)"
        s0, sm, t0 = nuclear.fit_annual_modulation(times, r)
        fit = [
            {"energy_keV": float(e), "S0": float(a), "Sm": float(b), "t_peak_day": float(c)}
            for e, a, b, c in zip(es.value, s0, sm, t0, strict=True)
        ]
        settings += [
            ("target", target, "target"),
            ("mass", f"{mass:g} GeV", "mass"),
            ("σ_n (per nucleon)", f"{s:g} cm²", "sigma"),
            ("energies", ", ".join(f"{e:g}" for e in es.value) + " keV", "energy"),
        ]
        unit = {"energy": "keV", "dRdE": rate_unit}
    else:
        table = load_table(formfactor)
        s = 1e-39 if math.isnan(sigma) else sigma
        speeds = earth_speed(times, h).to_value(u.km / u.s)
        for t, v in zip(times, speeds, strict=True):
            tot = electron.total_rate(
                table, mass * u.MeV, s * u.cm**2, halo=h, v_earth=v * u.km / u.s, mediator=med
            )
            rows.append(
                {"date": t.iso[:10], "v_earth_km_s": float(v), "rate_per_kg_yr": float(tot.value)}
            )
        rate_unit = "1/(kg yr)"
        s0, sm, t0 = nuclear.fit_annual_modulation(
            times, np.array([r["rate_per_kg_yr"] for r in rows])
        )
        fit = [{"S0": float(s0), "Sm": float(sm), "t_peak_day": float(t0)}]
        settings += [
            ("form factor", table_text(formfactor, table), "formfactor"),
            ("mass", f"{mass:g} MeV", "mass"),
            ("σ̄e", f"{s:g} cm²", "sigma"),
            ("mediator", mediator_text(med), "mediator"),
        ]
        unit = {"v_earth": "km/s", "rate": rate_unit}
    unit.update({"S0": rate_unit, "Sm": rate_unit, "t_peak": "day of year"})
    settings += [
        ("dates", f"{n_days} through {year}", ("n_days", "year")),
        ("halo", halo_text(h), "halo_name"),
    ]
    if not (as_json or as_csv):  # plain text: the fit, one row per energy
        emit(
            fit,
            unit,
            as_json=False,
            as_csv=False,
            ctx=ctx,
            title="Annual modulation fit R(t) = S0 + Sm cos(2π(t − t_peak)/yr)",
            settings=settings,
            header_units={"rate": rate_unit},
        )
        return
    emit(
        rows,
        unit,
        as_json=as_json,
        as_csv=as_csv,
        meta={"channel": str(channel), "halo": h.name, "fit": fit},
    )
