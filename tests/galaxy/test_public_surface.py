import importlib

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
