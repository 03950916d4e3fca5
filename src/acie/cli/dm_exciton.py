"""`acie dm exciton validate|example|compare`: external (BSE/GW) form factors.

Registered onto the ``acie dm`` group by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from acie.cli.dm_options import load_table

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

    write_example_excitons(load_table(material), output)
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
    """Attach the ``exciton`` group to ``app`` (the ``dm`` group)."""
    app.add_typer(exciton_app, name="exciton")
