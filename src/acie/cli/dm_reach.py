"""`acie dm reach`: cross-section reach curves, with halo Monte Carlo bands.

``modulation`` lives in :mod:`acie.cli.dm_modulation`; both are
registered onto the ``acie dm`` group by :func:`register`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.cli.compute import SchedulerOpt, WorkersOpt
from acie.cli.dm_options import (
    Channel,
    CsvOpt,
    FormFactorOpt,
    HaloOpt,
    JsonOpt,
    MediatorOpt,
    Method,
    TargetOpt,
    WarnBeyondOpt,
    geomspace,
    load_table,
    mediator_text,
    parse_mediator,
    table_text,
    table_uncertainty,
    table_warnings,
)
from acie.cli.dm_output import Setting, emit, halo_text


def _reach_curve(channel: Channel, masses, *, halo, o: dict[str, Any]):
    import astropy.units as u

    from acie.darkmatter import reach as R

    if channel is Channel.nuclear:
        return R.nuclear_reach(
            masses * u.GeV,
            o["exposure"] * u.kg * u.yr,
            target=o["target"],
            e_min=o["e_min"] * u.keV,
            e_max=o["e_max"] * u.keV,
            n_obs=o["n_obs"],
            background=o["background"],
            cl=o["cl"],
            method=str(o["method"]),
            halo=halo,
        )
    return R.electron_reach(
        o["table"],
        masses * u.MeV,
        o["exposure"] * u.kg * u.yr,
        ne_threshold=o["threshold"],
        ne_bin=o["ne_bin"],
        efficiency=o["efficiency"],
        n_obs=o["n_obs"],
        background=o["background"],
        cl=o["cl"],
        method=str(o["method"]),
        mediator=o["mediator"],
        halo=halo,
        warn_beyond=o["warn_beyond"],
    )


def reach(
    ctx: typer.Context,
    channel: Annotated[Channel, typer.Option(help="nuclear or electron.")] = Channel.electron,
    formfactor: FormFactorOpt = None,
    target: TargetOpt = "Xe",
    exposure: Annotated[float, typer.Option(help="Exposure, kg yr.")] = 1.0,
    mass_min: Annotated[
        float,
        typer.Option(
            help="Lowest mass: MeV (electron, default 1) or GeV (nuclear, 5).", show_default=False
        ),
    ] = math.nan,
    mass_max: Annotated[
        float,
        typer.Option(
            help="Highest mass: MeV (electron) or GeV (nuclear); default 1000.", show_default=False
        ),
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
    mediator: MediatorOpt = "heavy",
    warn_beyond: WarnBeyondOpt = 0.05,
    halo_name: HaloOpt = "baxter2021",
    halo_mc: Annotated[
        int, typer.Option(help="Monte Carlo halo samples for 68/95 % bands (0: none).")
    ] = 0,
    v0_sigma: Annotated[float, typer.Option(help="MC: Gaussian width of v0, km/s.")] = 10.0,
    vesc_sigma: Annotated[float, typer.Option(help="MC: Gaussian width of vesc, km/s.")] = 30.0,
    rho_sigma: Annotated[float, typer.Option(help="MC: Gaussian width of rho, GeV/cm3.")] = 0.05,
    seed: Annotated[int, typer.Option(help="MC seed.")] = 0,
    budget: Annotated[
        int, typer.Option(help="Electron: systematic budget with this many MC draws (0: none).")
    ] = 0,
    budget_halo: Annotated[
        str,
        typer.Option(
            help="Budget: halo catalogue set (acie dm halos; shm+S1 adds the S1 stream). "
            "With --budget, --halo may name it instead."
        ),
    ] = "shmpp2019-round",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    plot: Annotated[
        Path | None, typer.Option(help="Also save a 300 dpi plot (.png or .pdf).")
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Cross-section upper limit (reach) against mass for a counting experiment."""
    import astropy.units as u
    from scipy import stats

    from acie.darkmatter.halo_parameters import resolve_halo

    electron = channel is Channel.electron
    table = load_table(formfactor) if electron else None
    lo = (1.0 if electron else 5.0) if math.isnan(mass_min) else mass_min
    hi = 1000.0 if math.isnan(mass_max) else mass_max
    masses = geomspace(lo, hi, n_masses, "mass range")
    o = dict(
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
        mediator=parse_mediator(mediator),
        warn_beyond=warn_beyond,
        e_min=e_min,
        e_max=e_max,
    )
    if budget:
        from acie.cli.dm_advise import budget_report
        from acie.errors import InputValidationError

        if table is None:
            raise InputValidationError("--budget needs --channel electron; got nuclear")
        u_t = table_uncertainty(formfactor, table)
        bh = _budget_halo(ctx, halo_name, budget_halo)
        budget_report(ctx, table=table, formfactor=formfactor, masses=masses, exposure=exposure, o=o, n_draws=budget, halo=bh, seed=seed, unc_table=u_t, plot=plot, as_json=as_json, as_csv=as_csv)  # fmt: skip
        return
    h = resolve_halo(halo_name)
    with table_warnings():
        curve = _reach_curve(channel, masses, halo=h, o=o)
    band = None
    if halo_mc:
        dists = {
            "v0": stats.norm(h.v0.value, v0_sigma),
            "vesc": stats.norm(h.vesc.value, vesc_sigma),
            "rho": stats.norm(h.rho.value, rho_sigma),
        }
        from acie.cli.compute import scan_executor
        from acie.darkmatter.halo_mc_scan import reach_scan
        from acie.darkmatter.uncertainty import band as make_band

        opts: dict[str, Any] = (
            dict(ne_threshold=threshold, ne_bin=ne_bin, efficiency=efficiency, table=table)
            if electron
            else dict(target=target, e_min=e_min * u.keV, e_max=e_max * u.keV)
        )
        if electron:
            opts["mediator"] = o["mediator"]
        with scan_executor(scheduler, workers, "halo draws") as ex:
            samples = reach_scan(
                str(channel),
                masses * (u.MeV if electron else u.GeV),
                exposure * u.kg * u.yr,
                dists,
                halo_mc,
                seed=seed,
                base=h,
                signal_limit=curve.signal_limit,
                map_tasks=ex,
                **opts,
            )
        band = make_band(samples)
    unc_table = table_uncertainty(formfactor, table) if electron else None
    f2_lo = f2_hi = None
    if unc_table is not None:
        from acie.darkmatter.reach import f2_uncertainty_range

        o_unc = {**o, "table": unc_table, "warn_beyond": None}
        f2_lo, f2_hi = f2_uncertainty_range(
            curve.cross_section, _reach_curve(channel, masses, halo=h, o=o_unc).cross_section
        )
    mass_unit = "MeV" if electron else "GeV"
    rows = []
    for i, (m, s) in enumerate(zip(masses, curve.cross_section.to_value(u.cm**2), strict=True)):
        row: dict[str, Any] = {f"mass_{mass_unit}": float(m), "sigma_limit_cm2": float(s)}
        if band is not None:
            for key in ("median", "lo68", "hi68", "lo95", "hi95"):
                row[f"sigma_{key}_cm2"] = float(getattr(band, key)[i].to_value(u.cm**2))
        if f2_lo is not None and f2_hi is not None:
            row["sigma_f2_lo_cm2"], row["sigma_f2_hi_cm2"] = float(f2_lo[i]), float(f2_hi[i])
        if electron and curve.settings.get("beyond_table_fraction") is not None:
            row["beyond_table_fraction"] = float(curve.settings["beyond_table_fraction"][i])
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
    from acie.darkmatter.reach import median_background_outcome

    n_used = median_background_outcome(background) if n_obs is None else n_obs
    settings: list[Setting] = [
        ("channel", str(channel), "channel"),
        (
            ("form factor", table_text(formfactor, table), "formfactor")
            if electron
            else ("target", target, "target")
        ),
        ("exposure", f"{exposure:g} kg yr", "exposure"),
        ("masses", f"{lo:g}–{hi:g} {mass_unit}, {n_masses} log-spaced", _MASS_OPTS),
    ]
    if electron:
        settings += [
            (
                ("counted", f"n_e = {ne_bin} only", "ne_bin")
                if ne_bin is not None
                else ("threshold", f"n_e ≥ {threshold}", "threshold")
            ),
            ("efficiency", f"{efficiency:g}", "efficiency"),
            ("mediator", mediator_text(o["mediator"]), "mediator"),
        ]
    else:
        settings.append(("energy window", f"{e_min:g}–{e_max:g} keV", ("e_min", "e_max")))
    settings += [
        ("background", f"{background:g} events", "background"),
        (
            "observed",
            f"{n_used} events" + (" (median if background only)" * (n_obs is None)),
            "n_obs",
        ),
        ("limit", f"{method}, {cl:g} CL: ≤ {curve.signal_limit:.4g} signal events", _LIMIT_OPTS),
        ("halo", halo_text(h), "halo_name"),
    ]
    if halo_mc:
        settings.append(
            (
                "halo Monte Carlo",
                f"{halo_mc} samples, seed {seed}; σ(v0) = {v0_sigma:g} km/s, σ(vesc) = "
                f"{vesc_sigma:g} km/s, σ(ρ) = {rho_sigma:g} GeV/cm³; v_E follows each v0; "
                "draws in seeded tasks of ≤ 1000 (docs/scaling.md)",
                None,
            )
        )
    emit(
        rows,
        {"mass": mass_unit, "sigma": "cm2", "exposure": "kg yr"},
        as_json=as_json,
        as_csv=as_csv,
        meta=meta,
        ctx=ctx,
        title=f"{'σ̄e' if electron else 'σ_n (SI, per nucleon)'} upper limit (reach) per mass",
        settings=settings,
    )


def _budget_halo(ctx: typer.Context, halo_name: str, budget_halo: str) -> str:
    """The budget's catalogue set: ``--budget-halo``, or ``--halo`` when that is given.

    Raises
    ------
    InputValidationError
        If both are given and differ, or ``--halo`` is not a catalogue set.
    """
    from acie.darkmatter.halo_catalogue import catalogue_names
    from acie.errors import InputValidationError, expected_got

    def given(name: str) -> bool:  # by name: typer vendors its own click's ParameterSource
        src = ctx.get_parameter_source(name)
        return src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")

    if not given("halo_name"):
        return budget_halo
    if given("budget_halo") and budget_halo != halo_name:
        raise InputValidationError(
            expected_got(
                "--halo and --budget-halo with --budget", "one set", (halo_name, budget_halo)
            )
        )
    if halo_name not in catalogue_names():
        raise InputValidationError(
            expected_got(
                "--halo with --budget", f"a catalogue set, one of {catalogue_names()}", halo_name
            )
        )
    return halo_name


_MASS_OPTS = ("mass_min", "mass_max", "n_masses")
_LIMIT_OPTS = ("method", "cl")


def register(app: typer.Typer) -> None:
    """Attach ``reach`` and ``modulation`` to ``app`` (the ``dm`` group)."""
    from acie.cli.dm_modulation import modulation

    app.command()(reach)
    app.command()(modulation)
