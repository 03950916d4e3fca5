"""`acie dm` nuclear side channels: spin-dependent and Migdal spectra, directional rates, daily rotation.

``acie dm rate --channel nuclear-sd --coupling proton|neutron`` and ``--channel migdal`` are
dispatched here from :func:`acie.cli.dm.rate`; ``acie dm directional`` prints d²R/dE dΩ
against the angle from the recoil axis −v̂_E, and ``acie dm daily`` the recoil axis in a
lab's sky (altitude, azimuth) through a sidereal day with the rate along a lab-fixed axis.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

import typer

from acie.cli.dm_options import CsvOpt, HaloOpt, JsonOpt, TargetOpt, check_range
from acie.cli.dm_output import COLUMNS, Setting, emit, halo_text

__all__ = ["RateChannel", "rate_extra", "register"]

COLUMNS.update(
    {
        "angle_deg": "angle from −v̂_E [deg]",
        "d2RdEdOmega_per_keV_kg_day_sr": "d²R/dEdΩ [1/(keV kg day sr)]",
        "hours": "time since start [h]",
        "time_utc": "time [UTC]",
        "axis_alt_deg": "recoil axis altitude [deg]",
        "axis_az_deg": "recoil axis azimuth [deg]",
    }
)


class RateChannel(StrEnum):
    """Channels of `acie dm rate`."""

    nuclear = "nuclear"
    electron = "electron"
    nuclear_sd = "nuclear-sd"
    migdal = "migdal"


class Coupling(StrEnum):
    """Spin-dependent coupling: proton-only or neutron-only."""

    proton = "proton"
    neutron = "neutron"


CouplingOpt = Annotated[
    Coupling, typer.Option(help="nuclear-sd: proton-only or neutron-only coupling.")
]
BandOpt = Annotated[
    str,
    typer.Option(help="nuclear-sd: structure function central, down or up (two-body band)."),
]
EnergyOpt = Annotated[
    list[float] | None, typer.Option("--energy", help="Recoil energy, keV (repeatable).")
]
TimeOpt = Annotated[str, typer.Option(help="UTC time (ISO), fixes the Earth's velocity.")]
_DEFAULT_E = {"nuclear-sd": (1.0, 60.0), "migdal": (0.1, 3.0)}


def _time(text: str):
    from astropy.time import Time

    from acie.errors import InputValidationError

    try:
        return Time(text, scale="utc")
    except ValueError:
        raise InputValidationError(
            f"--time must be an ISO UTC time (2025-03-01T00:00:00); got {text!r}"
        ) from None


def rate_extra(
    ctx: typer.Context,
    channel: RateChannel,
    *,
    mass: float,
    sigma: float,
    target: str,
    coupling: Coupling,
    band: str,
    e_min: float,
    e_max: float,
    n_energies: int,
    halo_name: str,
    as_json: bool,
    as_csv: bool,
) -> None:
    """`acie dm rate` for the nuclear-sd and migdal channels (energies in keV, mass in GeV)."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter.halo_parameters import resolve_halo
    from acie.darkmatter.nuclear import DRU

    h = resolve_halo(halo_name)
    lo, hi = _DEFAULT_E[str(channel)]

    def given(name: str) -> bool:  # by name: typer vendors its own click's ParameterSource
        src = ctx.get_parameter_source(name)
        return src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")

    e_min = e_min if given("e_min") else lo
    e_max = e_max if given("e_max") else hi
    check_range(e_min, e_max, n_energies, ("--e-min", "--e-max", "--n-energies"))
    e = np.linspace(e_min, e_max, n_energies) * u.keV
    settings: list[Setting] = [
        ("channel", str(channel), "channel"),
        ("target", target, "target"),
        ("mass", f"{mass:g} GeV", "mass"),
    ]
    if channel is RateChannel.nuclear_sd:
        from acie.darkmatter.spin_dependent import dr_de_sd

        s = 1e-40 if math.isnan(sigma) else sigma
        r = dr_de_sd(
            e, mass * u.GeV, s * u.cm**2, target, coupling=str(coupling), band=band, halo=h
        )
        title = f"Spin-dependent ({coupling}-only) nuclear-recoil spectrum dR/dE_R"
        settings += [
            (f"σ_{coupling[0]} (q = 0)", f"{s:g} cm²", "sigma"),
            ("coupling", str(coupling), "coupling"),
            ("structure function", f"Klos et al. 2013, {band}", "band"),
        ]
        meta = {"coupling": str(coupling), "band": band}
    else:
        from acie.darkmatter.migdal import dr_de_migdal

        s = 1e-38 if math.isnan(sigma) else sigma
        r = dr_de_migdal(e, mass * u.GeV, s * u.cm**2, target, halo=h)
        title = "Migdal-effect spectrum dR/dE_er in electronic energy (nuclear recoil integrated)"
        settings += [
            ("σ_n (SI, per nucleon)", f"{s:g} cm²", "sigma"),
            ("probabilities", "Ibe, Nakano, Shoji & Suzuki 2018 (default shells)", None),
        ]
        meta = {}
    vals = r.to_value(DRU)
    rows = [
        {"energy_keV": float(a), "dRdE_per_keV_kg_day": float(b)}
        for a, b in zip(e.value, vals, strict=True)
    ]
    settings += [
        ("halo", halo_text(h), "halo_name"),
        (
            "energies",
            f"{e_min:g}–{e_max:g} keV, {n_energies} points",
            ("e_min", "e_max", "n_energies"),
        ),
    ]
    emit(
        rows,
        {"energy": "keV", "dRdE": "1/(keV kg day)", "mass": "GeV", "sigma": "cm2"},
        as_json=as_json,
        as_csv=as_csv,
        meta={
            "channel": str(channel),
            "target": target,
            "mass_GeV": mass,
            "sigma_cm2": s,
            "halo": h.name,
            **meta,
        },
        ctx=ctx,
        title=title,
        settings=settings,
    )


def directional(
    ctx: typer.Context,
    mass: Annotated[float, typer.Option(help="Dark-matter mass, GeV.")] = 100.0,
    sigma: Annotated[float, typer.Option(help="SI WIMP–nucleon cross-section, cm².")] = 1e-45,
    target: TargetOpt = "Xe",
    energy: EnergyOpt = None,
    n_angles: Annotated[int, typer.Option(help="Angles from 0 to 180 deg.")] = 19,
    time: TimeOpt = "2025-03-01T00:00:00",
    halo_name: HaloOpt = "baxter2021",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Directional rate d²R/dE dΩ against the angle between recoil and −v̂_E (away from Cygnus)."""
    import astropy.units as u
    import numpy as np

    from acie.darkmatter.directional import DRU_SR, d2r_de_domega, peak_recoil_direction
    from acie.darkmatter.halo_parameters import resolve_halo
    from acie.errors import InputValidationError

    if n_angles < 2:
        raise InputValidationError(f"--n-angles must be >= 2; got {n_angles}")
    es = np.asarray(energy or [5.0, 20.0, 50.0])
    if np.any(es < 0):
        raise InputValidationError(f"--energy must be >= 0 keV; got {es.min():g}")
    t = _time(time)
    h = resolve_halo(halo_name)
    axis = peak_recoil_direction(t, h)
    ax = np.asarray(axis.cartesian.xyz.value, float)
    perp = np.cross(ax, [0.0, 0.0, 1.0])
    perp /= np.linalg.norm(perp)
    gam = np.linspace(0.0, math.pi, n_angles)
    dirs = np.cos(gam)[:, None] * ax + np.sin(gam)[:, None] * perp
    d2 = d2r_de_domega(es * u.keV, mass * u.GeV, sigma * u.cm**2, dirs, t, target, halo=h)
    vals = d2.to_value(DRU_SR)
    rows = [
        {
            "angle_deg": float(np.degrees(g)),
            "energy_keV": float(e),
            "d2RdEdOmega_per_keV_kg_day_sr": float(vals[i, j]),
        }
        for i, g in enumerate(gam)
        for j, e in enumerate(es)
    ]
    emit(
        rows,
        {"angle": "deg", "energy": "keV", "d2RdEdOmega": "1/(keV kg day sr)"},
        as_json=as_json,
        as_csv=as_csv,
        meta={
            "target": target,
            "mass_GeV": mass,
            "sigma_cm2": sigma,
            "time": t.isot,
            "recoil_axis_l_deg": float(axis.l.deg),
            "recoil_axis_b_deg": float(axis.b.deg),
            "halo": h.name,
        },
        ctx=ctx,
        title="Directional SI rate d²R/dE dΩ (Radon transform of the SHM, Gondolo 2002)",
        settings=[
            ("target", target, "target"),
            ("mass", f"{mass:g} GeV", "mass"),
            ("σ_n (per nucleon)", f"{sigma:g} cm²", "sigma"),
            ("time", f"{t.isot} UTC", "time"),
            ("recoil axis −v̂_E", f"l = {axis.l.deg:.1f}°, b = {axis.b.deg:.1f}° (Galactic)", None),
            ("halo", halo_text(h), "halo_name"),
        ],
    )


def daily(
    ctx: typer.Context,
    lat: Annotated[float, typer.Option(help="Site latitude, deg (default LNGS).")] = 42.42,
    lon: Annotated[float, typer.Option(help="Site east longitude, deg.")] = 13.52,
    height: Annotated[float, typer.Option(help="Site height, m.")] = 963.0,
    start: TimeOpt = "2025-03-01T00:00:00",
    n_steps: Annotated[int, typer.Option(help="Times through one sidereal day.")] = 24,
    axis_alt: Annotated[float, typer.Option(help="Lab axis altitude, deg.")] = 0.0,
    axis_az: Annotated[float, typer.Option(help="Lab axis azimuth, deg (90 = east).")] = 90.0,
    energy: Annotated[float, typer.Option(help="Recoil energy, keV.")] = 20.0,
    mass: Annotated[float, typer.Option(help="Dark-matter mass, GeV.")] = 100.0,
    sigma: Annotated[float, typer.Option(help="SI WIMP–nucleon cross-section, cm².")] = 1e-45,
    target: TargetOpt = "Xe",
    halo_name: HaloOpt = "baxter2021",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Daily rotation of the recoil axis in the lab (AltAz) and the rate along a lab-fixed axis."""
    import astropy.units as u
    import numpy as np
    from astropy.coordinates import EarthLocation

    from acie.darkmatter.daily_rotation import (
        daily_modulation,
        recoil_direction_altaz,
        sidereal_day_times,
    )
    from acie.darkmatter.directional import DRU_SR
    from acie.darkmatter.halo_parameters import resolve_halo
    from acie.errors import InputValidationError

    if not (-90.0 <= lat <= 90.0):
        raise InputValidationError(f"--lat must be within [-90, 90] deg; got {lat:g}")
    if energy < 0:
        raise InputValidationError(f"--energy must be >= 0 keV; got {energy:g}")
    if n_steps < 2:
        raise InputValidationError(f"--n-steps must be >= 2; got {n_steps}")
    h = resolve_halo(halo_name)
    site = EarthLocation(lat=lat * u.deg, lon=lon * u.deg, height=height * u.m)
    times = sidereal_day_times(_time(start), n_steps)
    aa = recoil_direction_altaz(site, times, h)
    r = daily_modulation(
        np.array([energy]) * u.keV,
        mass * u.GeV,
        sigma * u.cm**2,
        site,
        times,
        axis_alt=axis_alt * u.deg,
        axis_az=axis_az * u.deg,
        target=target,
        halo=h,
    ).to_value(DRU_SR)[:, 0]
    hours = (times - times[0]).to_value(u.hour)
    rows = [
        {
            "time_utc": t.isot[:19],
            "hours": float(hh),
            "axis_alt_deg": float(a),
            "axis_az_deg": float(z),
            "d2RdEdOmega_per_keV_kg_day_sr": float(v),
        }
        for t, hh, a, z, v in zip(times, hours, aa.alt.deg, aa.az.deg, r, strict=True)
    ]
    emit(
        rows,
        {"hours": "h", "axis_alt": "deg", "axis_az": "deg", "d2RdEdOmega": "1/(keV kg day sr)"},
        as_json=as_json,
        as_csv=as_csv,
        meta={
            "site": {"lat_deg": lat, "lon_deg": lon, "height_m": height},
            "lab_axis": {"alt_deg": axis_alt, "az_deg": axis_az},
            "energy_keV": energy,
            "target": target,
            "mass_GeV": mass,
            "sigma_cm2": sigma,
            "halo": h.name,
        },
        ctx=ctx,
        title="Daily rotation: recoil axis −v̂_E in the lab and d²R/dEdΩ along a lab axis",
        settings=[
            ("site", f"{lat:g}° N, {lon:g}° E, {height:g} m", ("lat", "lon", "height")),
            ("lab axis", f"alt {axis_alt:g}°, az {axis_az:g}°", ("axis_alt", "axis_az")),
            (
                "times",
                f"{n_steps} through one sidereal day from {times[0].isot} UTC",
                ("start", "n_steps"),
            ),
            ("energy", f"{energy:g} keV", "energy"),
            ("target", target, "target"),
            ("mass", f"{mass:g} GeV", "mass"),
            ("σ_n (per nucleon)", f"{sigma:g} cm²", "sigma"),
            ("halo", halo_text(h), "halo_name"),
        ],
    )


def register(app: typer.Typer) -> None:
    """Attach ``directional`` and ``daily`` to ``app`` (the ``dm`` group)."""
    app.command("directional")(directional)
    app.command("daily")(daily)
