import ast
import importlib
import inspect

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "acie.galaxy",
        "acie.galaxy.properties",
        "acie.galaxy.relations",
        "acie.galaxy.render",
        "acie.galaxy.mechanisms",
        "acie.galaxy.batch",
        "acie.galaxy.simulator",
        "acie.galaxy.measure",
        "acie.galaxy.dataset",
        "acie.galaxy.plots",
        "acie.physics",
        "acie.physics.constraints",
        "acie.physics.projection",
        "acie.galaxy.constraints",
        "acie.physics.nfw",
        "acie.physics.virial",
        "acie.physics.conservation",
        "acie.physics.constants",
        "acie.physics.nbody",
    ],
)
def test_every_exported_name_resolves(module):
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def _type_checking_imports(module) -> dict[str, str]:
    """Name -> source module of every import under ``if TYPE_CHECKING:`` in ``module``."""
    tree = ast.parse(inspect.getsource(module))
    out = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    out.update({alias.name: stmt.module for alias in stmt.names})
    return out


@pytest.mark.parametrize("package", ["acie.galaxy", "acie.analysis"])
def test_lazy_exports_are_visible_to_type_checkers(package):
    # every name __getattr__ loads on first use is also imported under TYPE_CHECKING,
    # from the module that __getattr__ resolves it to
    mod = importlib.import_module(package)
    lazy = set(mod.__all__) - set(vars(mod))
    assert lazy
    imported = _type_checking_imports(mod)
    assert set(imported) == lazy
    for name in lazy:
        assert getattr(importlib.import_module(imported[name]), name) is getattr(mod, name)
    exports = getattr(mod, "_EXPORTS", None)
    if exports is not None:
        assert sorted(mod.__all__) == sorted(exports)
