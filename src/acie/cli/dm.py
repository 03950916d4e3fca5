"""`acie dm`: Dark-matter detection physics: rates, reach curves, modulation, form factors, plots.

Commands import the physics lazily so ``acie --help`` stays fast. Machine output
(``--json`` / ``--csv``) carries units: in a ``units`` object (JSON) or in the column
names (CSV, e.g. ``energy_keV``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Dark-matter detection physics: rates, reach curves, modulation, form factors, plots.",
    no_args_is_help=True,
)


class Channel(StrEnum):
    nuclear = "nuclear"
    electron = "electron"


class Mediator(StrEnum):
    heavy = "heavy"
    light = "light"


class Method(StrEnum):
    poisson = "poisson"
    fc = "fc"
    cls = "cls"


class Ionization(StrEnum):
    step = "step"
    fano = "fano"


class PlotKind(StrEnum):
    spectrum = "spectrum"
    ne = "ne"
    eta = "eta"
    reach = "reach"
    formfactor = "formfactor"
    materials = "materials"


HaloOpt = Annotated[
    str, typer.Option("--halo", help="Parameter set name (see `acie dm halo`) or a .json file.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (with a units object).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV (units in the column names).")]
FormFactorOpt = Annotated[
    Path | None,
    typer.Option(
        "--formfactor",
        "-f",
        exists=True,
        dir_okay=False,
        help="Form-factor HDF5 (QCDark or ACIE format); electron channel.",
    ),
]
TargetOpt = Annotated[
    str, typer.Option("--target", "-t", help="Nuclear target: Xe, Ar, Ge, Si, Na, I, Cs, NaI, CsI.")
]


def _emit(
    rows: list[dict[str, Any]],
    units: dict[str, str],
    *,
    as_json: bool,
    as_csv: bool,
    meta: dict[str, Any] | None = None,
) -> None:
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
    from rich.table import Table

    table = Table(*[f"{c}" for c in cols], title=(meta or {}).get("title"))
    for r in rows:
        table.add_row(*[f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    Console().print(table)


def _table(path: Path | None):
    from acie.darkmatter.formfactor.io import read_formfactor
    from acie.errors import InputValidationError

    if path is None:
        raise InputValidationError(
            "the electron channel needs --formfactor FILE (QCDark or ACIE HDF5)"
        )
    return read_formfactor(path)


def _geomspace(lo: float, hi: float, n: int, what: str):
    import numpy as np

    from acie.errors import NonPhysicalValueError, expected_got

    if not (lo > 0 and hi >= lo and n >= 1):
        raise NonPhysicalValueError(expected_got(what, "0 < min <= max and n >= 1", (lo, hi, n)))
    return np.geomspace(lo, hi, n)


@app.command()
def halo(
    name: Annotated[
        str | None, typer.Argument(help="A parameter-set name or .json file; omit to list all.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the halo parameter sets, or show one with units and citation."""
    from acie.darkmatter.halo import available_halo_parameters, get_halo_parameters, resolve_halo

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
        _emit(
            rows,
            {"v0": "km/s", "vesc": "km/s", "rho": "GeV/cm3", "v_earth": "km/s"},
            as_json=True,
            as_csv=False,
        )
        return
    for r in rows:
        typer.echo(
            f"{r['name']} (v{r['version']}, {r['model']}): v0 = {r['v0_km_s']:g} km/s, "
            f"vesc = {r['vesc_km_s']:g} km/s, rho = {r['rho_GeV_cm3']:g} GeV/cm3, "
            f"v_E = {r['v_earth_km_s']:g} km/s"
            + (
                f", beta = {r['beta']:g}, eta = {r['sausage_fraction']:g}"
                if r["model"] == "shm++"
                else ""
            )
        )
        typer.echo(f"    {r['citation']}")


@app.command()
def eta(
    vmin_max: Annotated[float, typer.Option(help="Largest v_min, km/s.")] = 800.0,
    n: Annotated[int, typer.Option(help="Number of points.")] = 41,
    halo_name: HaloOpt = "baxter2021",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Mean inverse speed η(v_min) of the chosen halo model, s/km."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter.halo import eta as eta_fn
    from acie.darkmatter.halo import resolve_halo

    h = resolve_halo(halo_name)
    v = np.linspace(0.0, vmin_max, n) * u.km / u.s
    e = eta_fn(v, h).to_value(u.s / u.km)
    rows = [{"vmin_km_s": float(a), "eta_s_km": float(b)} for a, b in zip(v.value, e, strict=True)]
    _emit(
        rows, {"vmin": "km/s", "eta": "s/km"}, as_json=as_json, as_csv=as_csv, meta={"halo": h.name}
    )


@app.command()
def rate(
    channel: Annotated[
        Channel, typer.Option(help="nuclear (WIMP SI) or electron (crystal).")
    ] = Channel.nuclear,
    mass: Annotated[
        float, typer.Option(help="Dark-matter mass: GeV (nuclear) or MeV (electron).")
    ] = 50.0,
    sigma: Annotated[
        float, typer.Option(help="Cross-section, cm² (σ_n or σ̄e); default 1e-45 / 1e-39.")
    ] = math.nan,
    target: TargetOpt = "Xe",
    formfactor: FormFactorOpt = None,
    mediator: Annotated[Mediator, typer.Option(help="Electron channel mediator.")] = Mediator.heavy,
    e_min: Annotated[float, typer.Option(help="Nuclear: lowest recoil energy, keV.")] = 1.0,
    e_max: Annotated[float, typer.Option(help="Nuclear: highest recoil energy, keV.")] = 60.0,
    n_energies: Annotated[int, typer.Option(help="Nuclear: number of energies.")] = 60,
    per_ne: Annotated[
        bool, typer.Option("--per-ne", help="Electron: rates per number of e-h pairs.")
    ] = False,
    n_max: Annotated[int, typer.Option(help="Electron --per-ne: largest n_e.")] = 10,
    ionization: Annotated[
        Ionization, typer.Option(help="Electron --per-ne: ionization model.")
    ] = Ionization.step,
    screening: Annotated[
        bool, typer.Option("--screening", help="Electron: Thomas–Fermi screening.")
    ] = False,
    halo_name: HaloOpt = "baxter2021",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Differential rate dR/dE (nuclear: per keV kg day; electron: per eV kg yr) or rates per n_e."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter import electron, nuclear
    from acie.darkmatter.halo import resolve_halo

    h = resolve_halo(halo_name)
    if channel is Channel.nuclear:
        s = 1e-45 if math.isnan(sigma) else sigma
        e = np.linspace(e_min, e_max, n_energies) * u.keV
        r = nuclear.dr_de(e, mass * u.GeV, s * u.cm**2, target, halo=h).to_value(nuclear.DRU)
        rows = [
            {"energy_keV": float(a), "dRdE_per_keV_kg_day": float(b)}
            for a, b in zip(e.value, r, strict=True)
        ]
        _emit(
            rows,
            {"energy": "keV", "dRdE": "1/(keV kg day)", "mass": "GeV", "sigma": "cm2"},
            as_json=as_json,
            as_csv=as_csv,
            meta={"target": target, "mass_GeV": mass, "sigma_cm2": s, "halo": h.name},
        )
        return
    table = _table(formfactor)
    s = 1e-39 if math.isnan(sigma) else sigma
    meta = {
        "material": table.material,
        "mass_MeV": mass,
        "sigma_cm2": s,
        "mediator": str(mediator),
        "halo": h.name,
    }
    if per_ne:
        r = electron.rate_per_ne(
            table,
            mass * u.MeV,
            s * u.cm**2,
            n_max=n_max,
            ionization=str(ionization),
            mediator=str(mediator),
            halo=h,
            screening=screening,
        ).to_value(1 / (u.kg * u.yr))
        rows = [{"ne": int(k), "rate_per_kg_yr": float(v)} for k, v in enumerate(r)]
        _emit(
            rows,
            {"ne": "electron-hole pairs", "rate": "1/(kg yr)"},
            as_json=as_json,
            as_csv=as_csv,
            meta=meta,
        )
        return
    r = electron.dr_de(
        table, mass * u.MeV, s * u.cm**2, mediator=str(mediator), halo=h, screening=screening
    ).to_value(electron.RATE_UNIT)
    rows = [
        {"energy_eV": float(a), "dRdE_per_eV_kg_yr": float(b)}
        for a, b in zip(table.energy_eV, r, strict=True)
    ]
    _emit(rows, {"energy": "eV", "dRdE": "1/(eV kg yr)"}, as_json=as_json, as_csv=as_csv, meta=meta)


def _reach_curve(
    channel: Channel,
    masses,
    *,
    table,
    target,
    exposure,
    threshold,
    ne_bin,
    efficiency,
    n_obs,
    background,
    cl,
    method,
    mediator,
    halo,
    e_min,
    e_max,
):
    import astropy.units as u

    from acie.darkmatter import reach as R

    if channel is Channel.nuclear:
        return R.nuclear_reach(
            masses * u.GeV,
            exposure * u.kg * u.yr,
            target=target,
            e_min=e_min * u.keV,
            e_max=e_max * u.keV,
            n_obs=n_obs,
            background=background,
            cl=cl,
            method=str(method),
            halo=halo,
        )
    return R.electron_reach(
        table,
        masses * u.MeV,
        exposure * u.kg * u.yr,
        ne_threshold=threshold,
        ne_bin=ne_bin,
        efficiency=efficiency,
        n_obs=n_obs,
        background=background,
        cl=cl,
        method=str(method),
        mediator=str(mediator),
        halo=halo,
    )


@app.command()
def reach(
    channel: Annotated[Channel, typer.Option(help="nuclear or electron.")] = Channel.electron,
    formfactor: FormFactorOpt = None,
    target: TargetOpt = "Xe",
    exposure: Annotated[float, typer.Option(help="Exposure, kg yr.")] = 1.0,
    mass_min: Annotated[
        float, typer.Option(help="Lowest mass: MeV (electron) or GeV (nuclear).")
    ] = math.nan,
    mass_max: Annotated[
        float, typer.Option(help="Highest mass: MeV (electron) or GeV (nuclear).")
    ] = math.nan,
    n_masses: Annotated[int, typer.Option(help="Number of log-spaced masses.")] = 30,
    threshold: Annotated[int, typer.Option(help="Electron: count n_e >= threshold.")] = 1,
    ne_bin: Annotated[int | None, typer.Option(help="Electron: count only this n_e bin.")] = None,
    efficiency: Annotated[float, typer.Option(help="Electron: overall signal efficiency.")] = 1.0,
    e_min: Annotated[float, typer.Option(help="Nuclear: window start, keV.")] = 1.0,
    e_max: Annotated[float, typer.Option(help="Nuclear: window end, keV.")] = 60.0,
    n_obs: Annotated[
        int | None, typer.Option(help="Observed events (default: median background-only outcome).")
    ] = None,
    background: Annotated[float, typer.Option(help="Known expected background, events.")] = 0.0,
    cl: Annotated[float, typer.Option(help="Confidence level.")] = 0.9,
    method: Annotated[
        Method, typer.Option(help="poisson (background-free), fc (Feldman–Cousins), cls.")
    ] = Method.poisson,
    mediator: Annotated[Mediator, typer.Option(help="Electron channel mediator.")] = Mediator.heavy,
    halo_name: HaloOpt = "baxter2021",
    halo_mc: Annotated[
        int, typer.Option(help="Monte Carlo halo samples for 68/95 % bands (0: none).")
    ] = 0,
    v0_sigma: Annotated[float, typer.Option(help="MC: Gaussian width of v0, km/s.")] = 10.0,
    vesc_sigma: Annotated[float, typer.Option(help="MC: Gaussian width of vesc, km/s.")] = 30.0,
    rho_sigma: Annotated[float, typer.Option(help="MC: Gaussian width of rho, GeV/cm3.")] = 0.05,
    seed: Annotated[int, typer.Option(help="MC seed.")] = 0,
    plot: Annotated[
        Path | None, typer.Option(help="Also save a 300 dpi plot (.png or .pdf).")
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Cross-section upper limit (reach) against mass for a counting experiment."""
    import astropy.units as u
    from scipy import stats

    from acie.darkmatter.halo import resolve_halo

    h = resolve_halo(halo_name)
    table = _table(formfactor) if channel is Channel.electron else None
    lo = (1.0 if channel is Channel.electron else 5.0) if math.isnan(mass_min) else mass_min
    hi = (1000.0 if channel is Channel.electron else 1000.0) if math.isnan(mass_max) else mass_max
    masses = _geomspace(lo, hi, n_masses, "mass range")
    kw = dict(
        table=table,
        target=target,
        exposure=exposure,
        threshold=threshold,
        ne_bin=ne_bin,
        efficiency=efficiency,
        n_obs=n_obs,
        background=background,
        cl=cl,
        method=method,
        mediator=mediator,
        e_min=e_min,
        e_max=e_max,
    )
    curve = _reach_curve(channel, masses, halo=h, **kw)
    band = None
    if halo_mc:
        from acie.darkmatter.uncertainty import propagate, sample_halos

        dists = {
            "v0": stats.norm(h.v0.value, v0_sigma),
            "vesc": stats.norm(h.vesc.value, vesc_sigma),
            "rho": stats.norm(h.rho.value, rho_sigma),
        }
        halos = sample_halos(h, dists, halo_mc, seed=seed)
        band = propagate(
            lambda x: _reach_curve(channel, masses, halo=x, **kw).cross_section,
            halos,
            progress=True,
        )
    mass_unit = "MeV" if channel is Channel.electron else "GeV"
    rows = []
    for i, (m, s) in enumerate(zip(masses, curve.cross_section.to_value(u.cm**2), strict=True)):
        row: dict[str, Any] = {f"mass_{mass_unit}": float(m), "sigma_limit_cm2": float(s)}
        if band is not None:
            for key in ("median", "lo68", "hi68", "lo95", "hi95"):
                row[f"sigma_{key}_cm2"] = float(getattr(band, key)[i].to_value(u.cm**2))
        rows.append(row)
    meta = {
        "channel": str(channel),
        "method": str(method),
        "cl": cl,
        "signal_limit_events": curve.signal_limit,
        "settings": curve.settings,
        "halo": h.name,
    }
    if plot is not None:
        from acie.darkmatter.plots import plot_reach, save_figure

        save_figure(
            plot_reach(
                [curve],
                bands={0: band} if band is not None else None,
                title=f"{curve.settings.get('material', target)}, {exposure:g} kg yr",
            ),
            plot,
        )
    _emit(
        rows,
        {"mass": mass_unit, "sigma": "cm2", "exposure": "kg yr"},
        as_json=as_json,
        as_csv=as_csv,
        meta=meta,
    )


@app.command()
def modulation(
    channel: Annotated[Channel, typer.Option(help="nuclear or electron.")] = Channel.nuclear,
    mass: Annotated[float, typer.Option(help="Mass: GeV (nuclear) or MeV (electron).")] = 60.0,
    sigma: Annotated[
        float, typer.Option(help="Cross-section, cm²; default 1e-45 / 1e-39.")
    ] = math.nan,
    target: TargetOpt = "Xe",
    formfactor: FormFactorOpt = None,
    energy: Annotated[
        list[float] | None, typer.Option(help="Nuclear recoil energies, keV (repeatable).")
    ] = None,
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
    from acie.darkmatter.halo import earth_speed, resolve_halo

    h = resolve_halo(halo_name)
    days = np.linspace(0, 365.25, n_days, endpoint=False)
    times = Time(f"{year}-01-01") + days * u.day
    rows = []
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
        unit = {
            "energy": "keV",
            "dRdE": "1/(keV kg day)",
            "S0": "1/(keV kg day)",
            "Sm": "1/(keV kg day)",
            "t_peak": "day of year",
        }
        s0, sm, t0 = nuclear.fit_annual_modulation(times, r)
        fit = [
            {"energy_keV": float(e), "S0": float(a), "Sm": float(b), "t_peak_day": float(c)}
            for e, a, b, c in zip(es.value, s0, sm, t0, strict=True)
        ]
    else:
        table = _table(formfactor)
        s = 1e-39 if math.isnan(sigma) else sigma
        speeds = earth_speed(times, h).to_value(u.km / u.s)
        for t, v in zip(times, speeds, strict=True):
            tot = electron.total_rate(
                table, mass * u.MeV, s * u.cm**2, halo=h, v_earth=v * u.km / u.s
            )
            rows.append(
                {"date": t.iso[:10], "v_earth_km_s": float(v), "rate_per_kg_yr": float(tot.value)}
            )
        unit = {
            "v_earth": "km/s",
            "rate": "1/(kg yr)",
            "S0": "1/(kg yr)",
            "Sm": "1/(kg yr)",
            "t_peak": "day of year",
        }
        s0, sm, t0 = nuclear.fit_annual_modulation(
            times, np.array([r["rate_per_kg_yr"] for r in rows])
        )
        fit = [{"S0": float(s0), "Sm": float(sm), "t_peak_day": float(t0)}]
    if not (as_json or as_csv):
        for f in fit:
            typer.echo(
                "fit R(t) = S0 + Sm cos(2π(t - t_peak)/yr): "
                + ", ".join(f"{k} = {v:.5g}" for k, v in f.items())
            )
        return
    _emit(
        rows,
        unit,
        as_json=as_json,
        as_csv=as_csv,
        meta={"channel": str(channel), "halo": h.name, "fit": fit},
    )


@app.command("plot")
def plot_cmd(
    kind: Annotated[
        PlotKind, typer.Argument(help="spectrum, ne, eta, reach, formfactor or materials.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.png or .pdf), 300 dpi.")],
    formfactor: Annotated[
        list[Path] | None,
        typer.Option(
            "--formfactor",
            "-f",
            exists=True,
            dir_okay=False,
            help="Form-factor file(s); several for 'materials'.",
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
    from acie.darkmatter.formfactor.io import read_formfactor
    from acie.darkmatter.halo import available_halo_parameters, eta, resolve_halo

    h = resolve_halo(halo_name)
    files = list(formfactor or [])
    tables = [read_formfactor(f) for f in files]
    sig_e = 1e-39 * u.cm**2
    if kind is PlotKind.eta:
        v = np.linspace(0, 800, 200) * u.km / u.s
        fig = P.plot_eta(v, {name: eta(v, name) for name in available_halo_parameters()})
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

            raise InputValidationError(f"plot {kind} needs --formfactor FILE")
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


from acie.cli import dm_formfactor  # noqa: E402  (commands of the form-factor part)

dm_formfactor.register(app)
