"""The ops report as part of ``acie serve``: a router under ``/ops`` and its cache.

The telemetry files come from ``OPS_TELEMETRY_FILES`` (comma-separated paths or globs,
re-expanded at every refresh so new files are picked up); with none configured the
report is empty. The key for encrypted files comes from ``TELEMETRY_KEY``.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from acie.config import Settings
from acie.ops.collector import OpsReport, collect
from acie.ops.report import collect_files
from acie.ops.server import ReportCache, create_router

__all__ = ["build_ops_router", "telemetry_paths"]


def telemetry_paths(spec: str | None) -> list[Path]:
    """Files named by a comma-separated list of paths or glob patterns (sorted, unique)."""
    if not spec:
        return []
    found: set[Path] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        matches = glob.glob(part)
        found.update(Path(m) for m in matches if Path(m).is_file())
    return sorted(found)


def build_ops_router(settings: Settings) -> tuple[Any, ReportCache]:
    """A FastAPI router with ``/ops/report``, ``/ops/metrics``, ``/ops/health``, and its cache.

    The caller starts the cache (``cache.start()``) with the server and stops it after.
    """
    from fastapi import APIRouter

    key = settings.TELEMETRY_KEY.get_secret_value() if settings.TELEMETRY_KEY else None

    def compute() -> OpsReport:
        paths = telemetry_paths(settings.OPS_TELEMETRY_FILES)
        return collect_files(paths, key=key) if paths else collect([])

    cache = ReportCache(compute, interval_s=settings.OPS_REFRESH_INTERVAL_S)
    router = APIRouter(prefix="/ops")
    router.include_router(create_router(cache))
    return router, cache
