"""`acie galaxy`: Causal galaxy simulator, datasets, deep-SCM training and counterfactuals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from acie.cli.compute import SchedulerOpt, WorkersOpt

app = typer.Typer(
    help="Causal galaxy simulator, datasets, deep-SCM training and counterfactuals.",
    no_args_is_help=True,
)

_N = Annotated[int, typer.Option("--n", min=1, help="Number of galaxies.")]
_SEED = Annotated[int, typer.Option("--seed", help="Random seed.")]
_SIZE = Annotated[int, typer.Option("--image-size", min=8, help="Stamp side [pixels].")]
_BANDS = Annotated[
    list[str] | None, typer.Option("--band", help="Band (repeat): g, r, i. Default: g r i.")
]
_JSON = Annotated[bool, typer.Option("--json", help="Machine-readable JSON (units included).")]
_PLOT = Annotated[Path | None, typer.Option("--plot", help="Write a PNG (300 dpi) of the images.")]


def _simulator(image_size: int, bands: list[str] | None, seed: int):
    from acie.galaxy.simulator import GalaxySimulator

    return GalaxySimulator(image_size=image_size, bands=tuple(bands or ("g", "r", "i")), seed=seed)


def _assignment(text: str) -> tuple[str, float]:
    from acie.errors import InputValidationError, expected_got

    name, sep, value = text.partition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise InputValidationError(expected_got("an intervention", "'NAME=NUMBER'", text)) from None


def _rows(batch) -> list[dict[str, Any]]:
    from acie.galaxy.properties import NUISANCE_NAMES, PROPERTY_NAMES

    rows = []
    for i in range(len(batch)):
        row: dict[str, Any] = {k: float(batch.properties[k][i]) for k in PROPERTY_NAMES}
        row.update(
            {
                k: (
                    int(batch.nuisances[k][i])
                    if k == "noise_seed"
                    else float(batch.nuisances[k][i])
                )
                for k in NUISANCE_NAMES
            }
        )
        row["flux"] = {b: float(batch.flux[i, j]) for j, b in enumerate(batch.bands)}
        rows.append(row)
    return rows


def _units() -> dict[str, str]:
    from acie.galaxy.properties import NUISANCE_UNITS, UNITS

    return {**UNITS, **NUISANCE_UNITS, "flux": "nanomaggy", "violation_score": "dex"}


def _table(batch, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from acie.galaxy.properties import PROPERTY_NAMES, UNITS

    t = Table(title=title)
    t.add_column("property")
    t.add_column("unit")
    for i in range(len(batch)):
        t.add_column(f"#{i}", justify="right")
    for k in PROPERTY_NAMES:
        t.add_row(k, UNITS[k] or "-", *(f"{v:.3f}" for v in batch.properties[k]))
    for j, b in enumerate(batch.bands):
        t.add_row(f"flux_{b}", "nanomaggy", *(f"{v:.3g}" for v in batch.flux[:, j]))
    Console().print(t)


def _save(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` (300 dpi; PNG unless the suffix names another format)."""
    from acie._files import atomic_output

    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=300, format=path.suffix[1:].lower() or "png")


@app.command()
def sample(
    n: _N = 4,
    seed: _SEED = 0,
    image_size: _SIZE = 64,
    band: _BANDS = None,
    json_out: _JSON = False,
    plot: _PLOT = None,
) -> None:
    """Simulate galaxies and print their properties (and optionally plot their images)."""
    sim = _simulator(image_size, band, seed)
    batch = sim.sample(n, seed=seed)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "units": _units(),
                    "bands": list(batch.bands),
                    "pixel_scale_arcsec": batch.pixel_scale,
                    "galaxies": _rows(batch),
                },
                indent=2,
            )
        )
    else:
        _table(batch, f"{n} simulated galaxies (seed {seed})")
    if plot is not None:
        from acie.galaxy.plots import counterfactual_figure

        _save(
            counterfactual_figure(batch, batch, titles=("simulated", "same"), max_galaxies=n), plot
        )
        typer.echo(f"wrote {plot}", err=True)


@app.command()
def counterfactual(
    n: _N = 4,
    seed: _SEED = 0,
    image_size: _SIZE = 64,
    band: _BANDS = None,
    do: Annotated[
        list[str] | None, typer.Option("--do", help="NAME=VALUE: set a property (repeat).")
    ] = None,
    shift: Annotated[
        list[str] | None, typer.Option("--shift", help="NAME=DELTA: add to a property (repeat).")
    ] = None,
    json_out: _JSON = False,
    plot: _PLOT = None,
) -> None:
    """Exact ground-truth counterfactuals of simulated galaxies, with physics scores.

    Example: ``acie galaxy counterfactual --shift log_stellar_mass=0.301`` doubles M*.
    """
    import numpy as np

    from acie.errors import InputValidationError
    from acie.galaxy.constraints import violation_score

    sim = _simulator(image_size, band, seed)
    batch = sim.sample(n, seed=seed)
    interventions: dict[str, Any] = {}
    for text in do or []:
        k, v = _assignment(text)
        interventions[k] = v
    for text in shift or []:
        k, v = _assignment(text)
        if k not in batch.properties:
            from acie.errors import UnknownNodeError

            raise UnknownNodeError(k, list(batch.properties))
        interventions[k] = batch.properties[k] + v
    if not interventions:
        raise InputValidationError("give at least one --do NAME=VALUE or --shift NAME=DELTA")
    cf = sim.counterfactual(batch, interventions)
    s_f = violation_score(batch.physics_inputs())
    s_cf = violation_score(cf.physics_inputs())
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "units": _units(),
                    "interventions": {
                        k: np.atleast_1d(v).tolist() for k, v in interventions.items()
                    },
                    "factual": _rows(batch),
                    "counterfactual": _rows(cf),
                    "violation_score": {"factual": s_f.tolist(), "counterfactual": s_cf.tolist()},
                },
                indent=2,
            )
        )
    else:
        _table(batch, "factual")
        _table(cf, "counterfactual (same exogenous noise)")
        typer.echo(
            "physics violation score [dex]: factual "
            + ", ".join(f"{v:.3g}" for v in s_f)
            + " | counterfactual "
            + ", ".join(f"{v:.3g}" for v in s_cf)
        )
    if plot is not None:
        from acie.galaxy.plots import counterfactual_figure

        label = (
            ", ".join(do or [])
            + (", " if do and shift else "")
            + ", ".join(f"shift {s}" for s in shift or [])
        )
        _save(counterfactual_figure(batch, cf, max_galaxies=n, label=label), plot)
        typer.echo(f"wrote {plot}", err=True)


@app.command()
def dataset(
    out: Annotated[Path, typer.Option("--out", help="Output HDF5 file.")],
    n: _N = 10_000,
    seed: _SEED = 0,
    image_size: _SIZE = 64,
    band: _BANDS = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Galaxies per block.")
    ] = 1000,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar.")
    ] = True,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    json_out: _JSON = False,
) -> None:
    """Write a seeded dataset of simulated galaxies to compact HDF5 (float16 images, gzip)."""
    import time

    from acie.compute.executor import resolve_executor
    from acie.galaxy.dataset import write_dataset

    sim = _simulator(image_size, band, seed)
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)  # e.g. out/ on the first run
    with resolve_executor(scheduler, workers) as ex:
        path = write_dataset(
            out, sim, n, seed=seed, chunk_size=chunk_size, progress=progress, map_tasks=ex
        )
    dt = time.perf_counter() - t0
    info = {
        "path": str(path),
        "n": n,
        "seed": seed,
        "bands": list(sim.bands),
        "image_size_pixels": image_size,
        "pixel_scale_arcsec": sim.pixel_scale,
        "image_unit": "nanomaggy / pixel",
        "file_size_bytes": path.stat().st_size,
        "seconds": round(dt, 3),
    }
    if json_out:
        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo(
            f"wrote {n} galaxies to {path} ({info['file_size_bytes'] / 1e6:.1f} MB) in {dt:.1f} s"
        )
