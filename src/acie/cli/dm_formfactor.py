"""`acie dm formfactor|materials|compare-qcdark|convergence`: ab-initio form factors.

``select`` lives in :mod:`acie.cli.dm_select`. Registered onto the ``acie dm`` group by :func:`register`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from acie.cli.dm_options import (
    load_table,
    parse_kmesh,
    parse_mass_grid,
)
from acie.cli.dm_output import halo_text


def formfactor(
    material: str = typer.Argument(..., help="Material name (Si, Ge, GaAs, NaI, CsI)."),
    kmesh: str = typer.Option("3x3x3", help="Γ-centred k-mesh, NxNxN."),
    basis: str = typer.Option("gth-dzvp-molopt-sr", help="PySCF basis set."),
    pseudo: str = typer.Option("gth-pbe", help="GTH pseudopotential, or 'none' for all-electron."),
    xc: str = typer.Option("pbe", help="Exchange–correlation functional."),
    hybrid: float = typer.Option(
        0.0,
        help="Exact-exchange fraction of a one-shot hybrid correction of the bands "
        "(0.25 with --xc pbe: PBE0@PBE; 0 = none).",
    ),
    exchange_kmesh: str = typer.Option(
        None,
        help="Reduced k-grid of the hybrid's exchange partners, NxNxN dividing --kmesh "
        "(default: the whole k-mesh).",
        show_default=False,
    ),
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
    scheduler: str = typer.Option(
        None,
        help="Dask scheduler address: k-pair blocks as tasks there (default: "
        "DASK_SCHEDULER_ADDRESS; the checkpoint folder must be shared with the workers).",
        show_default=False,
    ),
    workdir: Path = typer.Option(
        None, help="Checkpoint folder (default: OUTPUT + '.work'); reused to resume."
    ),
    resume: bool = typer.Option(True, help="Resume from the checkpoint folder if it exists."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Output HDF5 (default: out/MATERIAL.h5; folders are created)."
    ),
    progress: bool = typer.Option(
        True, help="Report each stage with a time estimate, SCF cycles and a k-pair bar (stderr)."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print a JSON summary (times in s, energies in eV)."
    ),
) -> None:
    """Compute |f_crystal(q,E)|² for MATERIAL with periodic DFT (PySCF) and write ACIE HDF5.

    Stages (each announced on stderr with an estimated time): structure, SCF, k-pair
    blocks, normalise and write. Interrupted runs resume from the checkpoint folder.
    """
    import shutil

    from acie.darkmatter.formfactor.runner import compute_form_factor
    from acie.darkmatter.formfactor.settings import FormFactorSettings
    from acie.darkmatter.materials import get_material

    mat = get_material(material)
    settings = FormFactorSettings(
        kmesh=parse_kmesh(kmesh),
        basis=basis,
        pseudo=None if pseudo.lower() == "none" else pseudo,
        xc=xc,
        hybrid_fraction=hybrid,
        exchange_kmesh=parse_kmesh(exchange_kmesh) if exchange_kmesh else None,
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
    output = output or Path("out") / f"{mat.name}.h5"
    workdir = workdir or output.with_name(output.name + ".work")
    if not resume and workdir.exists():
        shutil.rmtree(workdir)
    from acie.compute.executor import DaskExecutor, resolve_executor

    with resolve_executor(scheduler, workers) as ex:
        table = compute_form_factor(
            mat,
            settings,
            workdir=workdir.resolve(),
            n_workers=workers,
            progress=progress,
            output=output,
            map_tasks=ex if isinstance(ex, DaskExecutor) else None,
        )
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
    rows: list[dict[str, Any]] = []
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


def compare_qcdark(
    ours: str = typer.Option("Ge", help="Our table: a path or a shipped material name."),
    reference: Path = typer.Option(
        ...,
        help="QCDark's Ge form factor (Ge_final.hdf5 from the QCDark repository, "
        "github.com/asingal14/QCDark, results/; not shipped with ACIE).",
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
    from acie.darkmatter.halo_parameters import resolve_halo

    cmp = compare_rates(
        load_table(ours),
        read_qcdark(reference, material="Ge"),
        parse_mass_grid(masses),
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
    typer.echo(
        f"Total-rate ratio ACIE/QCDark (σ̄e = 1e-37 cm², E ≤ table maximum; halo "
        f"{halo_text(resolve_halo(None))}; 'same q range': QCDark cut to our q_max)"
    )
    typer.echo(
        f"{'mediator':8} {'mass [MeV]':>10} {'ACIE/QCDark [1]':>16} {'same q range [1]':>17}"
    )
    for r in rows:
        typer.echo(
            f"{r['mediator']:8} {r['mass_MeV']:10.2f} {r['ratio']:16.3f} "
            f"{r['ratio_same_q_range']:17.3f}"
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
    workdir: Path = typer.Option(Path("out/convergence.work"), help="Checkpoint folder."),
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
                    kmesh=parse_kmesh(km), basis=b, pseudo=pseudo, xc=xc, n_q=n_q
                )
    study = convergence_study(
        material,
        parse_mass_grid(masses),
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


def register(app: typer.Typer) -> None:
    """Attach the form-factor and materials commands to ``app`` (the ``dm`` group)."""
    app.command("formfactor")(formfactor)
    app.command("materials")(materials)
    from acie.cli.dm_select import select

    app.command("select")(select)
    app.command("compare-qcdark")(compare_qcdark)
    app.command("convergence")(convergence)
