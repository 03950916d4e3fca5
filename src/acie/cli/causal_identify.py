"""`acie causal identify`: the estimand of P(y | do(x)) in a graph with hidden confounders."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def _pair(text: str, arrow: str) -> tuple[str, str]:
    from acie.errors import InputValidationError, expected_got

    parts = [p.strip() for p in text.split(arrow)]
    if len(parts) != 2 or not all(parts):
        raise InputValidationError(expected_got("an edge", f"'A{arrow}B'", text))
    return parts[0], parts[1]


def identify(
    treatment: Annotated[list[str], typer.Option(help="Treatment node (repeatable).")],
    outcome: Annotated[list[str], typer.Option(help="Outcome node (repeatable).")],
    edge: Annotated[
        list[str] | None, typer.Option(help="Directed edge 'A->B' (repeatable).")
    ] = None,
    confounded: Annotated[
        list[str] | None,
        typer.Option(help="Hidden common cause of two nodes, 'A<->B' (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Identify P(outcome | do(treatment)) with the ID algorithm; print the formula."""
    from acie.causal.id_algorithm import ADMG, identify_effect
    from acie.errors import IdentificationError, InputValidationError, expected_got

    if not edge and not confounded:
        raise InputValidationError(expected_got("the graph", "at least one --edge", "none"))
    graph = ADMG.from_edges(
        [_pair(e, "->") for e in edge or []], [_pair(e, "<->") for e in confounded or []]
    )
    query = f"P({', '.join(outcome)} | do({', '.join(treatment)}))"
    try:
        expr = identify_effect(graph, treatment, outcome)
    except IdentificationError as exc:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "query": query,
                        "identifiable": False,
                        "reason": str(exc),
                        "estimand": None,
                        "latex": None,
                    },
                    indent=2,
                )
            )
        else:
            typer.echo(f"{query} is {exc}")
        return
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "query": query,
                    "identifiable": True,
                    "reason": None,
                    "estimand": str(expr),
                    "latex": expr.latex(),
                },
                indent=2,
            )
        )
        return
    typer.echo(f"{query} = {expr}")


def register(app: typer.Typer) -> None:
    """Attach ``identify`` to ``app`` (the ``causal`` group)."""
    app.command()(identify)
