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
    n_valence: int = typer.Option(0, "--valence-bands", help="Highest valence bands kept (0 = all)."),
    n_conduction: int = typer.Option(0, "--conduction-bands", help="Lowest conduction bands kept (0 = all)."),
    dq: float = typer.Option(0.02, help="q bin width in α mₑ (= bohr⁻¹)."),
    n_q: int = typer.Option(300, help="Number of q bins from 0."),
    de: float = typer.Option(0.1, "--de", help="Energy bin width, eV."),
    n_e: int = typer.Option(500, "--ne", help="Number of energy bins from 0."),
    scissor: bool = typer.Option(True, help="Scissor-shift the gap to the experimental value."),
    ke_cutoff: float = typer.Option(0.0, help="DFT plane-wave cutoff, hartree (0 = PySCF default)."),
    density_fit: bool = typer.Option(False, help="Gaussian density fitting (all-electron bases)."),
    pairs_per_block: int = typer.Option(8, help="k-pairs per checkpoint block."),
    workers: int = typer.Option(1, help="Worker processes over k-pair blocks."),
    workdir: Path = typer.Option(None, help="Checkpoint folder (default: OUTPUT + '.work'); reused to resume."),
    resume: bool = typer.Option(True, help="Resume from the checkpoint folder if it exists."),
    output: Path = typer.Option(None, "--output", "-o", help="Output HDF5 (default: MATERIAL.h5)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary (times in s, energies in eV)."),
) -> None:
    """Compute |f_crystal(q,E)|² for MATERIAL with periodic DFT (PySCF) and write ACIE HDF5."""
    import shutil

    from acie.darkmatter.formfactor import FormFactorSettings
    from acie.darkmatter.formfactor_io import write_acie
    from acie.darkmatter.formfactor_run import compute_form_factor
    from acie.darkmatter.materials import get_material

    mat = get_material(material)
    settings = FormFactorSettings(
        kmesh=_kmesh(kmesh), basis=basis, pseudo=None if pseudo.lower() == "none" else pseudo, xc=xc,
        n_valence=n_valence or None, n_conduction=n_conduction or None, dq=dq, n_q=n_q, dE=de, n_E=n_e,
        scissor=scissor, ke_cutoff=ke_cutoff or None, density_fit=density_fit,
        pairs_per_block=pairs_per_block)
    output = output or Path(f"{mat.name}.h5")
    workdir = workdir or output.with_name(output.name + ".work")
    if not resume and workdir.exists():
        shutil.rmtree(workdir)
    table = compute_form_factor(mat, settings, workdir=workdir, n_workers=workers, progress=progress)
    write_acie(table, output)
    shutil.rmtree(workdir, ignore_errors=True)
    summary = {"material": mat.name, "output": str(output), "shape": list(table.shape),
               "dft_gap_eV": table.metadata["settings"]["dft_gap_eV"], "band_gap_eV": table.band_gap_eV,
               "timings_s": table.metadata["timings"]}
    typer.echo(json.dumps(summary, indent=2) if json_out else
               f"wrote {output} ({mat.name}, f2 {table.shape[0]}x{table.shape[1]}, "
               f"DFT gap {summary['dft_gap_eV']:.3f} eV -> {table.band_gap_eV:.3f} eV)")


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
        rows.append({"name": m.name, "formula": m.formula, "structure": m.structure,
                     "lattice_constant_A": m.lattice_constant, "density_g_cm3": m.density,
                     "band_gap_eV": m.band_gap, "pair_energy_eV": m.pair_energy, "fano": m.fano,
                     "estimates": sorted(m.estimates), "references": dict(m.references) if name else None})
    if json_out:
        typer.echo(json.dumps(rows if not name else rows[0], indent=2))
        return
    if not name:
        typer.echo(f"{'name':6} {'structure':16} {'a [Å]':>7} {'ρ [g/cm³]':>10} {'gap [eV]':>9} "
                   f"{'ε [eV]':>7} {'Fano':>6}")
        for r in rows:
            typer.echo(f"{r['name']:6} {r['structure']:16} {r['lattice_constant_A']:7.4f} "
                       f"{r['density_g_cm3']:10.3f} {r['band_gap_eV']:9.2f} {r['pair_energy_eV']:7.3f} "
                       f"{r['fano']:6.3f}{'  *' if r['estimates'] else ''}")
        typer.echo("* contains estimates; see `acie dm materials NAME`")
        return
    r = rows[0]
    for key in ("name", "formula", "structure", "lattice_constant_A", "density_g_cm3", "band_gap_eV",
                "pair_energy_eV", "fano"):
        typer.echo(f"{key:20} {r[key]}")
    typer.echo("references:")
    for key, ref in r["references"].items():
        typer.echo(f"  {key}: {ref}")
    if r["estimates"]:
        typer.echo(f"estimates (not measurements): {', '.join(r['estimates'])}")


def register(app: typer.Typer) -> None:
    """Attach the form-factor and materials commands to ``app`` (the ``dm`` group)."""
    app.command("formfactor")(formfactor)
    app.command("materials")(materials)
