"""The layers of ``docs/architecture.md``, enforced on the source.

science (causal, physics, darkmatter, galaxy, privacy) <- models (deepscm, analysis)
<- platform (store, jobs, config, compute) <- interfaces (cli, serve, client, ops).

Every ``import`` and ``from ... import`` in every module is read from the AST,
including imports inside functions and under ``TYPE_CHECKING``, so a lazy import
cannot hide a wrong-way dependency. ``acie.errors`` and ``acie.wire`` are the shared
base every layer may use. There is no list of exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "acie"

# rank of each top-level unit; a module may import only units of equal or lower rank,
# and science packages may not import one another in a cycle (checked separately)
BASE = {"errors": 0, "wire": 0, "_files": 0, "__init__": 0, "__main__": 4}
LAYERS = {
    "causal": 1,
    "physics": 1,
    "darkmatter": 1,
    "galaxy": 1,
    "privacy": 1,
    "deepscm": 2,
    "analysis": 2,
    "embedding": 2,
    "store": 3,
    "jobs": 3,
    "config": 3,
    "compute": 3,
    "cli": 4,
    "serve": 4,
    "client": 4,
    "ops": 4,
}
RANK = {**LAYERS, **BASE}
LAYER_NAME = {0: "base", 1: "science", 2: "models", 3: "platform", 4: "interfaces"}


def _unit(module: str) -> str | None:
    """``acie.physics.virial`` -> ``physics``; non-acie modules -> None."""
    parts = module.split(".")
    if parts[0] != "acie":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every acie module imported by ``path`` (absolute, relatives resolved), with line."""
    return _imports_of(path.read_text(), _module_name(path), path.name == "__init__.py")


def _imports_of(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    here = module.split(".")
    package = here if is_package else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            # `from acie import causal` imports the subpackage itself
            if mod == "acie":
                found += [
                    (node.lineno, f"acie.{a.name}")
                    for a in node.names
                    if (SRC / a.name).is_dir() or (SRC / f"{a.name}.py").is_file()
                ]
    return [(line, m) for line, m in found if m.split(".")[0] == "acie"]


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "_proto" not in p.parts)


def _violations() -> list[str]:
    bad = []
    for path in _sources():
        src_unit = _unit(_module_name(path))
        if src_unit is None or src_unit not in RANK:
            bad.append(f"{path.relative_to(SRC)}: unit {src_unit!r} is in no layer")
            continue
        for line, mod in _imports(path):
            dst = _unit(mod)
            if dst is None or dst == src_unit:
                continue
            if dst not in RANK:
                bad.append(f"{path.relative_to(SRC)}:{line}: imports {mod}, which is in no layer")
            elif RANK[dst] > RANK[src_unit]:
                bad.append(
                    f"{path.relative_to(SRC)}:{line}: {LAYER_NAME[RANK[src_unit]]} unit "
                    f"{src_unit!r} imports {mod} ({LAYER_NAME[RANK[dst]]})"
                )
    return bad


def test_the_client_does_not_import_server_internals() -> None:
    """``acie.client`` talks to a server over the wire; it shares only ``acie.wire``."""
    bad = [
        f"{path.relative_to(SRC)}:{line}: imports {mod}"
        for path in _sources()
        if _unit(_module_name(path)) == "client"
        for line, mod in _imports(path)
        if _unit(mod) == "serve"
    ]
    assert not bad, "client imports of the server:\n  " + "\n  ".join(bad)


def _science_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {u: set() for u, r in LAYERS.items() if r in (1, 2)}
    for path in _sources():
        src_unit = _unit(_module_name(path))
        if src_unit not in graph:
            continue
        for _, mod in _imports(path):
            dst = _unit(mod)
            if dst in graph and dst != src_unit:
                graph[src_unit].add(dst)
    return graph


def test_every_import_points_down_the_layers() -> None:
    bad = _violations()
    assert not bad, "imports that point the wrong way:\n  " + "\n  ".join(bad)


def test_no_cycles_between_science_and_model_packages() -> None:
    graph = _science_graph()
    cycles = []
    for a, deps in graph.items():
        for b in deps:
            if a in graph.get(b, set()):
                cycles.append(tuple(sorted((a, b))))
    assert not cycles, f"packages that import each other: {sorted(set(cycles))}"


MAX_MODULE_LINES = 400
LONG_MODULE_REASON = "longer than ~400 lines because"


def _long_modules_without_a_reason() -> list[str]:
    """Modules over :data:`MAX_MODULE_LINES` whose docstring does not say why."""
    bad = []
    for path in _sources():
        rel = path.relative_to(SRC)
        if rel.parts[:2] == ("store", "migrations"):
            continue  # generated migration scripts
        text = path.read_text()
        n_lines = len(text.splitlines())
        if n_lines <= MAX_MODULE_LINES:
            continue
        docstring = " ".join((ast.get_docstring(ast.parse(text)) or "").split())
        if LONG_MODULE_REASON not in docstring:
            bad.append(f"{rel}: {n_lines} lines")
    return bad


def test_modules_are_short_or_say_why() -> None:
    """One concept per module: at most 400 lines, or the module docstring says why not.

    The reason is one sentence containing "longer than ~400 lines because" (line breaks
    inside it are allowed). The generated gRPC stubs and the migration scripts are
    exempt.
    """
    bad = _long_modules_without_a_reason()
    assert not bad, (
        f"modules over {MAX_MODULE_LINES} lines whose docstring does not say "
        f"'{LONG_MODULE_REASON} ...':\n  " + "\n  ".join(bad)
    )


def test_every_package_is_in_a_layer() -> None:
    units = {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    assert units <= set(RANK), f"not in any layer: {sorted(units - set(RANK))}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from acie.config import get_settings\n", ["acie.config"]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import acie.serve\n",
            ["acie.serve"],
        ),
        ("from .. import config\n", ["acie", "acie.config"]),
        ("from acie import __version__\n", ["acie"]),
    ],
)
def test_the_checker_sees_lazy_and_relative_imports(source: str, expected: list[str]) -> None:
    """The checker itself: imports in functions, TYPE_CHECKING and relative ones count."""
    assert [m for _, m in _imports_of(source, "acie.physics.probe", False)] == expected
