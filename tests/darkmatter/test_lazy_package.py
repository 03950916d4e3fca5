"""acie.darkmatter and acie.darkmatter.formfactor load their modules lazily, visibly to type checkers."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys

import pytest


def _type_checking_imports(module) -> dict[str, str]:
    """Bound name -> source module of every import under ``if TYPE_CHECKING:``."""
    out = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module is not None:
                    out.update({a.asname or a.name: stmt.module for a in stmt.names})
    return out


@pytest.mark.parametrize(
    ("package", "lazy_modules"),
    [("acie.darkmatter", "_LAZY"), ("acie.darkmatter.formfactor", "_MODULES")],
)
def test_every_lazy_name_is_imported_under_type_checking_from_where_it_resolves(
    package, lazy_modules
):
    pkg = importlib.import_module(package)
    lazy = set(pkg.__all__) | set(getattr(pkg, lazy_modules))
    imported = _type_checking_imports(pkg)
    assert set(imported) == lazy
    for name, source in imported.items():
        if source == package:  # a submodule
            expected = importlib.import_module(f"{package}.{name}")
        else:  # a name exported from one
            expected = getattr(importlib.import_module(source), name)
        assert getattr(pkg, name) is expected, name


def test_importing_the_package_loads_none_of_its_modules():
    code = (
        "import sys, acie.darkmatter, acie.darkmatter.formfactor; "
        "print(sorted(m for m in sys.modules if m.startswith('acie.darkmatter.')"
        " and m != 'acie.darkmatter.formfactor'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
