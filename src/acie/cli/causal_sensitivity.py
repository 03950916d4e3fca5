"""`acie causal sensitivity` (partial R², robustness value, contour plot) and `acie causal evalue`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def _design(frame: Any, covariates: list[str]) -> tuple[Any, list[str]]:
    """Covariate matrix with non-numeric columns dummy-encoded (first level dropped)."""
    import pandas as pd

    from acie.errors import UnknownNameError

    for c in covariates:
        if c not in frame.columns:
            raise UnknownNameError(
                f"unknown column {c!r}; the columns are: {', '.join(map(str, frame.columns))}"
            )
    parts = []
    for c in covariates:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            parts.append(col.astype(float).to_frame())
        else:
            parts.append(pd.get_dummies(col.astype(str), prefix=c, drop_first=True, dtype=float))
    x = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    return x, list(x.columns)


def sensitivity(
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV file with a header row.")
    ],
    treatment: Annotated[str, typer.Option(help="Treatment column (numeric).")],
    outcome: Annotated[str, typer.Option(help="Outcome column (numeric).")],
    covariate: Annotated[
        list[str] | None,
        typer.Option(help="Covariate column (repeatable); text columns are dummy-encoded."),
    ] = None,
    benchmark: Annotated[
        list[str] | None,
        typer.Option(help="Numeric covariate to bound the confounder by (repeatable)."),
    ] = None,
    kd: Annotated[
        list[float] | None, typer.Option(help="Strength multiple of the benchmark (repeatable).")
    ] = None,
    q: Annotated[float, typer.Option(help="Fraction of the estimate to explain away.")] = 1.0,
    alpha: Annotated[float, typer.Option(help="Significance level of RV_{q,alpha}.")] = 0.05,
    plot: Annotated[
        Path | None, typer.Option(help="Write the contour plot here (.png or .pdf).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Sensitivity of the OLS effect to an unobserved confounder (Cinelli & Hazlett 2020)."""
    from acie._files import atomic_output
    from acie.causal.sensitivity import ols_sensitivity
    from acie.cli.causal import _read_csv
    from acie.errors import InputValidationError, UnknownNameError, expected_got

    if plot is not None and plot.suffix.lower() not in {".png", ".pdf"}:
        raise InputValidationError(expected_got("--plot", "a .png or .pdf path", str(plot)))
    frame = _read_csv(data)
    for c in (treatment, outcome):
        if c not in frame.columns:
            raise UnknownNameError(
                f"unknown column {c!r}; the columns are: {', '.join(map(str, frame.columns))}"
            )
    covs = list(covariate or [])
    if treatment in covs or outcome in covs or treatment == outcome:
        raise InputValidationError(
            expected_got("treatment, outcome and covariates", "distinct columns", covs)
        )
    x, names = _design(frame, covs)
    marks = {}
    for b in benchmark or []:
        if b not in names:
            raise InputValidationError(
                expected_got("--benchmark", f"a numeric covariate among {names}", b)
            )
        marks[b] = names.index(b)
    try:
        y = frame[outcome].to_numpy(dtype=float)
        d = frame[treatment].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputValidationError(
            expected_got("treatment and outcome", "numeric columns", str(exc))
        ) from None
    result = ols_sensitivity(
        y, d, x.to_numpy(dtype=float), benchmarks=marks, kd=kd or [1.0], q=q, alpha=alpha
    )
    if plot is not None:
        from acie.causal.sensitivity_plot import sensitivity_contour_figure

        fig = sensitivity_contour_figure(result, treatment=treatment)
        with atomic_output(plot) as tmp:
            fig.savefig(tmp, dpi=150, format=plot.suffix[1:].lower())
    if as_json:
        out = {"treatment": treatment, "outcome": outcome, **result.to_dict()}
        out["plot"] = str(plot) if plot else None
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(
        f"OLS effect of {treatment} on {outcome}: {result.estimate:.4g} "
        f"(se {result.std_error:.3g}, t {result.t_statistic:.3g}, dof {result.dof})"
    )
    typer.echo(f"  partial R² of the treatment with the outcome: {result.partial_r2_yd_x:.2%}")
    typer.echo(f"  robustness value RV_q (q = {q:g}): {result.rv_q:.2%}")
    typer.echo(f"  RV_(q, alpha) (alpha = {alpha:g}): {result.rv_q_alpha:.2%}")
    for bound in result.bounds:
        typer.echo(
            f"  {bound.kd:g}x {bound.covariate}: R²(D~Z|X) {bound.r2dz_x:.4f}, R²(Y~Z|D,X) {bound.r2yz_dx:.4f}, "
            f"adjusted {bound.adjusted_estimate:.4g} [{bound.adjusted_ci_low:.4g}, {bound.adjusted_ci_high:.4g}]"
        )
    if plot is not None:
        typer.echo(f"  contour plot: {plot}")


def evalue(
    estimate: Annotated[float, typer.Option(help="The effect estimate.")],
    scale: Annotated[str, typer.Option(help="rr, or, hr or smd.")] = "rr",
    ci_low: Annotated[float | None, typer.Option(help="Lower confidence limit.")] = None,
    ci_high: Annotated[float | None, typer.Option(help="Upper confidence limit.")] = None,
    se: Annotated[float | None, typer.Option(help="Standard error (smd only).")] = None,
    common: Annotated[
        bool, typer.Option("--common", help="Outcome prevalence ≥ 15 % (or and hr).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """E-values (VanderWeele & Ding 2017) of an estimate and its confidence interval."""
    from acie.causal.evalue import evalue_hr, evalue_or, evalue_rr, evalue_smd
    from acie.errors import InputValidationError, expected_got

    scale = scale.lower()
    if scale == "rr":
        ev = evalue_rr(estimate, ci_low, ci_high)
    elif scale == "or":
        ev = evalue_or(estimate, ci_low, ci_high, rare=not common)
    elif scale == "hr":
        ev = evalue_hr(estimate, ci_low, ci_high, rare=not common)
    elif scale == "smd":
        ev = evalue_smd(estimate, se)
    else:
        raise InputValidationError(expected_got("--scale", "rr, or, hr or smd", scale))
    if as_json:
        typer.echo(json.dumps(ev.to_dict(), indent=2))
        return
    typer.echo(f"E-value of the estimate: {ev.point:.3f}")
    if ev.ci is not None:
        typer.echo(f"E-value of the confidence limit: {ev.ci:.3f}")


def register(app: typer.Typer) -> None:
    """Attach ``sensitivity`` and ``evalue`` to ``app`` (the ``causal`` group)."""
    app.command()(sensitivity)
    app.command()(evalue)
