"""Saturation metrics of a server process: CPU, memory, file descriptors, and GPU when present.

Registered into each :class:`acie.serve.metrics.ServiceMetrics` registry, so ``GET /metrics``
carries them beside the request metrics:

==========================================  =======  ===========================================
name                                        type     meaning
==========================================  =======  ===========================================
``process_cpu_seconds_total``               counter  CPU (user + system) of this process
``process_resident_memory_bytes``           gauge    resident memory
``process_open_fds`` / ``process_max_fds``  gauge    file descriptors in use / allowed
``acie_cpu_count``                          gauge    CPUs this process may run on (its limit)
``acie_gpu_memory_allocated_bytes``         gauge    per CUDA device, memory torch holds
``acie_gpu_memory_total_bytes``             gauge    per CUDA device, its total memory
==========================================  =======  ===========================================

The ``process_*`` family is prometheus-client's own :class:`~prometheus_client.ProcessCollector`
(Linux ``/proc``). The GPU family appears only when torch is already imported and
``torch.cuda.is_available()``; this module never imports torch itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["SATURATION_METRICS", "SaturationCollector", "register_saturation"]

SATURATION_METRICS = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "acie_cpu_count",
    "acie_gpu_memory_allocated_bytes",
    "acie_gpu_memory_total_bytes",
)


class SaturationCollector(Collector):
    """CPU count available to the process and, when CUDA is in use, GPU memory per device."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The current values (read at scrape time)."""
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            cpus = os.cpu_count() or 1
        yield GaugeMetricFamily("acie_cpu_count", "CPUs this process may run on", value=cpus)
        torch = sys.modules.get("torch")
        if torch is None:
            return
        try:
            if not torch.cuda.is_available():
                return
            n = torch.cuda.device_count()
            used = GaugeMetricFamily(
                "acie_gpu_memory_allocated_bytes",
                "GPU memory held by torch tensors, bytes",
                labels=["device"],
            )
            total = GaugeMetricFamily(
                "acie_gpu_memory_total_bytes", "GPU memory of the device, bytes", labels=["device"]
            )
            for i in range(n):
                used.add_metric([str(i)], float(torch.cuda.memory_allocated(i)))
                total.add_metric([str(i)], float(torch.cuda.get_device_properties(i).total_memory))
        except Exception:  # a broken CUDA install must not break /metrics
            return
        yield used
        yield total


def register_saturation(registry: CollectorRegistry) -> None:
    """Add the process and saturation collectors to ``registry``."""
    ProcessCollector(registry=registry)
    registry.register(SaturationCollector())
