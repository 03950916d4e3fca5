"""`acie causal estimate`: average effects by backdoor adjustment, IV, front-door or mediation.

The adjustment set is never assumed: it comes from ``--covariate`` (checked against
the graph by the backdoor criterion when ``--edge`` is given too), from the graph of
``--edge`` (a minimal backdoor set), or is explicitly empty with ``--no-adjustment``;
otherwise the command refuses. Graph nodes that are not columns of the data must be
declared unobserved with ``--latent``. Estimator warnings (weights that cannot be
trusted, weak instruments) are printed, and kept in the JSON output.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

BACKDOOR_METHODS = ("regression", "ipw", "aipw")
METHODS = (*BACKDOOR_METHODS, "all", "iv", "frontdoor", "mediation")


def _numeric(frame: Any, names: list[str], role: str) -> Any:
    import pandas as pd

    from acie.errors import InputValidationError, expected_got

    for c in names:
        if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].isna().any():
            raise InputValidationError(
                expected_got(f"{role} {c!r}", "numeric values without NaN", str(frame[c].dtype))
            )
    return frame[names].to_numpy(dtype=float)


def _graph(edges: list[str], latent: list[str], columns: list[str]) -> Any:
    """The CausalDAG of ``--edge``, after checking its nodes against the data's columns."""
    from acie.causal.graph import CausalDAG
    from acie.cli.causal import _edge
    from acie.errors import InputValidationError, expected_got

    graph = CausalDAG(edges=[_edge(e) for e in edges])
    nodes = {str(n) for n in graph.nodes}
    stray = sorted(set(latent) - nodes) + sorted(set(latent) & set(columns))
    if stray:
        raise InputValidationError(
            expected_got("--latent", "graph nodes that are not columns of the data", stray)
        )
    missing = sorted(nodes - set(columns) - set(latent))
    if missing:
        raise InputValidationError(
            expected_got(
                "every graph node",
                "a column of the data, or declared unobserved with --latent",
                f"no column for {', '.join(missing)}",
            )
        )
    return graph


def _adjustment(
    graph: Any, treatment: str, outcome: str, covariates: list[str], latent: list[str], none: bool
) -> tuple[list[str], str]:
    """The adjustment set and where it came from; refuses when nothing says what it is."""
    from acie.causal.identification import backdoor_adjustment_set, is_backdoor_set
    from acie.errors import InputValidationError, expected_got

    if none:
        if covariates or graph is not None:
            raise InputValidationError(
                expected_got("--no-adjustment", "without --covariate or --edge", covariates)
            )
        return [], "none (--no-adjustment: assumes no confounding)"
    if graph is None:
        if not covariates:
            raise InputValidationError(
                expected_got(
                    "an adjustment set",
                    "--covariate, a graph (--edge) or --no-adjustment",
                    "none (adjusting for nothing would assume no confounding)",
                )
            )
        return covariates, "given"
    observed = [str(n) for n in graph.nodes if str(n) not in latent]
    if covariates:
        unknown = sorted(set(covariates) - set(observed))
        if unknown or not is_backdoor_set(graph, treatment, outcome, covariates):
            derived = sorted(backdoor_adjustment_set(graph, treatment, outcome, observed=observed))
            raise InputValidationError(
                expected_got(
                    "--covariate",
                    f"a set satisfying the backdoor criterion in the graph (e.g. {derived})",
                    covariates if not unknown else f"{covariates} ({unknown} not in the graph)",
                )
            )
        return covariates, "given; a valid backdoor set of the graph"
    derived = sorted(backdoor_adjustment_set(graph, treatment, outcome, observed=observed))
    return derived, "minimal backdoor set of the given graph"


def _print(out: dict[str, Any]) -> None:
    echo = typer.echo
    echo(
        f"effect of {out['treatment']} on {out['outcome']}, {out['design']}; "
        f"estimates in {out['estimate_unit'] or 'outcome units'}"
    )
    for note in out["encoding"]:
        echo(f"  encoding: {note}")
    for r in out["estimates"]:
        d = r["details"]
        pct = round(100 * r["level"])
        echo(
            f"  {r['method']}: {r['estimand']} = {r['estimate']:.4g} ± {r['std_error']:.2g} "
            f"({pct}% CI {r['ci_low']:.4g} to {r['ci_high']:.4g}, n={r['n']})"
        )
        if "effective_sample_size" in d:
            echo(
                f"    weights: effective sample size {d['effective_sample_size']:.0f} of "
                f"{r['n']}, largest weight share {d['max_weight_share']:.1%}"
                + ("" if d["weights_reliable"] else " (cannot be trusted)")
            )
        if "first_stage_F" in d:
            echo(
                f"    first stage: F = {d['first_stage_F']:.2f} "
                f"(p = {d['first_stage_F_pvalue']:.2g}); OLS for comparison "
                f"{d['ols_estimate']:.4g}"
            )
    if out.get("mediation"):
        m = out["mediation"]
        pct = round(100 * m["level"])
        for key in ("nde", "nie", "total"):
            lo, hi = m[f"{key}_ci"]
            echo(f"  {key.upper():<6}{m[key]:10.4g}   {pct}% CI [{lo:.4g}, {hi:.4g}]")
        echo(f"  proportion mediated {m['proportion_mediated']:.3g} (n={m['n']})")
    for w in out["warnings"]:
        echo(f"  warning: {w}")


def estimate(
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV file with a header row.")
    ],
    treatment: Annotated[str, typer.Option(help="Treatment column (0/1, two labels, or numeric).")],
    outcome: Annotated[str, typer.Option(help="Outcome column.")],
    covariate: Annotated[
        list[str] | None,
        typer.Option(help="Adjustment column (repeatable); checked against --edge if given."),
    ] = None,
    edge: Annotated[
        list[str] | None,
        typer.Option(help="Causal graph edge 'A->B' (repeatable); gives the adjustment set."),
    ] = None,
    latent: Annotated[
        list[str] | None,
        typer.Option(help="Graph node that is not observed (repeatable)."),
    ] = None,
    no_adjustment: Annotated[
        bool, typer.Option("--no-adjustment", help="Adjust for nothing (assumes no confounding).")
    ] = False,
    method: Annotated[
        str, typer.Option(help="regression, ipw, aipw, all, iv, frontdoor or mediation.")
    ] = "all",
    estimand: Annotated[str, typer.Option(help="ate, att or atc (binary treatment).")] = "ate",
    treatment_type: Annotated[
        str | None,
        typer.Option(help="binary or continuous: how to read a two-valued non-0/1 treatment."),
    ] = None,
    instrument: Annotated[
        list[str] | None, typer.Option(help="Instrument column for --method iv (repeatable).")
    ] = None,
    mediator: Annotated[
        list[str] | None,
        typer.Option(help="Mediator column for --method frontdoor or mediation (repeatable)."),
    ] = None,
    level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstraps.")] = 0,
    outcome_unit: Annotated[
        str, typer.Option(help="Unit of the outcome column (for the output).")
    ] = "",
    treatment_unit: Annotated[
        str, typer.Option(help="Unit of the treatment column (for the output).")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimates as JSON.")] = False,
) -> None:
    """Estimate the average effect of a treatment column on an outcome column."""
    from acie.causal.encoding import encode_columns
    from acie.cli.causal import _read_csv
    from acie.errors import InputValidationError, expected_got

    if method not in METHODS:
        raise InputValidationError(expected_got("--method", f"one of {list(METHODS)}", method))
    frame = _read_csv(data)
    covariates, latent_nodes = list(covariate or []), list(latent or [])
    instruments, mediators = list(instrument or []), list(mediator or [])
    graph = _graph(list(edge), latent_nodes, list(map(str, frame.columns))) if edge else None
    cols = encode_columns(
        frame,
        treatment=treatment,
        outcome=outcome,
        covariates=covariates,
        extra=[*instruments, *mediators],
        treatment_type=treatment_type,
    )
    if method == "iv":
        if not instruments:
            raise InputValidationError(expected_got("--method iv", "--instrument", "none"))
        design = f"instruments {instruments}, exogenous covariates {covariates or 'none'}"
    elif method == "frontdoor":
        design = _frontdoor_design(graph, treatment, outcome, mediators, covariates)
    else:
        if method == "mediation" and len(mediators) != 1:
            raise InputValidationError(
                expected_got("--method mediation", "exactly one --mediator", mediators)
            )
        covariates, source = _adjustment(
            graph, treatment, outcome, covariates, latent_nodes, no_adjustment
        )
        design = f"adjusting for {covariates or 'nothing'} ({source})"
        if covariates != list(covariate or []):  # derived from the graph: encode those
            cols = encode_columns(
                frame,
                treatment=treatment,
                outcome=outcome,
                covariates=covariates,
                extra=mediators,
                treatment_type=treatment_type,
            )
    x = cols.covariates if cols.covariates.shape[1] else None
    common: dict[str, Any] = {"outcome": cols.outcome, "treatment": cols.treatment}
    results: list[Any] = []
    mediation: dict[str, Any] | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method in ("iv", "frontdoor", "mediation"):
            results, mediation = _special(
                method, frame, common, x, instruments, mediators, level, seed, estimand
            )
        else:
            from acie.causal.estimators import EffectMethod, estimate_effect

            chosen = list(EffectMethod) if method == "all" else [EffectMethod(method)]
            for m in chosen:
                kw: dict[str, Any] = {"estimand": estimand, "level": level}
                if m is not EffectMethod.IPW:
                    kw["seed"] = seed
                results.append(
                    estimate_effect(
                        frame,
                        treatment=treatment,
                        outcome=outcome,
                        covariates=covariates,
                        method=m,
                        treatment_type=treatment_type,
                        **kw,
                    )
                )
    kind = results[0].treatment_kind if results else cols.treatment_kind or "binary"
    if kind == "binary" or method == "mediation":
        unit = outcome_unit
    else:
        unit = f"({outcome_unit or 'outcome unit'}) / ({treatment_unit or 'treatment unit'})"
    out = {
        "treatment": treatment,
        "outcome": outcome,
        "method": method,
        "covariates": covariates,
        "design": design,
        "estimate_unit": unit,
        "encoding": cols.notes,
        "estimates": [r.to_dict() for r in results],
        "mediation": mediation,
        "warnings": list(dict.fromkeys(str(w.message) for w in caught)),
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        _print(out)


def _frontdoor_design(
    graph: Any, treatment: str, outcome: str, mediators: list[str], covariates: list[str]
) -> str:
    from acie.causal.identification import is_frontdoor_set
    from acie.errors import IdentificationError, InputValidationError, expected_got

    if not mediators:
        raise InputValidationError(expected_got("--method frontdoor", "--mediator", "none"))
    if covariates:
        raise InputValidationError(
            expected_got("--method frontdoor", "no --covariate (it adjusts through M)", covariates)
        )
    if graph is None:
        return f"front-door through {mediators} (criterion assumed: no graph given)"
    if not is_frontdoor_set(graph, treatment, outcome, mediators):
        raise IdentificationError(
            f"{mediators} do not satisfy the front-door criterion for {treatment} -> {outcome} "
            "in the given graph"
        )
    return f"front-door through {mediators} (criterion checked on the graph)"


def _special(
    method: str,
    frame: Any,
    common: dict[str, Any],
    x: Any,
    instruments: list[str],
    mediators: list[str],
    level: float,
    seed: int,
    estimand: str,
) -> tuple[list[Any], dict[str, Any] | None]:
    """Run the IV, front-door or mediation estimator on the encoded columns."""
    from acie.errors import InputValidationError, expected_got

    if estimand != "ate":
        raise InputValidationError(
            expected_got(f"--estimand with --method {method}", "ate", estimand)
        )
    if method == "iv":
        from acie.causal.iv import iv_effect

        z = _numeric(frame, instruments, "instrument")
        return [iv_effect(**common, instruments=z, covariates=x, level=level)], None
    m = _numeric(frame, mediators, "mediator")
    if method == "frontdoor":
        from acie.causal.frontdoor import frontdoor_effect

        return [frontdoor_effect(**common, mediators=m, level=level, seed=seed)], None
    from acie.causal.mediation import mediation_effects

    res = mediation_effects(**common, mediator=m[:, 0], covariates=x, level=level, seed=seed)
    return [], res.to_dict()


def register(app: typer.Typer) -> None:
    """Attach ``estimate`` to ``app`` (the ``causal`` group)."""
    app.command()(estimate)
