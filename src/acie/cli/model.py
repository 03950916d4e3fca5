"""`acie model`: Deep SCM training, counterfactual generation and evaluation."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from acie.cli.compute import SchedulerOpt, WorkersOpt
from acie.errors import InputValidationError, expected_got

if TYPE_CHECKING:
    from acie.deepscm.engine import CounterfactualEngine

app = typer.Typer(
    help="Deep SCM: train, generate counterfactual galaxy images, evaluate.", no_args_is_help=True
)


def _parse_sets(sets: list[str], option: str = "--set") -> dict[str, float]:
    out = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep:
            raise InputValidationError(expected_got(option, "NAME=VALUE", item))
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputValidationError(
                expected_got(f"{option} {name}", "a number", value)
            ) from None
    return out


def _device(device: str) -> str:
    """``--device auto`` is CUDA only when the ``ENABLE_CUDA`` setting allows it."""
    if device != "auto":
        return device
    from acie.config import get_settings

    return "auto" if get_settings().ENABLE_CUDA else "cpu"


def _training_bands(engine: CounterfactualEngine) -> tuple[str, ...]:
    """The bands the model was trained on (the checkpoint's simulator config), or gri."""
    c = engine.image_shape[0]
    sim = engine.metadata.get("simulator")
    bands = sim.get("bands") if isinstance(sim, dict) else None
    return tuple(bands or ("g", "r", "i"))[:c]


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help="Output directory (model.pt, history.json)."),
    n_train: int = typer.Option(8000, "--n-train", min=2, help="Simulated training galaxies."),
    epochs: int = typer.Option(20, "--epochs", min=1),
    seed: int = typer.Option(0, "--seed", help="Seeds the data, weights and batch order."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    learning_rate: float = typer.Option(2e-3, "--lr"),
    width: int = typer.Option(16, "--width", min=1, help="Base channel width of the networks."),
    latent_dim: int = typer.Option(16, "--latent-dim", min=1),
    mechanism: str = typer.Option(
        "gaussian", "--mechanism", help="Property mechanisms: gaussian | sinh-arcsinh."
    ),
    mixture: list[str] = typer.Option(
        [], "--mixture", help="NODE=K: a K-component mixture mechanism (e.g. log_sfr=2)."
    ),
    decoder: str = typer.Option("v1", "--decoder", help="Image decoder: v1 | film."),
    init_from: Path | None = typer.Option(
        None, "--init-from", help="Warm start: copy matching weights and scalers of a checkpoint."
    ),
    prefit_epochs: int = typer.Option(
        0, "--mechanism-prefit-epochs", min=0, help="Fit the property mechanisms alone first."
    ),
    pixel_noise: str = typer.Option(
        "per-band", "--pixel-noise", help="Pixel noise: per-band | per-pixel | poisson."
    ),
    calibrated_noise: bool = typer.Option(
        True,
        "--calibrated-noise/--learned-noise",
        help="poisson noise: the simulator's sky sigma and gain (or learn them).",
    ),
    physics_weight: float = typer.Option(
        1.0, "--physics-weight", min=0.0, help="Weight of the physics penalty (0 = off)."
    ),
    image_size: int = typer.Option(64, "--image-size", help="Image side [pixels]."),
    bands: str = typer.Option("gri", "--bands", help="Bands, e.g. gri or r."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto (ENABLE_CUDA)."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch intra-op CPU threads."),
    keep_epochs: bool = typer.Option(False, "--keep-epoch-checkpoints"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Train a deep SCM on simulated galaxies (seeded) and write a versioned checkpoint."""
    from acie.deepscm.galaxy_data import POSITIVE, model_parents, simulate_training_set
    from acie.deepscm.training import TrainConfig
    from acie.deepscm.training import train as run_train
    from acie.galaxy.constraints import penalty

    images, values, sim_cfg = simulate_training_set(
        n_train, seed=seed, image_size=image_size, bands=tuple(bands), progress=progress
    )
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        latent_dim=latent_dim,
        width=width,
        mechanism=mechanism,
        mixtures={k: int(v) for k, v in _parse_sets(mixture).items()},
        decoder=decoder,
        pixel_noise=pixel_noise,
        init_from=None if init_from is None else str(init_from),
        mechanism_prefit_epochs=prefit_epochs,
        instrument_noise=(
            {
                "sky_sigma": [sim_cfg["sky_sigma"][b] for b in bands],  # type: ignore[index]
                "gain": sim_cfg["gain"],
            }
            if calibrated_noise and pixel_noise == "poisson"
            else None
        ),
        physics_weight=physics_weight,
        device=_device(device),
        threads=threads,
        progress=progress,
        keep_epoch_checkpoints=keep_epochs,
    )
    command = (
        "acie model " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("train") :])
        if "train" in sys.argv
        else "acie model train (API)"
    )
    result = run_train(
        images=images,
        properties=values,
        parents=model_parents(),
        positive=POSITIVE,
        out_dir=out,
        config=cfg,
        physics_penalty=penalty if physics_weight > 0 else None,
        metadata={
            "command": command,
            "simulator": sim_cfg,
            "data_seed": seed,
            "data": "GalaxySimulator.sample chunks of 500 seeded seed + k",
        },
    )
    last = result.history[-1]
    typer.echo(
        json.dumps(
            {
                "checkpoint": str(result.checkpoint),
                "model_version": result.model_version,
                "device": result.device,
                "seconds_per_epoch": round(result.seconds_per_epoch, 2),
                "final_train_loss_nats_per_galaxy": round(last["train_loss"], 2),
                "final_validation_loss_nats_per_galaxy": round(
                    last.get("val_loss", float("nan")), 2
                ),
            },
            indent=2,
        )
    )


@app.command()
def counterfactual(
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="Intervention NAME=VALUE (units of "
        "acie.galaxy.properties, log nodes in dex); repeatable.",
    ),
    shift: list[str] = typer.Option(
        [],
        "--shift",
        help="Relative intervention NAME=D: each galaxy's abducted value + D "
        "(dex on log_* nodes); repeatable.",
    ),
    factor: list[str] = typer.Option(
        [],
        "--factor",
        help="Relative intervention NAME=F > 0: each galaxy's abducted quantity x F "
        "(log nodes: + log10 F dex), e.g. --factor log_stellar_mass=2; repeatable.",
    ),
    particles: int = typer.Option(
        0, "--particles", min=0, max=64, help="Particles per galaxy: uncertainty maps, intervals."
    ),
    expected: int = typer.Option(
        0, "--expected-draws", min=0, max=64, help="Expected answer over N draws (0: point)."
    ),
    all_or_nothing: bool = typer.Option(
        False,
        "--all-or-nothing",
        help="Fail when any galaxy is refused (default: report each galaxy's status).",
    ),
    model: Path | None = typer.Option(None, "--model", help="Checkpoint (default: shipped model)."),
    images: Path | None = typer.Option(
        None, "--images", help=".npy file (n, C, H, W) [nanomaggies/pixel]."
    ),
    simulate: int = typer.Option(4, "--simulate", min=1, help="Else simulate this many galaxies."),
    seed: int = typer.Option(7, "--seed"),
    out: Path | None = typer.Option(None, "--out", help="Write images and properties (.npz)."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a factual/counterfactual grid (PNG/PDF)."
    ),
    physics_tolerance: float | None = typer.Option(
        None, "--physics-tolerance", help="Largest violation score [dex] (PHYSICS_TOLERANCE)."
    ),
    physics_steps: int | None = typer.Option(
        None, "--physics-steps", help="Projection steps, 0 = none (PHYSICS_STEPS)."
    ),
    watermark: bool = typer.Option(True, "--watermark/--no-watermark"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto (ENABLE_CUDA)."),
) -> None:
    """Counterfactual galaxy images under do(NAME=VALUE); prints a JSON summary.

    Each galaxy has its own status (ok, projected, refused with a reason); the command
    fails only when every galaxy is refused (any, with --all-or-nothing).
    """
    import numpy as np

    from acie.cli import counterfactual_output as output

    interventions = output.collect_interventions(
        _parse_sets(set_),
        _parse_sets(shift, option="--shift"),
        _parse_sets(factor, option="--factor"),
    )

    from acie.config import get_settings
    from acie.deepscm.engine import CounterfactualEngine, load_default_model
    from acie.deepscm.watermark import Watermark

    settings = get_settings()
    device = _device(device)
    mark = Watermark(key=settings.watermark_key())
    engine = (
        CounterfactualEngine.from_checkpoint(model, device=device, watermark=mark)
        if model
        else load_default_model(device=device, watermark=mark)
    )
    if images is not None:
        x = np.load(images)
    else:
        from acie.galaxy.simulator import GalaxySimulator

        _, h, _ = engine.image_shape
        x = (
            GalaxySimulator(image_size=h, bands=_training_bands(engine))
            .sample(simulate, seed=seed)
            .images
        )
    r = engine.counterfactual(
        x,
        interventions,
        physics_tolerance=(
            settings.PHYSICS_TOLERANCE if physics_tolerance is None else physics_tolerance
        ),
        physics_steps=settings.PHYSICS_STEPS if physics_steps is None else physics_steps,
        watermark=watermark,
        per_galaxy=True,
        n_particles=particles,
        expected_draws=expected,
    )
    output.refuse_failed(r, all_or_nothing=all_or_nothing)
    if out is not None:
        from acie.deepscm.reporting import save_npz_atomic

        save_npz_atomic(out, **output.npz_arrays(r, x))
    if plot is not None:
        from acie.deepscm.reporting import plot_pairs

        plot_pairs(plot, np.asarray(x), r.images, title=", ".join([*set_, *shift, *factor]))
    typer.echo(json.dumps(output.summary(r), indent=2))


@app.command()
def evaluate(
    report: Path = typer.Option(
        ..., "--report", help="Directory for report.json, REPORT.md and the plots."
    ),
    model: list[Path] = typer.Option(
        [], "--model", help="Checkpoint(s), repeatable, side by side (default: shipped model)."
    ),
    predictor: Path | None = typer.Option(
        None, "--predictor", help="Independent property predictor (default: the shipped one)."
    ),
    n: int = typer.Option(1000, "--n", min=2, help="Held-out simulated galaxies."),
    seed: int = typer.Option(12345, "--seed", help="Seed of the held-out galaxies."),
    speed: bool = typer.Option(True, "--speed/--no-speed", help="Also time latency/throughput."),
    include: list[Path] = typer.Option([], help="Earlier report.json (same --n, --seed), first."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto (ENABLE_CUDA)."),
    abduction_steps: int = typer.Option(0, min=0, max=500, help="Refined-abduction steps."),
    posterior_particles: int = typer.Option(0, min=0, max=64, help="Posterior-mean particles."),
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
) -> None:
    """Score models against the simulator's exact counterfactuals; write a report with plots.

    Every ``--model`` (default: the shipped one) is evaluated on the same held-out
    galaxies and shown side by side, with the issue's goals marked pass / miss, after the
    models of any ``--include``d earlier report (e.g. an old checkpoint evaluated by the
    code of its own release). With
    ``--workers N`` or ``--scheduler`` each intervention is a task; workers load the
    model once from its checkpoint (``--model`` must then be on a file system they see).
    """
    from acie.cli.compute import scan_executor
    from acie.compute.executor import SerialExecutor
    from acie.config import get_settings
    from acie.deepscm.engine import CounterfactualEngine, load_default_model
    from acie.deepscm.evaluation import evaluate as run_eval
    from acie.deepscm.evaluation import report_from_dict
    from acie.deepscm.predictors import default_predictor_path, load_predictor
    from acie.deepscm.reporting import write_report
    from acie.deepscm.watermark import Watermark
    from acie.deepscm.worker_engine import EngineRef
    from acie.galaxy.simulator import GalaxySimulator

    device = _device(device)
    settings = get_settings()
    # the installation's key (as `acie serve` uses): the report's watermark rates are
    # then those of the served model, and the same from run to run
    mark = Watermark(key=settings.watermark_key())
    pred_path = predictor or default_predictor_path()
    pred = load_predictor(pred_path) if predictor or pred_path.exists() else None
    results = []
    for inc in include:
        try:
            earlier = [report_from_dict(m) for m in json.loads(inc.read_text())["models"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputValidationError(
                expected_got("--include", "a report.json of acie model evaluate", repr(exc))
            ) from None
        for r in earlier:
            if (r.n_galaxies, r.seed) != (n, seed):
                raise InputValidationError(
                    expected_got(
                        f"--include {inc}", f"--n {n} --seed {seed}", (r.n_galaxies, r.seed)
                    )
                )
        results += earlier
    for i, path in enumerate(model or [None]):
        engine = (
            CounterfactualEngine.from_checkpoint(path, device=device, watermark=mark)
            if path
            else load_default_model(device=device, watermark=mark)
        )
        engine.abduction_steps = abduction_steps  # refined abductions run in this process
        _, h, _ = engine.image_shape
        use = pred if pred is not None and pred.config.image_shape == engine.image_shape else None
        if predictor is not None and use is None:
            raise InputValidationError(
                expected_got(
                    "--predictor",
                    f"images of {engine.image_shape}",
                    pred.config.image_shape if pred else None,
                )
            )
        sim = GalaxySimulator(image_size=h, bands=_training_bands(engine))
        with scan_executor(scheduler, workers, "interventions") as ex:
            results.append(
                run_eval(
                    engine,
                    sim,
                    n=n,
                    seed=seed,
                    physics_tolerance=settings.PHYSICS_TOLERANCE,
                    predictor=use,
                    measure_speed=speed,
                    label=(path.stem if path else "shipped")
                    + (f"-{i + 1}" if len(model) > len({p.stem for p in model}) else "")
                    + (f"-refined{abduction_steps}" if abduction_steps else ""),
                    map_tasks=None if isinstance(ex, SerialExecutor) or abduction_steps else ex,
                    engine_ref=EngineRef.of(engine, shipped=path is None),
                    posterior_particles=posterior_particles,
                )
            )
    paths = write_report(results, report)
    typer.echo(
        json.dumps(
            {
                "report": str(report),
                "files": [str(p) for p in paths],
                "model_versions": [r.model_version for r in results],
                "goals": {
                    r.label: {k: v["status"] for k, v in r.to_dict()["goals"].items()}  # type: ignore[attr-defined]
                    for r in results
                },
            },
            indent=2,
        )
    )
