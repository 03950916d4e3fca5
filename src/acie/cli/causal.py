"""`acie causal`: Structural causal models: the demo, discovery, effect estimation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Structural causal models: the demo, discovery, effect estimation.", no_args_is_help=True
)


def _edge(text: str) -> tuple[str, str]:
    from acie.errors import InputValidationError, expected_got

    parts = [p.strip() for p in text.split("->")]
    if len(parts) != 2 or not all(parts):
        raise InputValidationError(expected_got("an edge", "'CAUSE->EFFECT'", text))
    return parts[0], parts[1]


def _read_csv(path: Path) -> Any:
    import pandas as pd

    from acie.errors import DataFormatError

    try:
        data = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataFormatError(f"cannot read {path} as CSV with a header row: {exc}") from exc
    if data.empty:
        raise DataFormatError(f"{path} has no data rows")
    return data


def _print_demo(report: dict[str, Any]) -> None:
    echo = typer.echo
    units = report["model"]["units"]
    echo("ACIE causal demo: a halo -> galaxy structural causal model")
    echo("=" * 64)
    echo("graph: " + ", ".join(f"{u} -> {v}" for u, v in report["model"]["edges"]))
    im = report["interventional_means"]
    echo(f"\n1. E[node | do(log_stellar_mass = 11.0)]: {im['n']:,} sampled rows vs closed form")
    echo(f"   {'node':<18}{'sampled':>12}{'± MC s.e.':>12}{'analytic':>12}  unit")
    for row in im["rows"]:
        echo(
            f"   {row['node']:<18}{row['sampled']:>12.4f}{row['mc_std_error']:>12.4f}"
            f"{row['analytic']:>12.4f}  {row['unit']}"
        )
    cf = report["counterfactual"]
    echo(f"\n2. unit counterfactual ({cf['intervention']}), abduction-action-prediction")
    echo(f"   {'node':<18}{'factual':>12}{'counterfactual':>16}")
    for k, v in cf["factual"].items():
        echo(f"   {k:<18}{v:>12.4f}{cf['counterfactual'][k]:>16.4f}  {units.get(k, '')}")
    echo(
        f"   change in abs_mag_r: {cf['abs_mag_r_change']:+.6f} mag "
        f"(exact: {cf['abs_mag_r_change_exact']:+.6f} mag)"
    )
    echo(f"   do(log_halo_mass = 12.5) is refused: {cf['refusal_for_do_halo_mass']}")
    ef = report["effect_of_merger_on_log_sfr"]
    echo(f"\n3. effect of a recent merger on log SFR [{ef['unit']}], n = {ef['n']:,}")
    echo(f"   backdoor adjustment set (d-separation): {ef['backdoor_set']}")
    echo(f"   true ATE {ef['true_ate']:.3f}; naive difference {ef['naive_difference']:.3f}")
    for e in ef["estimates"]:
        echo(
            f"   {e['method']:<24}{e['estimate']:8.3f} ± {e['std_error']:.3f}   "
            f"95% CI [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
        )
    se = report["dose_response_derivative"]
    fd, dr = se["scm_finite_difference"], se["doubly_robust_from_data"]
    echo(f"\n4. dose-response derivative {se['quantity']} [{se['unit']}]")
    echo(f"   analytic                 {se['analytic']:.4f}")
    echo(f"   SCM finite differences   {fd['estimate']:.4f} ± {fd['std_error']:.1e}")
    echo(
        f"   doubly robust from data  {dr['estimate']:.4f} ± {dr['std_error']:.4f}   "
        f"95% CI [{dr['ci_low']:.4f}, {dr['ci_high']:.4f}]  (adjusting for "
        f"{', '.join(se['adjustment_set'])}; effective n with density ratios "
        f"{dr['details']['effective_n_with_density_ratio']:.0f})"
    )
    di = report["discovery"]
    echo(
        f"\n5. PC discovery (causal-learn, Fisher z, alpha = {di['alpha']}, temporal tiers), "
        f"n = {di['n']:,}"
    )
    echo("   found: " + ", ".join(f"{u} -> {v}" for u, v in di["edges_found"]))
    echo(f"   missing edges: {di['missing'] or 'none'}; extra edges: {di['extra'] or 'none'}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    rows: Annotated[
        int, typer.Option(help="Observational rows for estimation and discovery.")
    ] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the causal demo: do, counterfactuals, backdoor, estimators, dose response, PC."""
    from threadpoolctl import threadpool_limits

    from acie.causal.demo import run_demo

    # the demo's linear algebra is small: BLAS threads only add contention
    with threadpool_limits(limits=1):
        report = run_demo(n_observational=rows, seed=seed)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_demo(report)


@app.command()
def discover(
    data: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV file with a header row, one numeric column per variable.",
        ),
    ],
    alpha: Annotated[float, typer.Option(help="Significance level of the CI tests.")] = 0.05,
    test: Annotated[str, typer.Option(help="CI test: fisherz, kci, chisq or gsq.")] = "fisherz",
    require: Annotated[
        list[str] | None, typer.Option(help="Required edge 'A->B' (repeatable).")
    ] = None,
    forbid: Annotated[
        list[str] | None, typer.Option(help="Forbidden edge 'A->B' (repeatable).")
    ] = None,
    tier: Annotated[
        list[str] | None,
        typer.Option(
            help="Temporal tier 'a,b,c', earliest first (repeatable); no edge points back."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Discover a causal graph with the PC algorithm (causal-learn)."""
    from acie.causal.discovery import pc_discover

    frame = _read_csv(data)
    result = pc_discover(
        frame,
        alpha=alpha,
        test=test,
        required=[_edge(e) for e in require or []],
        forbidden=[_edge(e) for e in forbid or []],
        tiers=[[c.strip() for c in t.split(",") if c.strip()] for t in tier or []] or None,
    )
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "n_rows": len(frame)}, indent=2))
        return
    typer.echo(
        f"PC on {len(frame)} rows, {len(result.nodes)} variables "
        f"(test {result.test}, alpha {result.alpha})"
    )
    for u, v in result.directed:
        typer.echo(f"  {u} -> {v}")
    for u, v in result.undirected:
        typer.echo(f"  {u} -- {v}   (orientation not identified)")
    for u, v in result.bidirected:
        typer.echo(f"  {u} <-> {v}   (conflicting orientations)")


from acie.cli import causal_estimate  # noqa: E402  (the estimate command's own module)

causal_estimate.register(app)

from acie.cli import causal_identify, causal_refute, causal_sensitivity  # noqa: E402

causal_identify.register(app)
causal_refute.register(app)
causal_sensitivity.register(app)
