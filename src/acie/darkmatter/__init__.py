"""Dark-matter direct-detection physics (DMCA's science core).

Modules, each one concept (imported lazily on first attribute access, so
``import acie.darkmatter`` loads nothing heavy):

``halo``           SHM (closed-form η), SHM++, Earth velocity (astropy)
``halo_parameters`` HaloParameters and the cited, switchable parameter sets
``nuclear``        spin-independent WIMP–nucleus spectra, Helm form factor, modulation
``targets``        nuclear targets: natural isotope mixtures and compounds
``electron``       DM–electron rates from crystal form factors |f(q, E)|²
``ionization``     energy → electron–hole pairs (step and Fano models)
``screening``      optional Thomas–Fermi-type screening
``formfactor``     subpackage: FormFactorTable, its HDF5 files, shipped tables, PySCF DFT,
                   the resumable runner, convergence and its plots
``reach``          Poisson / Feldman–Cousins / CLs limits and σ reach curves
``uncertainty``    seeded halo Monte Carlo, median and 68/95 % bands
``plots``          300 dpi figures with units
``materials``, ``excitons``, ``selector``: materials library, external (BSE) tables, ranking.
``halo_catalogue``, ``formfactor_systematics``, ``budget``, ``advisor``: Gaia-era halo sets
with uncertainties, form-factor systematics, the reach's systematic budget, the advisor.
``spin_dependent``, ``structure_functions``, ``migdal``, ``directional``, ``daily_rotation``,
``channel_data``: spin-dependent and Migdal spectra, d²R/dEdΩ, the lab-frame daily rotation,
and the shipped tables they read.

Physics functions take astropy Quantities and return Quantities; see ``docs/darkmatter.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ imports on first use, visible to type checkers and IDEs
    from acie.darkmatter import (
        advisor,
        budget,
        channel_data,
        daily_rotation,
        directional,
        electron,
        excitons,
        formfactor,
        formfactor_systematics,
        halo,
        halo_catalogue,
        halo_parameters,
        ionization,
        materials,
        migdal,
        nuclear,
        plots,
        reach,
        screening,
        selector,
        spin_dependent,
        structure_functions,
        targets,
        uncertainty,
        units,
    )

__all__ = [
    "advisor",
    "budget",
    "channel_data",
    "daily_rotation",
    "directional",
    "electron",
    "excitons",
    "formfactor",
    "formfactor_systematics",
    "halo",
    "halo_catalogue",
    "halo_parameters",
    "ionization",
    "materials",
    "migdal",
    "nuclear",
    "plots",
    "reach",
    "screening",
    "selector",
    "spin_dependent",
    "structure_functions",
    "targets",
    "uncertainty",
    "units",
]

_LAZY = set(__all__)


def __getattr__(name: str) -> Any:
    """Import the submodule ``name`` on first use."""
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
