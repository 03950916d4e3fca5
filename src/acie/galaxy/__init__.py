"""Causal galaxy simulator with explicit exogenous noise, image rendering and exact
ground-truth counterfactuals.

Modules: :mod:`~acie.galaxy.properties` (nodes, units, DAG), :mod:`~acie.galaxy.relations`
(cited scaling relations), :mod:`~acie.galaxy.mechanisms` (the structural equations),
:mod:`~acie.galaxy.simulator` (the simulator), :mod:`~acie.galaxy.batch` (its output),
:mod:`~acie.galaxy.render` (Sérsic renderer), :mod:`~acie.galaxy.measure` (image measurements),
:mod:`~acie.galaxy.constraints` (physics constraints on the properties, projection and
refusal) and :mod:`~acie.galaxy.dataset` (HDF5 datasets). Heavy imports are deferred to
first use.
"""

from acie.galaxy.properties import NUISANCE_NAMES, PROPERTY_NAMES, UNITS, property_graph

__all__ = [
    "NUISANCE_NAMES",
    "PROPERTY_NAMES",
    "UNITS",
    "GalaxyBatch",
    "GalaxySimulator",
    "property_graph",
]


def __getattr__(name: str):
    if name == "GalaxySimulator":
        from acie.galaxy.simulator import GalaxySimulator

        return GalaxySimulator
    if name == "GalaxyBatch":
        from acie.galaxy.batch import GalaxyBatch

        return GalaxyBatch
    raise AttributeError(f"module 'acie.galaxy' has no attribute {name!r}")
