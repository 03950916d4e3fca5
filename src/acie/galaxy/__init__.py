"""Causal galaxy simulator.

Explicit exogenous noise, image rendering and exact ground-truth counterfactuals.

Modules: :mod:`~acie.galaxy.properties` (nodes, units, DAG), :mod:`~acie.galaxy.relations`
(cited scaling relations), :mod:`~acie.galaxy.mechanisms` (the structural equations),
:mod:`~acie.galaxy.simulator` (the simulator), :mod:`~acie.galaxy.batch` (its output),
:mod:`~acie.galaxy.render` (Sérsic renderer), :mod:`~acie.galaxy.measure` (image measurements),
:mod:`~acie.galaxy.constraints` (physics constraints on the properties, projection and
refusal) and :mod:`~acie.galaxy.dataset` (HDF5 datasets). Heavy imports are deferred to
first use.
"""

from typing import TYPE_CHECKING, Any

from acie.galaxy.properties import NUISANCE_NAMES, PROPERTY_NAMES, UNITS, property_graph

if TYPE_CHECKING:  # what __getattr__ imports on first use, visible to type checkers and IDEs
    from acie.galaxy.batch import GalaxyBatch
    from acie.galaxy.simulator import GalaxySimulator

__all__ = [
    "NUISANCE_NAMES",
    "PROPERTY_NAMES",
    "UNITS",
    "GalaxyBatch",
    "GalaxySimulator",
    "property_graph",
]


def __getattr__(name: str) -> Any:
    """Import the simulator and its batch type on first use (they pull in scipy)."""
    if name == "GalaxySimulator":
        from acie.galaxy.simulator import GalaxySimulator

        return GalaxySimulator
    if name == "GalaxyBatch":
        from acie.galaxy.batch import GalaxyBatch

        return GalaxyBatch
    raise AttributeError(f"module 'acie.galaxy' has no attribute {name!r}")
