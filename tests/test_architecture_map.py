"""``docs/architecture.md`` is the map, and the map must be true.

Every module of ``src/acie`` is named in it (by its path below ``src/acie``, in
backticks), and every path it names exists. Generated code (the protobuf stubs) and
Alembic revision files are covered by their folder's line.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "acie"
MAP = ROOT / "docs" / "architecture.md"

# folders whose files the map names as a group
GROUPED = ("wire/_proto/", "store/migrations/")


def _modules() -> set[str]:
    found = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(GROUPED):
            continue
        found.add(rel)
    return found


def _named() -> set[str]:
    return set(re.findall(r"`([\w/]+(?:\.py|/))`", MAP.read_text()))


def test_every_module_is_on_the_map() -> None:
    named = _named()
    missing = sorted(m for m in _modules() if m not in named)
    assert not missing, "modules missing from docs/architecture.md:\n  " + "\n  ".join(missing)


def test_every_path_on_the_map_exists() -> None:
    """Module paths (``*.py``) and package folders under ``src/acie`` that the map names."""
    packages = {p.name for p in SRC.iterdir() if p.is_dir()}
    source_paths = {p for p in _named() if p.endswith(".py") or p.split("/")[0] in packages}
    stale = sorted(p for p in source_paths if not (SRC / p).exists() and not (ROOT / p).exists())
    assert not stale, "docs/architecture.md names paths that do not exist:\n  " + "\n  ".join(stale)
