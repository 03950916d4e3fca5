"""`acie dm formfactor|materials|select|…`: ab-initio form factors and the materials library.

Registered onto the ``acie dm`` group by :func:`register`.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _kmesh(text: str) -> tuple[int, int, int]:
    from acie.errors import InputValidationError, expected_got

    parts = text.lower().replace(",", "x").split("x")
    try:
        km = tuple(int(p) for p in parts)
    except ValueError:
        raise InputValidationError(expected_got("--kmesh", "'NxNxN' (e.g. 3x3x3)", text)) from None
    if len(km) == 1:
        km = km * 3
    if len(km) != 3:
        raise InputValidationError(expected_got("--kmesh", "'NxNxN' (e.g. 3x3x3)", text))
    return km  # type: ignore[return-value]


def formfactor(
    material: str = typer.Argument(..., help="Material name (Si, Ge, GaAs, NaI, CsI)."),
    kmesh: str = typer.Option("3x3x3", help="Γ-centred k-mesh, NxNxN."),
    basis: str = typer.Option("gth-dzvp-molopt-sr", help="PySCF basis set."),
    pseudo: str = typer.Option("gth-pbe", help="GTH pseudopotential, or 'none' for all-electron."),
    xc: str = typer.Option("pbe", help="Exchange–correlation functional."),
    n_valence: int = typer.Option(
        0, "--valence-bands", help="Highest valence bands kept (0 = all)."
    ),
    n_conduction: int = typer.Option(
        0, "--conduction-bands", help="Lowest conduction bands kept (0 = all)."
    ),
    dq: float = typer.Option(0.02, help="q bin width in α mₑ (= bohr⁻¹)."),
    n_q: int = typer.Option(300, help="Number of q bins from 0."),
    de: float = typer.Option(0.1, "--de", help="Energy bin width, eV."),
    n_e: int = typer.Option(500, "--ne", help="Number of energy bins from 0."),
    scissor: bool = typer.Option(True, help="Scissor-shift the gap to the experimental value."),
    ke_cutoff: float = typer.Option(
        0.0, help="DFT plane-wave cutoff, hartree (0 = PySCF default)."
    ),
    density_fit: bool = typer.Option(False, help="Gaussian density fitting (all-electron bases)."),
    pairs_per_block: int = typer.Option(8, help="k-pairs per checkpoint block."),
    workers: int = typer.Option(1, help="Worker processes over k-pair blocks."),
    workdir: Path = typer.Option(
        None, help="Checkpoint folder (default: OUTPUT + '.work'); reused to resume."
    ),
    resume: bool = typer.Option(True, help="Resume from the checkpoint folder if it exists."),
    output: Path = typer.Option(None, "--output", "-o", help="Output HDF5 (default: MATERIAL.h5)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    json_out: bool = typer.Option(
        False, "--json", help="Print a JSON summary (times in s, energies in eV)."
    ),
) -> None:
    """Compute |f_crystal(q,E)|² for MATERIAL with periodic DFT (PySCF) and write ACIE HDF5."""
    import shutil

    from acie.darkmatter.formfactor import FormFactorSettings
    from acie.darkmatter.formfactor.io import write_acie
    from acie.darkmatter.formfactor.runner import compute_form_factor
    from acie.darkmatter.materials import get_material

    mat = get_material(material)
    settings = FormFactorSettings(
        kmesh=_kmesh(kmesh),
        basis=basis,
        pseudo=None if pseudo.lower() == "none" else pseudo,
        xc=xc,
        n_valence=n_valence or None,
        n_conduction=n_conduction or None,
        dq=dq,
        n_q=n_q,
        dE=de,
        n_E=n_e,
        scissor=scissor,
        ke_cutoff=ke_cutoff or None,
        density_fit=density_fit,
        pairs_per_block=pairs_per_block,
    )
    output = output or Path(f"{mat.name}.h5")
    workdir = workdir or output.with_name(output.name + ".work")
    if not resume and workdir.exists():
        shutil.rmtree(workdir)
    table = compute_form_factor(
        mat, settings, workdir=workdir, n_workers=workers, progress=progress
    )
    write_acie(table, output)
    shutil.rmtree(workdir, ignore_errors=True)
    summary = {
        "material": mat.name,
        "output": str(output),
        "shape": list(table.shape),
        "dft_gap_eV": table.metadata["settings"]["dft_gap_eV"],
        "band_gap_eV": table.band_gap_eV,
        "timings_s": table.metadata["timings"],
    }
    typer.echo(
        json.dumps(summary, indent=2)
        if json_out
        else f"wrote {output} ({mat.name}, f2 {table.shape[0]}x{table.shape[1]}, "
        f"DFT gap {summary['dft_gap_eV']:.3f} eV -> {table.band_gap_eV:.3f} eV)"
    )


def materials(
    name: str = typer.Argument(None, help="Show one material (default: list all)."),
    json_out: bool = typer.Option(False, "--json", help="JSON output (Å, g/cm³, eV)."),
) -> None:
    """List the materials library or show one material with its references."""
    from acie.darkmatter.materials import get_material, list_materials

    names = [name] if name else list_materials()
    rows = []
    for n in names:
        m = get_material(n)
        rows.append(
            {
                "name": m.name,
                "formula": m.formula,
                "structure": m.structure,
                "lattice_constant_A": m.lattice_constant,
                "density_g_cm3": m.density,
                "band_gap_eV": m.band_gap,
                "pair_energy_eV": m.pair_energy,
                "fano": m.fano,
                "estimates": sorted(m.estimates),
                "references": dict(m.references) if name else None,
            }
        )
    if json_out:
        typer.echo(json.dumps(rows if not name else rows[0], indent=2))
        return
    if not name:
        typer.echo(
            f"{'name':6} {'structure':16} {'a [Å]':>7} {'ρ [g/cm³]':>10} {'gap [eV]':>9} "
            f"{'ε [eV]':>7} {'Fano':>6}"
        )
        for r in rows:
            typer.echo(
                f"{r['name']:6} {r['structure']:16} {r['lattice_constant_A']:7.4f} "
                f"{r['density_g_cm3']:10.3f} {r['band_gap_eV']:9.2f} {r['pair_energy_eV']:7.3f} "
                f"{r['fano']:6.3f}{'  *' if r['estimates'] else ''}"
            )
        typer.echo("* contains estimates; see `acie dm materials NAME`")
        return
    r = rows[0]
    for key in (
        "name",
        "formula",
        "structure",
        "lattice_constant_A",
        "density_g_cm3",
        "band_gap_eV",
        "pair_energy_eV",
        "fano",
    ):
        typer.echo(f"{key:20} {r[key]}")
    typer.echo("references:")
    for key, ref in r["references"].items():
        typer.echo(f"  {key}: {ref}")
    if r["estimates"]:
        typer.echo(f"estimates (not measurements): {', '.join(r['estimates'])}")


def _table(spec: str):
    """A table from a file path, or the shipped table of a material name."""
    from acie.darkmatter.formfactor.io import read_formfactor
    from acie.darkmatter.formfactor.shipped import shipped_table

    p = Path(spec)
    return read_formfactor(p) if p.suffix in (".h5", ".hdf5") or p.exists() else shipped_table(spec)


def _masses(text: str):
    import astropy.units as u
    import numpy as np

    from acie.errors import InputValidationError, expected_got

    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputValidationError(
            expected_got("--masses", "comma-separated MeV values or 'lo:hi:n'", text)
        ) from None
    return np.asarray(vals) * u.MeV


def _mass_grid(text: str):
    import astropy.units as u
    import numpy as np

    if ":" in text:
        lo, hi, n = text.split(":")
        return np.geomspace(float(lo), float(hi), int(n)) * u.MeV
    return _masses(text)


def _mediator(text: str):
    import astropy.units as u

    return text if text in ("heavy", "light") else float(text) * u.MeV


def select(
    mass: float = typer.Option(..., help="Dark-matter mass, MeV."),
    exposure: float = typer.Option(1.0, help="Exposure, kg·yr."),
    threshold: int = typer.Option(1, help="n_e threshold (electron–hole pairs)."),
    threshold_ev: float = typer.Option(
        0.0, help="Energy threshold in eV instead (0 = use --threshold)."
    ),
    background: float = typer.Option(0.0, help="Expected background events in the exposure."),
    mediator: str = typer.Option("heavy", help="heavy, light, or a mediator mass in MeV."),
    table: list[str] = typer.Option(
        None, "--table", help="MATERIAL=PATH to use instead of a shipped table."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="JSON (σ̄e in cm², mass MeV, exposure kg·yr)."
    ),
) -> None:
    """Rank the materials by computed σ̄e reach at one mass (lower is better)."""
    import astropy.units as u

    from acie.darkmatter.formfactor.io import read_formfactor
    from acie.darkmatter.selector import select_material

    tables = None
    if table:
        tables = {}
        for item in table:
            name, _, path = item.partition("=")
            tables[name] = read_formfactor(path)
    thr = threshold_ev * u.eV if threshold_ev > 0 else threshold
    r = select_material(
        mass * u.MeV,
        exposure * u.kg * u.yr,
        thr,
        background,
        mediator=_mediator(mediator),
        tables=tables,
    )
    if json_out:
        typer.echo(
            json.dumps({"settings": r.settings, "ranking": r.rows, "skipped": r.skipped}, indent=2)
        )
        return
    typer.echo(
        f"m = {mass:g} MeV, exposure {exposure:g} kg·yr, {mediator} mediator, background {background:g}"
    )
    typer.echo(
        f"{'rank':4} {'material':8} {'σ̄e reach [cm²]':>16} {'events @1e-37 cm²':>18} {'ne thr':>6}"
    )
    for i, row in enumerate(r.rows, 1):
        typer.echo(
            f"{i:<4} {row['material']:8} {row['sigma_limit_cm2']:16.3e} {row['events_per_1e-37cm2']:18.3e} "
            f"{row['ne_threshold']:6d}"
        )
    for name, why in r.skipped.items():
        typer.echo(f"skipped {name}: {why}")


def compare_qcdark(
    ours: str = typer.Option("Ge", help="Our table: a path or a shipped material name."),
    reference: Path = typer.Option(
        Path("../shared/reference/qcdark-ge/Ge_final.hdf5"), help="QCDark HDF5 file."
    ),
    masses: str = typer.Option("3:1000:25", help="MeV: 'lo:hi:n' (log grid) or comma-separated."),
    plot: Path = typer.Option(None, help="Write the figure (.png or .pdf, 300 dpi)."),
    csv_out: Path = typer.Option(
        None, "--csv", help="Write the ratios as CSV (mass MeV, rates 1/(kg yr))."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="JSON rows (mass MeV, rates 1/(kg yr) at 1e-37 cm²)."
    ),
) -> None:
    """Rate ratio of our Ge form factor to QCDark's versus mass, heavy and light mediators."""
    from acie.darkmatter.formfactor.convergence import compare_rates
    from acie.darkmatter.formfactor.io import read_qcdark

    cmp = compare_rates(
        _table(ours),
        read_qcdark(reference, material="Ge"),
        _mass_grid(masses),
        labels=("ACIE", "QCDark"),
    )
    rows = cmp.as_rows()
    if plot is not None:
        from acie.darkmatter.formfactor.plots import plot_rate_comparison
        from acie.darkmatter.plots import save_figure

        save_figure(
            plot_rate_comparison(cmp, title="Ge: ACIE (PySCF, GTH) vs QCDark (all-electron)"), plot
        )
    if csv_out is not None:
        import csv

        with open(csv_out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'mediator':8} {'m [MeV]':>9} {'ACIE/QCDark':>12} {'same q range':>13}")
    for r in rows:
        typer.echo(
            f"{r['mediator']:8} {r['mass_MeV']:9.2f} {r['ratio']:12.3f} {r['ratio_same_q_range']:13.3f}"
        )


def convergence(
    material: str = typer.Argument(..., help="Material name."),
    kmeshes: str = typer.Option("1x1x1,2x2x2", help="Comma-separated k-meshes."),
    bases: str = typer.Option(
        "gth-szv-molopt-sr,gth-dzvp-molopt-sr", help="Comma-separated basis sets."
    ),
    pseudo: str = typer.Option("gth-pbe", help="GTH pseudopotential."),
    xc: str = typer.Option("pbe", help="Functional."),
    n_q: int = typer.Option(200, help="q bins of 0.02 α mₑ."),
    masses: str = typer.Option("3:1000:15", help="MeV: 'lo:hi:n' or comma-separated."),
    rtol: float = typer.Option(0.1, help="Advisor tolerance on rates (relative)."),
    workdir: Path = typer.Option(Path("convergence.work"), help="Checkpoint folder."),
    table: list[str] = typer.Option(
        None,
        "--table",
        help="LABEL=PATH of an existing table (repeatable); "
        "with --table only, nothing is computed.",
    ),
    plot: Path = typer.Option(None, help="Write the figure (.png or .pdf)."),
    json_out: bool = typer.Option(
        False, "--json", help="JSON (rates 1/(kg yr) at 1e-37 cm², masses MeV)."
    ),
) -> None:
    """Run a k-mesh × basis convergence study and recommend settings, with the evidence."""
    from acie.darkmatter.formfactor import FormFactorSettings
    from acie.darkmatter.formfactor.convergence import convergence_study, recommend_settings
    from acie.darkmatter.formfactor.io import read_formfactor

    tables = {}
    for item in table or []:
        label, _, path = item.partition("=")
        tables[label] = read_formfactor(path)
    settings = {}
    if not tables:
        for km in kmeshes.split(","):
            for b in bases.split(","):
                settings[f"{km}/{b}"] = FormFactorSettings(
                    kmesh=_kmesh(km), basis=b, pseudo=pseudo, xc=xc, n_q=n_q
                )
    study = convergence_study(
        material,
        _mass_grid(masses),
        tables=tables,
        settings=settings,
        workdir=workdir,
        progress=True,
    )
    advice = recommend_settings(study, rtol=rtol)
    if plot is not None:
        from acie.darkmatter.formfactor.plots import plot_convergence
        from acie.darkmatter.plots import save_figure

        save_figure(plot_convergence(study), plot)
    out = {
        "advice": advice,
        "points": [
            {
                "label": p.label,
                "cost": p.cost,
                "dft_gap_eV": p.dft_gap_eV,
                "seconds": p.seconds,
                "rates": {k: v.tolist() for k, v in p.rates.items()},
            }
            for p in study.points
        ],
        "mass_MeV": study.mass.to_value("MeV").tolist(),
    }
    if json_out:
        typer.echo(json.dumps(out, indent=2))
        return
    for p in study.points:
        typer.echo(
            f"{p.label:32} cost {p.cost:10.3g}  gap {p.dft_gap_eV:6.3f} eV  "
            f"max deviation {advice['deviations'][p.label]:7.1%}"
        )
    typer.echo(advice["reason"])


exciton_app = typer.Typer(
    help="External (BSE/GW) form factors: validate, make examples, compare with DFT.",
    no_args_is_help=True,
)


@exciton_app.command("validate")
def exciton_validate(path: Path = typer.Argument(..., help="acie.excitons HDF5 file.")) -> None:
    """Check a file against the acie.excitons v1 rules; exit status 1 if invalid."""
    from acie.darkmatter.excitons import validate_excitons

    errs = validate_excitons(path)
    for e in errs:
        typer.echo(f"error: {e}", err=True)
    if errs:
        raise typer.Exit(1)
    typer.echo(f"{path}: valid acie.excitons v1")


@exciton_app.command("example")
def exciton_example(
    material: str = typer.Argument(..., help="Shipped material name or a form-factor file."),
    output: Path = typer.Option(..., "--output", "-o", help="Example file to write."),
) -> None:
    """Write an example acie.excitons file from a DFT table (labelled NOT BSE)."""
    from acie.darkmatter.excitons import write_example_excitons

    write_example_excitons(_table(material), output)
    typer.echo(f"wrote {output} (DFT copy, is_bse = false: a template, not excitonic physics)")


@exciton_app.command("compare")
def exciton_compare(
    path: Path = typer.Argument(..., help="acie.excitons HDF5 file."),
    plot: Path = typer.Option(..., help="Figure to write (.png or .pdf)."),
    mass: float = typer.Option(100.0, help="Mass for the rate ratio, MeV."),
) -> None:
    """Plot external vs DFT spectra and print the rate ratio (needs /f2_dft in the file)."""
    import astropy.units as u

    from acie.darkmatter.electron import total_rate
    from acie.darkmatter.excitons import read_excitons
    from acie.darkmatter.formfactor.plots import plot_exciton_comparison
    from acie.darkmatter.plots import save_figure

    data = read_excitons(path)
    save_figure(plot_exciton_comparison(data), plot)
    if data.baseline is not None:
        for med in ("heavy", "light"):
            r = total_rate(data.table, mass * u.MeV, 1e-37 * u.cm**2, mediator=med) / total_rate(
                data.baseline, mass * u.MeV, 1e-37 * u.cm**2, mediator=med
            )
            typer.echo(f"{med} mediator, m = {mass:g} MeV: external/DFT rate = {float(r):.4f}")
    typer.echo(f"wrote {plot}")


def register(app: typer.Typer) -> None:
    """Attach the form-factor and materials commands to ``app`` (the ``dm`` group)."""
    app.command("formfactor")(formfactor)
    app.command("materials")(materials)
    app.command("select")(select)
    app.command("compare-qcdark")(compare_qcdark)
    app.command("convergence")(convergence)
    app.add_typer(exciton_app, name="exciton")
