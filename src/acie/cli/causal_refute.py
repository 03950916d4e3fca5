"""`acie causal refute`: placebo, random common cause, subset, dummy outcome, bootstrap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def refute(
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV file with a header row.")
    ],
    treatment: Annotated[str, typer.Option(help="Treatment column.")],
    outcome: Annotated[str, typer.Option(help="Outcome column.")],
    covariate: Annotated[
        list[str] | None, typer.Option(help="Adjustment column (repeatable).")
    ] = None,
    no_adjustment: Annotated[
        bool, typer.Option("--no-adjustment", help="Estimate without covariates, on purpose.")
    ] = False,
    method: Annotated[str, typer.Option(help="Estimator: regression, ipw or aipw.")] = "aipw",
    refuter: Annotated[
        list[str] | None,
        typer.Option(
            help="placebo_treatment, random_common_cause, data_subset, dummy_outcome or "
            "bootstrap (repeatable; default: all)."
        ),
    ] = None,
    simulations: Annotated[int, typer.Option(help="Runs per refuter.")] = 20,
    k: Annotated[
        float, typer.Option(help="Tolerance in standard errors (common cause, subset).")
    ] = 1.0,
    level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of every draw.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Refute an effect estimate: each refuter re-estimates on altered data and reads PASS/FAIL."""
    from acie.causal.refute import Refuter, refute_estimate
    from acie.cli.causal import _read_csv
    from acie.errors import InputValidationError, expected_got

    covariates = list(covariate or [])
    if not covariates and not no_adjustment:
        raise InputValidationError(
            expected_got(
                "an adjustment set",
                "--covariate (repeatable), or --no-adjustment when nothing confounds",
                "neither",
            )
        )
    frame = _read_csv(data)
    report = refute_estimate(
        frame,
        treatment=treatment,
        outcome=outcome,
        covariates=covariates,
        method=method,
        refuters=refuter or list(Refuter),
        n_simulations=simulations,
        k=k,
        level=level,
        seed=seed,
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(f"estimate: {report.estimate}")
    for r in report.refutations:
        typer.echo(f"  {r}")
    typer.echo(f"{'all refutations passed' if report.passed else 'some refutations FAILED'}")


def register(app: typer.Typer) -> None:
    """Attach ``refute`` to ``app`` (the ``causal`` group)."""
    app.command()(refute)
