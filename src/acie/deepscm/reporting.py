"""Files and plots of the deep SCM: evaluation report, image grids, atomic writers.

Plots use the Agg backend at 300 dpi, PNG and PDF. Images are shown with an asinh
stretch (Lupton et al. 1999) softened at the band's sky noise, as astronomers view them;
colour images map i, r, g to red, green, blue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from acie._files import atomic_output, write_text
from acie.deepscm.evaluation import EvaluationReport

__all__ = ["plot_pairs", "save_npz_atomic", "write_report"]


def save_npz_atomic(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write a ``.npz`` file atomically (temp file + rename)."""
    with atomic_output(path) as tmp, tmp.open("wb") as fh:
        np.savez_compressed(fh, allow_pickle=False, **arrays)
    return Path(path)


def _savefig(fig, path: Path) -> list[Path]:
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        with atomic_output(target) as tmp:
            fig.savefig(tmp, dpi=300, bbox_inches="tight", format=suffix[1:])
        out.append(target)
    return out


def _stretch(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Common asinh stretch for a row of (C, H, W) images, mapped to [0, 1]."""
    stack = np.stack(images).astype(np.float64)
    soft = np.maximum(
        1.4826
        * np.median(np.abs(stack[:, :, :4, :] - np.median(stack[:, :, :4, :])), axis=(0, 2, 3)),
        1e-12,
    )
    t = np.arcsinh(stack / soft[None, :, None, None])
    lo, hi = np.percentile(t, 1.0), np.percentile(t, 99.9)
    t = np.clip((t - lo) / max(hi - lo, 1e-12), 0, 1)
    out = []
    for im in t:
        out.append(np.stack([im[2], im[1], im[0]], -1) if im.shape[0] >= 3 else im[0])
    return out


def _grid(
    rows: dict[str, np.ndarray], title: str, path: Path, pixel_scale: float | None = None
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    k = rows[names[0]].shape[0]
    fig, axes = plt.subplots(len(names), k, figsize=(1.6 * k, 1.7 * len(names)), squeeze=False)
    for j in range(k):
        shown = _stretch([rows[nm][j] for nm in names])
        for i, nm in enumerate(names):
            ax = axes[i, j]
            h, w = shown[i].shape[:2]
            ext = (
                [
                    -w / 2 * pixel_scale,
                    w / 2 * pixel_scale,
                    -h / 2 * pixel_scale,
                    h / 2 * pixel_scale,
                ]
                if pixel_scale
                else None
            )
            ax.imshow(shown[i], origin="lower", cmap="magma", extent=ext)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(nm, fontsize=8)
    fig.suptitle(
        title
        + (
            ""
            if not pixel_scale
            else f"  (stamps {rows[names[0]].shape[-1] * pixel_scale:.1f} arcsec wide; "
            "asinh stretch)"
        ),
        fontsize=9,
    )
    paths = _savefig(fig, path)
    plt.close(fig)
    return paths


def plot_pairs(
    path: str | Path,
    factual: np.ndarray,
    counterfactual: np.ndarray,
    *,
    title: str = "",
    max_images: int = 8,
) -> list[Path]:
    """Grid of factual (top) and counterfactual (bottom) images; writes PNG and PDF."""
    f = np.asarray(factual)
    c = np.asarray(counterfactual)
    if f.ndim == 3:
        f, c = f[None], c[None]
    k = min(max_images, f.shape[0])
    return _grid({"factual": f[:k], "counterfactual": c[:k]}, title, Path(path))


def write_report(
    report: EvaluationReport, directory: str | Path, pixel_scale: float = 0.396
) -> list[Path]:
    """Write ``metrics.json``, ``REPORT.md`` and the plots of an evaluation to ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from acie.galaxy.properties import UNITS

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    metrics = out / "metrics.json"
    write_text(metrics, json.dumps(report.to_dict(), indent=2, default=float))
    paths.append(metrics)

    for node, ex in report.examples.items():
        rows = {"factual": ex["factual"], "model cf": ex["model"], "true cf": ex["true"]}
        m = next(x for x in report.interventions if x.node == node)
        title = f"do({node} = factual {m.shift:+g} {UNITS[node] or ''})"
        paths += _grid(rows, title, out / f"grid_{node}", pixel_scale)

    # effectiveness: re-abducted vs intended value of each intervened node
    nodes = list(report.examples)
    fig, axes = plt.subplots(1, len(nodes), figsize=(3.2 * len(nodes), 3.2), squeeze=False)
    for ax, node in zip(axes[0], nodes, strict=True):
        ex = report.examples[node]
        t, r = ex["target_all"], ex["re_abducted"]
        ax.scatter(t, r, s=4, alpha=0.6)
        lim = [min(t.min(), r.min()), max(t.max(), r.max())]
        ax.plot(lim, lim, "k--", lw=0.8)
        unit = UNITS[node] or "dimensionless"
        ax.set_xlabel(f"intended {node} [{unit}]", fontsize=8)
        ax.set_ylabel(f"re-abducted from cf image [{unit}]", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("effectiveness", fontsize=9)
    fig.tight_layout()
    paths += _savefig(fig, out / "effectiveness")
    plt.close(fig)

    # pixel error vs the true counterfactual, against the change-nothing baseline
    fig, ax = plt.subplots(figsize=(5, 3.2))
    xs = np.arange(len(report.interventions))
    ax.bar(
        xs - 0.2,
        [m.pixel_rms_baseline for m in report.interventions],
        0.4,
        label="input vs true cf",
    )
    ax.bar(
        xs + 0.2,
        [m.pixel_rms_model for m in report.interventions],
        0.4,
        label="model cf vs true cf",
    )
    ax.bar(
        xs + 0.2,
        [m.reversibility_rms for m in report.interventions],
        0.15,
        color="k",
        label="reversibility (do, undo)",
    )
    ax.set_xticks(xs, [m.node for m in report.interventions], rotation=30, fontsize=7)
    ax.set_ylabel("RMS pixel difference [sky-noise sigma]", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths += _savefig(fig, out / "pixel_error")
    plt.close(fig)

    md = out / "REPORT.md"
    write_text(md, _markdown(report))
    paths.append(md)
    return paths


def _markdown(r: EvaluationReport) -> str:
    from acie.galaxy.properties import UNITS

    lines = [
        "# Deep SCM evaluation",
        "",
        f"model version `{r.model_version}`, {r.n_galaxies} held-out simulated galaxies "
        f"(seed {r.seed}). Pixel numbers are in units of the band's sky-noise sigma; property "
        "numbers in the node's unit (`acie.galaxy.properties.UNITS`).",
        "",
        f"- composition (null intervention, max |x' - x|): {r.composition_max_abs:.3g} sigma",
        f"- decoder reconstruction RMS (diagnostic): {r.reconstruction_rms:.3g} sigma",
        f"- mean confidence: {r.mean_confidence:.3f}",
        "",
        "## Abduction of the factual properties (MAE vs simulator truth)",
        "",
        "| property | MAE | unit |",
        "| --- | --- | --- |",
        *[f"| {k} | {v:.3g} | {UNITS[k] or '-'} |" for k, v in r.abduction_mae.items()],
        "",
        "## Interventions",
        "",
        "| do | effectiveness MAE (baseline) | pixel RMS model / input vs truth | ratio "
        "| reversibility RMS | minimality (MAE / sd) | above tolerance |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in r.interventions:
        mini = m.minimality_rel
        lines.append(
            f"| {m.node} {m.shift:+g} | {m.effectiveness_mae:.3g} ({m.effectiveness_baseline_mae:.3g}) "
            f"| {m.pixel_rms_model:.3g} / {m.pixel_rms_baseline:.3g} | {m.pixel_ratio:.2f} "
            f"| {m.reversibility_rms:.3g} | {mini:.3g} | {m.above_tolerance}/{m.n} |"
        )
    lines += [
        "",
        "Model-independent effectiveness: `acie.galaxy.measure` on the images, MAE vs the "
        "measurement of the true counterfactual (model cf / unchanged input) [dex]:",
        "",
        "| do | log_luminosity | log_size |",
        "| --- | --- | --- |",
    ]
    for m in r.interventions:
        cells = [
            f"{m.measured[k]['mae_model_vs_true_cf']:.3g} / {m.measured[k]['mae_input_vs_true_cf']:.3g}"
            if k in m.measured
            else "-"
            for k in ("log_luminosity", "log_size")
        ]
        lines.append(f"| {m.node} {m.shift:+g} | " + " | ".join(cells) + " |")
    lines += ["", "Counterfactual property MAE vs the simulator's true counterfactual:", ""]
    for m in r.interventions:
        lines.append(
            f"- do({m.node}): " + ", ".join(f"{k} {v:.3g}" for k, v in m.property_mae.items())
        )
    w = r.watermark
    lines += ["", "## Watermark", "", "```json", json.dumps(w, indent=2), "```", ""]
    return "\n".join(lines)
