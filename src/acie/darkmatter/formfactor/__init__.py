"""Crystal form factors |f_crystal(q, E)|²: the table type, its files, and how they are made.

One concept per module (imported lazily on first attribute access, so importing this
package loads neither PySCF nor h5py):

``table``        :class:`FormFactorTable`, the validated (q, E) grid of f2
``io``           QCDark and ACIE-v1 HDF5 readers, the ACIE writer (``docs/formfactor-format.md``)
``shipped``      the tables shipped with ACIE (``data/*.h5``, provenance in ``data/REFERENCE.md``)
``settings``     :class:`FormFactorSettings`, everything that determines a computed table
``dft``          PySCF periodic Kohn–Sham DFT: cell, SCF, scissor-corrected bands
``transitions``  Bloch matrix elements ⟨c k'|e^{iq·r}|v k⟩, binning, QCDark normalisation
``checkpoint``   the checkpoint folder of a run: settings key, bands, k-pair blocks
``estimate``     up-front run-time estimates of a calculation, per stage
``progress``     stage-by-stage progress on stderr (SCF per cycle, k-pair bar)
``runner``       :func:`compute_form_factor`: stages, resume, workers
``convergence``  rate comparisons, k-mesh × basis studies and the settings advisor
``plots``        figures of comparisons and convergence studies
``atomic_shells`` isolated-atom shells (all-electron HF), plane-wave ionisation f2
``continuum``    distorted-wave final states in the atom's Kohn–Sham (or Herman–Skillman) potential
``extended``     valence DFT tables extended to q = 20 α mₑ with semicore/valence shells

The public names below resolve to those modules; ``dft``, ``transitions`` and ``runner``
need the ``dft`` extra (PySCF) only when a calculation is run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ imports on first use, visible to type checkers and IDEs
    # the submodules (re-exported: ``formfactor.plots`` and the like resolve to them)
    from acie.darkmatter.formfactor import atomic_shells as atomic_shells
    from acie.darkmatter.formfactor import checkpoint as checkpoint
    from acie.darkmatter.formfactor import continuum as continuum
    from acie.darkmatter.formfactor import convergence as convergence
    from acie.darkmatter.formfactor import dft as dft
    from acie.darkmatter.formfactor import estimate as estimate
    from acie.darkmatter.formfactor import extended as extended
    from acie.darkmatter.formfactor import io as io
    from acie.darkmatter.formfactor import plots as plots
    from acie.darkmatter.formfactor import progress as progress
    from acie.darkmatter.formfactor import runner as runner
    from acie.darkmatter.formfactor import settings as settings
    from acie.darkmatter.formfactor import shipped as shipped
    from acie.darkmatter.formfactor import table as table
    from acie.darkmatter.formfactor import transitions as transitions
    from acie.darkmatter.formfactor.convergence import (
        ConvergenceStudy,
        RateComparison,
        compare_rates,
        convergence_study,
        recommend_settings,
    )
    from acie.darkmatter.formfactor.dft import BandStructure, build_cell, run_dft
    from acie.darkmatter.formfactor.estimate import RunEstimate, estimate_run
    from acie.darkmatter.formfactor.extended import extend_with_atomic_shells
    from acie.darkmatter.formfactor.io import read_acie, read_formfactor, read_qcdark, write_acie
    from acie.darkmatter.formfactor.runner import compute_form_factor
    from acie.darkmatter.formfactor.settings import FormFactorSettings
    from acie.darkmatter.formfactor.shipped import (
        shipped_materials,
        shipped_table,
        shipped_table_path,
    )
    from acie.darkmatter.formfactor.table import FormFactorTable

_EXPORTS = {
    "FormFactorTable": "table",
    "read_acie": "io",
    "read_formfactor": "io",
    "read_qcdark": "io",
    "write_acie": "io",
    "shipped_materials": "shipped",
    "shipped_table": "shipped",
    "shipped_table_path": "shipped",
    "FormFactorSettings": "settings",
    "BandStructure": "dft",
    "build_cell": "dft",
    "run_dft": "dft",
    "RunEstimate": "estimate",
    "estimate_run": "estimate",
    "compute_form_factor": "runner",
    "ConvergenceStudy": "convergence",
    "RateComparison": "convergence",
    "compare_rates": "convergence",
    "convergence_study": "convergence",
    "recommend_settings": "convergence",
    "extend_with_atomic_shells": "extended",
}
_MODULES = {
    "table",
    "io",
    "shipped",
    "settings",
    "dft",
    "transitions",
    "checkpoint",
    "estimate",
    "progress",
    "runner",
    "convergence",
    "plots",
    "atomic_shells",
    "continuum",
    "extended",
}

__all__ = [
    "BandStructure",
    "ConvergenceStudy",
    "FormFactorSettings",
    "FormFactorTable",
    "RateComparison",
    "RunEstimate",
    "build_cell",
    "compare_rates",
    "compute_form_factor",
    "convergence_study",
    "estimate_run",
    "extend_with_atomic_shells",
    "read_acie",
    "read_formfactor",
    "read_qcdark",
    "recommend_settings",
    "run_dft",
    "shipped_materials",
    "shipped_table",
    "shipped_table_path",
    "write_acie",
]


def __getattr__(name: str) -> Any:
    """Import an exported name's module, or the submodule ``name``, on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _MODULES)
