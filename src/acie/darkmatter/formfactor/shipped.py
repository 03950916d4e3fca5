"""The form-factor tables shipped with ACIE (``acie/darkmatter/formfactor/data/*.h5``).

Produced by ``scripts/make_formfactor_tables.sh``; settings, timings and known systematic
limits are in ``data/REFERENCE.md`` beside them and in each file's provenance. Files are read
lazily and cached per process.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from acie.darkmatter.formfactor.io import read_acie
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.materials import get_material
from acie.errors import UnknownNameError

__all__ = ["shipped_materials", "shipped_table", "shipped_table_path"]


def _folder():
    return resources.files("acie.darkmatter.formfactor") / "data"


def shipped_materials() -> list[str]:
    """Names of the materials with a shipped table, in the library's order."""
    from acie.darkmatter.materials import list_materials

    folder = _folder()
    return [m for m in list_materials() if (folder / f"{m}.h5").is_file()]


def shipped_table_path(material: str):
    """Path of the shipped table of ``material``.

    Raises
    ------
    UnknownNameError
        If the material is unknown or has no shipped table (the message lists those that do).
    """
    name = get_material(material).name
    path = _folder() / f"{name}.h5"
    if not path.is_file():
        raise UnknownNameError(
            f"no shipped form-factor table for {name!r}; shipped: "
            f"{', '.join(shipped_materials()) or 'none'}"
        )
    return path


@lru_cache(maxsize=8)
def shipped_table(material: str) -> FormFactorTable:
    """The shipped ACIE form-factor table of ``material`` (cached)."""
    return read_acie(shipped_table_path(material))
