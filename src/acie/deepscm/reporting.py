"""Files and plots of the deep SCM: evaluation report, image grids, atomic writers.

:func:`write_report` writes ``report.json``, ``REPORT.md`` and plots for one or several
evaluated models side by side (e.g. the old and the new shipped checkpoints).

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
from acie.deepscm.evaluation import EvaluationReport, goal_status

__all__ = ["plot_pairs", "save_npz_atomic", "write_report"]

#: Rows of the per-intervention table: (summary name, label, format).
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("dlog_flux_error", "|dlog flux| error, median [dex]", ".3f"),
    ("dlog_flux_error_p95", "|dlog flux| error, p95 [dex]", ".3f"),
    (
        "dlog_flux_error_posterior_mean",
        "|dlog flux| error, posterior mean over particles, median [dex]",
        ".3f",
    ),
    (
        "dlog_flux_error_posterior_mean_p95",
        "|dlog flux| error, posterior mean over particles, p95 [dex]",
        ".3f",
    ),
    ("floor_dlog_flux_error", "identifiability floor, |dlog flux| median [dex]", ".3f"),
    ("floor_dlog_flux_error_p95", "identifiability floor, |dlog flux| p95 [dex]", ".3f"),
    *(
        (f"floor_dlog_flux_error_{k}_p95", f"  oracle answer '{k}': |dlog flux| p95 [dex]", ".3f")
        for k in ("median", "expected", "midrange", "quantile")
    ),
    ("dlog_size_error", "|dlog R_e| error, median [dex]", ".3f"),
    ("colour_error", "|d(g-r)| error, median [mag]", ".3f"),
    ("spurious_quenching_rate", "spurious quenching (star-forming)", ".3f"),
    ("true_quenching_rate", "quenched in truth (star-forming)", ".3f"),
    ("reversibility_changed_l1", "reversibility L1, changed pixels [sigma]", ".3f"),
    ("core_noise_ratio", "core-noise ratio model / truth", ".3f"),
    ("core_noise_amplification_model", "core noise cf / factual, model", ".3f"),
    ("core_noise_amplification_truth", "core noise cf / factual, truth", ".3f"),
    ("predictor_effect_error", "independent predictor: |model - true cf| [node unit]", ".3f"),
    ("predictor_effect_model", "independent predictor: effect, model [node unit]", ".3f"),
    ("predictor_effect_truth", "independent predictor: effect, truth [node unit]", ".3f"),
    ("predictor_error_on_truth", "independent predictor: its error on true cf", ".3f"),
    ("encoder_effectiveness_error", "own encoder: |re-abducted - target| (circular)", ".3f"),
    ("power_spectrum_error", "power spectrum, high-k |log ratio| [dex]", ".3f"),
    ("pixel_rms_model", "pixel RMS model vs true cf [sigma]", ".3f"),
    ("pixel_rms_input", "pixel RMS input vs true cf [sigma]", ".3f"),
)


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


def _cell(s: dict[str, float] | None, fmt: str) -> str:
    if not s or not np.isfinite(s.get("value", np.nan)):
        return "-"
    se = s.get("se", np.nan)
    return f"{s['value']:{fmt}} ± {se:{fmt}}" if np.isfinite(se) else f"{s['value']:{fmt}}"


def _names(reports: Sequence[EvaluationReport]) -> list[str]:
    return [r.label or r.model_version[:12] for r in reports]


def write_report(
    reports: EvaluationReport | Sequence[EvaluationReport],
    directory: str | Path,
    pixel_scale: float = 0.396,
) -> list[Path]:
    """Write ``report.json``, ``REPORT.md`` and the plots of one or several evaluations.

    Several reports (the same held-out galaxies, different models) are shown side by
    side: one column per model in ``REPORT.md``, one panel per model in ``dlog_flux``
    and one bar per model in ``goals``; image grids for every model and intervention.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reps = [reports] if isinstance(reports, EvaluationReport) else list(reports)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    names = _names(reps)
    paths: list[Path] = []
    js = out / "report.json"
    doc = {"models": [{**r.to_dict(), "name": nm} for r, nm in zip(reps, names, strict=True)]}
    write_text(js, json.dumps(doc, indent=2, default=float))
    paths.append(js)

    for r, nm in zip(reps, names, strict=True):
        for node, ex in r.examples.items():
            if "factual" not in ex:
                continue
            m = r.intervention(node)
            rows = {"factual": ex["factual"], "model cf": ex["model"], "true cf": ex["true"]}
            title = f"{nm}: do({node} = own value {m.shift:+.3g})" if m else nm
            tag = nm.replace(" ", "_").replace("/", "_")
            paths += _grid(rows, title, out / f"grid_{tag}_{node}", pixel_scale)

    # per-galaxy dlog flux, model vs truth, for do(M* x 2) (or the first intervention)
    node = (
        "log_stellar_mass"
        if reps[0].intervention("log_stellar_mass")
        else reps[0].interventions[0].node
    )
    fig, axes = plt.subplots(1, len(reps), figsize=(3.4 * len(reps), 3.3), squeeze=False)
    for ax, r, nm in zip(axes[0], reps, names, strict=True):
        ex = r.examples.get(node, {})
        if "dlog_flux_truth" not in ex:
            continue
        t, mo = ex["dlog_flux_truth"], ex["dlog_flux_model"]
        ax.scatter(t, mo, s=3, alpha=0.5)
        ok = np.isfinite(t) & np.isfinite(mo)
        lim = [float(min(t[ok].min(), mo[ok].min())), float(max(t[ok].max(), mo[ok].max()))]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlabel("true dlog flux (r) [dex]", fontsize=8)
        ax.set_ylabel("model dlog flux (r) [dex]", fontsize=8)
        ax.set_title(nm, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"per-galaxy flux change under do({node} = own value + shift)", fontsize=9)
    fig.tight_layout()
    paths += _savefig(fig, out / "dlog_flux")
    plt.close(fig)

    # goals: value / bound per model
    goals = [goal_status(r) for r in reps]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    keys = list(goals[0])
    xs = np.arange(len(keys))
    width = 0.8 / len(reps)
    for i, (g, nm) in enumerate(zip(goals, names, strict=True)):
        vals = []
        for k in keys:
            bound = float(g[k]["goal"].split()[-1])
            v = g[k]["value"]
            vals.append(v / bound if bound and np.isfinite(v) else np.nan)
        ax.bar(xs + (i - (len(reps) - 1) / 2) * width, vals, width, label=nm)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(xs, keys, rotation=40, ha="right", fontsize=6)
    ax.set_ylabel("value / goal bound", fontsize=8)
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths += _savefig(fig, out / "goals")
    plt.close(fig)

    md = out / "REPORT.md"
    write_text(md, _markdown(reps, names))
    paths.append(md)
    return paths


def _markdown(reps: Sequence[EvaluationReport], names: list[str]) -> str:
    from acie.galaxy.properties import UNITS

    r0 = reps[0]
    head = " | ".join(names)
    sep = " | ".join("---" for _ in names)
    lines = [
        "# Deep SCM evaluation",
        "",
        f"{r0.n_galaxies} held-out simulated galaxies (seed {r0.seed}), scored against the "
        "simulator's exact counterfactuals. Interventions are relative: the model is asked for "
        "its own abducted value plus the shift, the simulator for the true value plus the shift. "
        "Each figure is the statistic ± its bootstrap standard error over galaxies. Pixel "
        "numbers in sky-noise sigma; dlog in dex; colour in mag.",
        "",
        "| model | version | mean confidence |",
        "| --- | --- | --- |",
        *[
            f"| {nm} | `{r.model_version[:16]}` | {r.mean_confidence:.3f} |"
            for r, nm in zip(reps, names, strict=True)
        ],
        "",
        "## Goals",
        "",
        f"| goal | bound | {head} | floor |",
        f"| --- | --- | {sep} | --- |",
    ]
    goals = [goal_status(r) for r in reps]
    for k in goals[0]:
        floors = [g[k] for g in goals if "floor" in g[k]]
        floor = (
            _cell({"value": floors[-1]["floor"], "se": floors[-1]["floor_se"]}, ".3g")
            if floors
            else "-"
        )
        cells = []
        for g in goals:
            e = g[k]
            cells.append(
                f"{_cell(e, '.3g')} {e['status']}"
                if e["status"] != "not measured"
                else "not measured"
            )
        lines.append(f"| {k} | {goals[0][k]['goal']} | " + " | ".join(cells) + f" | {floor} |")
    lines += [
        "",
        "Goals on do(M* x 2) unless stated; reversibility is the worst intervention; composition "
        "after 10 null cycles through the served path (watermark on). Floor: the error of the "
        "best oracle that knows every exogenous noise of the simulator except the quench draw, "
        "which no image identifies (acie.deepscm.identifiability_floor); no model can be "
        "expected below it.",
        "",
        "## Composition (null cycles, L1 on the galaxy's pixels)",
        "",
        f"| cycles | {head} |",
        f"| --- | {sep} |",
    ]
    for c in r0.composition:
        lines.append(
            f"| {c} | " + " | ".join(_cell(r.composition.get(c), ".3g") for r in reps) + " |"
        )
    lines += ["", "## Abduction of the factual properties (median |abducted − truth|)", ""]
    lines += [f"| property | unit | {head} |", f"| --- | --- | {sep} |"]
    for k in r0.abduction:
        row = " | ".join(_cell(r.abduction.get(k), ".3g") for r in reps)
        lines.append(f"| {k} | {UNITS.get(k) or '-'} | {row} |")
    for m in r0.interventions:
        lines += [
            "",
            f"## do({m.node} = own value {m.shift:+.4g} {UNITS.get(m.node) or ''})",
            "",
            f"| metric | {head} |",
            f"| --- | {sep} |",
        ]
        ms = [r.intervention(m.node) for r in reps]
        for key, label, fmt in _ROWS:
            if not any(x and key in x.summaries for x in ms):
                continue
            lines.append(
                f"| {label} | "
                + " | ".join(_cell(x.summaries.get(key) if x else None, fmt) for x in ms)
                + " |"
            )
        for who in ("model", "truth"):
            cells = []
            for x in ms:
                fr = x.details.get("flux_ratio", {}).get(who) if x else None
                cells.append(
                    f"{fr['median']:.3g} ({fr['p05']:.3g}–{fr['p95']:.3g}), dimmer {fr['dimmer_fraction']:.3f}"
                    if fr
                    else "-"
                )
            lines.append(
                f"| flux ratio {who}: median (5–95 %), dimmer fraction | "
                + " | ".join(cells)
                + " |"
            )
        cells = []
        for x in ms:
            fd = x.details.get("frechet_distance") if x else None
            cells.append(
                f"{fd['model_vs_true_cf']:.3g} (input: {fd['input_vs_true_cf']:.3g})" if fd else "-"
            )
        lines.append(
            "| Fréchet distance, predictor features, vs true cf | " + " | ".join(cells) + " |"
        )
        lines.append(
            "| above physics tolerance | "
            + " | ".join(f"{x.above_tolerance}/{x.n}" if x else "-" for x in ms)
            + " |"
        )
    pred = next((r.predictor for r in reps if r.predictor), None)
    if pred:
        lines += [
            "",
            "## The independent predictor's own accuracy (held-out factual images)",
            "",
            "| property | median abs error | median bias | R^2 |",
            "| --- | --- | --- | --- |",
        ]
        for k, a in pred["held_out_factual"].items():
            lines.append(
                f"| {k} | {a['median_abs_error']:.3g} | {a['median_bias']:.3g} | {a['r2']:.3f} |"
            )
    speeds = [r.speed for r in reps]
    if any(speeds):
        lines += [
            "",
            "## Speed (this machine, physics check on)",
            "",
            f"| | {head} |",
            f"| --- | {sep} |",
        ]
        for k in ("latency_p95_ms", "latency_median_ms", "throughput"):
            lines.append(
                f"| {k} | " + " | ".join(f"{s[k]:.1f}" if s else "-" for s in speeds) + " |"
            )
    lines += ["", "## Watermark", "", "```json", json.dumps(r0.watermark, indent=2), "```", ""]
    return "\n".join(lines)
