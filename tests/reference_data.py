"""Where the tests find the real external data of ``shared/reference/``.

Order: ``ACIE_REFERENCE_DIR``; ``shared/reference`` beside the repository (how CI and the
developers' checkouts are laid out); ``/work/shared/reference``. Locally a missing file
skips the tests that need it; under CI (``CI=true``) it is an error, so a missing data
step cannot pass unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [
    *([Path(os.environ["ACIE_REFERENCE_DIR"])] if os.environ.get("ACIE_REFERENCE_DIR") else []),
    _REPO.parent / "shared" / "reference",
    Path("/work/shared/reference"),
]


def reference_file(relative: str) -> Path:
    """The first existing ``<reference dir>/<relative>``, else the first candidate's path."""
    for base in _CANDIDATES:
        if (base / relative).exists():
            return base / relative
    return _CANDIDATES[0] / relative


QCDARK_GE = reference_file("qcdark-ge/Ge_final.hdf5")

_IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
needs_qcdark_ge = pytest.mark.skipif(
    not QCDARK_GE.exists() and not _IN_CI,
    reason=f"QCDark Ge reference file not present (looked in {[str(c) for c in _CANDIDATES]})",
)


def require(path: Path) -> Path:
    """``path`` if it exists; else skip the test locally, fail it under CI."""
    if not path.exists():
        if _IN_CI:
            raise FileNotFoundError(f"reference data {path} is missing (CI needs shared/reference)")
        pytest.skip(f"reference data {path} not present")
    return path
