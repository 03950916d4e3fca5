"""The collector: medians, the Financial-Technical Index (FTI) and λ_effective per experiment.

Definitions (also in ``docs/ops.md``), for one experiment with records sorted by time:

* A *segment* is a maximal run of consecutive records with the same ``intervention``
  label (``null`` and ``"baseline"`` are the same label). A *change* is the start of a
  segment after the first.
* The *reference* window is the baseline segment(s), or the first segment when nothing is
  labelled baseline, or values given explicitly. Its medians are ``c_ref`` (infra_cost_usd),
  ``q_ref`` (qps) and ``l_ref`` (latency_p95_ms).
* For any window W with medians ``c, q, l``:

  - normalised cost ``C = c / c_ref``;
  - normalised performance ``P = (q / q_ref) · (l_ref / l)`` — throughput gained times
    latency gained, both 1 at the reference;
  - ``FTI = C / P``. FTI = 1 at the reference; below 1 the setup got more cost-efficient.

* An experiment whose reference medians of cost or qps are 0 cannot be normalised: it is
  listed as *unrated* with a note saying why, and the other experiments are graded as usual.
* The *current* window is the last segment (everything since the last change). Its FTI
  is graded **OK** (≤ 1.0), **WARN** (≤ 1.05) or **FAIL** (> 1.05).
* ``λ_SIBG`` (the step-improvement gain) is the relative FTI improvement of the last change:
  ``max(0, (FTI_prev − FTI_cur) / FTI_prev)`` with ``FTI_prev`` the FTI of the segment
  before it; 0 without a change.
* ``λ_effective = λ_SIBG · exp(−λ_ASDPI · Δt)``, with Δt the days from the first record of
  the current segment to ``now`` (timezone-aware; default: the newest record of the input) and ``λ_ASDPI``
  the per-day decay of an improvement's credit (default ln 2 / 30: a 30-day half-life).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np

from acie.errors import InputValidationError

__all__ = [
    "DEFAULT_LAMBDA_ASDPI",
    "ExperimentSummary",
    "Grade",
    "OpsReport",
    "Reference",
    "UnratedExperiment",
    "WindowStats",
    "collect",
    "grade_fti",
]

DEFAULT_LAMBDA_ASDPI = math.log(2) / 30.0  # per day: a 30-day half-life
BASELINE_LABELS = {None, "", "baseline"}
FTI_OK = 1.0
FTI_WARN = 1.05


class Grade(StrEnum):
    """The verdict on a window's FTI: OK up to 1.0, WARN up to 1.05, FAIL above."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


def grade_fti(fti: float) -> Grade:
    """OK for FTI ≤ 1.0, WARN for ≤ 1.05, FAIL above (and for a non-finite FTI)."""
    if not math.isfinite(fti):
        return Grade.FAIL
    if fti <= FTI_OK:
        return Grade.OK
    if fti <= FTI_WARN:
        return Grade.WARN
    return Grade.FAIL


@dataclass(frozen=True)
class Reference:
    """Reference medians: cost in USD, throughput in queries/s, p95 latency in ms."""

    infra_cost_usd: float
    qps: float
    latency_p95_ms: float

    def __post_init__(self) -> None:
        for name in ("infra_cost_usd", "qps", "latency_p95_ms"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise InputValidationError(
                    f"reference {name} must be a finite number > 0; got {v!r}"
                )


@dataclass(frozen=True)
class WindowStats:
    """Medians of one window of records and its FTI against the reference."""

    label: str
    n: int
    start: str
    infra_cost_usd: float
    qps: float
    latency_p95_ms: float
    normalised_cost: float
    normalised_performance: float
    fti: float


@dataclass(frozen=True)
class ExperimentSummary:
    """The collector's verdict on one experiment."""

    experiment: str
    n_records: int
    reference: Reference
    current: WindowStats
    segments: list[WindowStats]
    grade: Grade
    lambda_sibg: float
    lambda_effective: float
    days_since_change: float
    last_change: str | None


@dataclass(frozen=True)
class UnratedExperiment:
    """An experiment with valid records that cannot be graded, and why (``note``)."""

    experiment: str
    n_records: int
    note: str


@dataclass
class OpsReport:
    """Everything ``acie ops collect`` reports."""

    experiments: list[ExperimentSummary]
    skipped: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    as_of: str = ""
    lambda_asdpi: float = DEFAULT_LAMBDA_ASDPI
    #: experiments whose records are valid but cannot be normalised (e.g. zero cost)
    unrated: list[UnratedExperiment] = field(default_factory=list)

    @property
    def worst_grade(self) -> Grade | None:
        """The worst grade over all experiments (FAIL > WARN > OK); None without any."""
        order = [Grade.OK, Grade.WARN, Grade.FAIL]
        grades = [e.grade for e in self.experiments]
        return max(grades, key=order.index) if grades else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report with the unit of every metric (``--json`` output)."""
        return {
            "as_of": self.as_of,
            "lines": self.lines,
            "skipped": dict(self.skipped),
            "lambda_asdpi_per_day": self.lambda_asdpi,
            "worst_grade": self.worst_grade.value if self.worst_grade else None,
            "units": {
                "infra_cost_usd": "USD",
                "qps": "1/s",
                "latency_p95_ms": "ms",
                "days_since_change": "d",
                "fti": "dimensionless",
            },
            "experiments": [asdict(e) for e in self.experiments],
            "unrated": [asdict(u) for u in self.unrated],
        }


def _time(record: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00"))


def _label(record: Mapping[str, Any]) -> str:
    label = record.get("intervention")
    return "baseline" if label in BASELINE_LABELS else str(label)


def _medians(records: Sequence[Mapping[str, Any]]) -> tuple[float, float, float]:
    arr = np.array([[r["infra_cost_usd"], r["qps"], r["latency_p95_ms"]] for r in records], float)
    c, q, lat = np.median(arr, axis=0)
    return float(c), float(q), float(lat)


def _window(label: str, records: Sequence[Mapping[str, Any]], ref: Reference) -> WindowStats:
    c, q, lat = _medians(records)
    cost = c / ref.infra_cost_usd
    perf = (q / ref.qps) * (ref.latency_p95_ms / lat)
    fti = cost / perf if perf > 0 else math.inf
    return WindowStats(
        label=label,
        n=len(records),
        start=str(records[0]["timestamp"]),
        infra_cost_usd=c,
        qps=q,
        latency_p95_ms=lat,
        normalised_cost=cost,
        normalised_performance=perf,
        fti=fti,
    )


def _segments(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    out: list[tuple[str, list[Mapping[str, Any]]]] = []
    for r in records:
        label = _label(r)
        if out and out[-1][0] == label:
            out[-1][1].append(r)
        else:
            out.append((label, [r]))
    return out


class _Unrated(Exception):
    """The experiment cannot be graded; the message says why (kept as its note)."""


def _summarise(
    name: str,
    records: list[Mapping[str, Any]],
    *,
    reference: Reference | None,
    now: datetime,
    lambda_asdpi: float,
) -> ExperimentSummary:
    records = sorted(records, key=lambda r: (_time(r), r["step"]))
    segs = _segments(records)
    if reference is None:
        base = [r for label, rs in segs if label == "baseline" for r in rs] or segs[0][1]
        c, q, lat = _medians(base)
        if c <= 0 or q <= 0:
            raise _Unrated(
                f"not graded: its reference window has median cost {c} USD and qps {q}/s; "
                f"the FTI normalises by both, so each must be > 0"
            )
        reference = Reference(infra_cost_usd=c, qps=q, latency_p95_ms=lat)
    windows = [_window(label, rs, reference) for label, rs in segs]
    current = windows[-1]
    if len(windows) > 1:
        prev = windows[-2].fti
        sibg = max(0.0, (prev - current.fti) / prev) if math.isfinite(prev) and prev > 0 else 0.0
        change_time = _time(segs[-1][1][0])
        days = max(0.0, (now - change_time).total_seconds() / 86400.0)
        last_change: str | None = str(segs[-1][1][0]["timestamp"])
    else:
        sibg, days, last_change = 0.0, 0.0, None
    return ExperimentSummary(
        experiment=name,
        n_records=len(records),
        reference=reference,
        current=current,
        segments=windows,
        grade=grade_fti(current.fti),
        lambda_sibg=sibg,
        lambda_effective=sibg * math.exp(-lambda_asdpi * days),
        days_since_change=days,
        last_change=last_change,
    )


def collect(
    records: Iterable[Mapping[str, Any]],
    *,
    reference: Reference | Mapping[str, Reference] | None = None,
    now: datetime | None = None,
    lambda_asdpi: float = DEFAULT_LAMBDA_ASDPI,
    skipped: Mapping[str, int] | None = None,
    lines: int = 0,
) -> OpsReport:
    """Summarise validated telemetry records per experiment (see the module docstring).

    Parameters
    ----------
    records : iterable of dict
        Records that passed the contract (see :func:`acie.ops.telemetry_file.read_telemetry`).
    reference : Reference or mapping of experiment name to Reference, optional
        Explicit reference medians instead of the baseline window.
    now : datetime, optional
        The time λ_effective decays to; default the newest record's timestamp.
    lambda_asdpi : float
        Decay rate of λ_effective, per day (≥ 0).
    """
    if not (math.isfinite(lambda_asdpi) and lambda_asdpi >= 0):
        raise InputValidationError(
            f"lambda_asdpi must be a finite rate >= 0 per day; got {lambda_asdpi!r}"
        )
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r["experiment"]), []).append(r)
    all_times = [_time(r) for rs in groups.values() for r in rs]
    if now is None:
        now_t = max(all_times) if all_times else datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise InputValidationError(
            f"now must be timezone-aware (e.g. 2026-01-05T00:00:00Z or …+02:00); got {now!r}, "
            f"which could be any of 24 hours apart"
        )
    else:
        now_t = now
    summaries = []
    unrated = []
    for name in sorted(groups):
        ref = reference.get(name) if isinstance(reference, Mapping) else reference
        try:
            summaries.append(
                _summarise(name, groups[name], reference=ref, now=now_t, lambda_asdpi=lambda_asdpi)
            )
        except _Unrated as why:  # one experiment's data never takes the others down
            unrated.append(UnratedExperiment(name, len(groups[name]), str(why)))
    return OpsReport(
        unrated=unrated,
        experiments=summaries,
        skipped=dict(Counter(skipped or {})),
        lines=lines,
        as_of=now_t.isoformat(),
        lambda_asdpi=lambda_asdpi,
    )
