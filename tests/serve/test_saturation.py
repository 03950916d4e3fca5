"""Saturation metrics on GET /metrics: process CPU and memory always, GPU memory with CUDA."""

from __future__ import annotations

import os

import pytest

from acie.serve.metrics import ServiceMetrics


def _samples(metrics: ServiceMetrics) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in metrics.registry.collect():
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_process_cpu_and_memory_are_exported():
    m = ServiceMetrics()
    before = _samples(m)["process_cpu_seconds_total"][0].value
    sum(i * i for i in range(2_000_000))  # burn some CPU in this process
    got = _samples(m)
    assert got["process_cpu_seconds_total"][0].value > before
    rss = got["process_resident_memory_bytes"][0].value
    assert 10e6 < rss < 64e9  # a Python process with numpy loaded
    assert got["acie_cpu_count"][0].value == len(os.sched_getaffinity(0))
    text = m.render().decode()
    assert "process_resident_memory_bytes" in text
    assert "acie_cpu_count" in text


def test_gpu_series_exist_exactly_when_cuda_is_in_use():
    import sys

    torch = sys.modules.get("torch")  # the collector never imports torch itself
    in_use = torch is not None and torch.cuda.is_available()
    assert ("acie_gpu_memory_allocated_bytes" in _samples(ServiceMetrics())) == in_use


@pytest.mark.gpu
def test_gpu_memory_is_exported_with_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = torch.ones(64 << 20, dtype=torch.uint8, device="cuda")  # 64 MiB
    got = _samples(ServiceMetrics())
    used = {s.labels["device"]: s.value for s in got["acie_gpu_memory_allocated_bytes"]}
    total = {s.labels["device"]: s.value for s in got["acie_gpu_memory_total_bytes"]}
    assert used[str(x.device.index)] >= 64 << 20
    assert total[str(x.device.index)] > used[str(x.device.index)]
