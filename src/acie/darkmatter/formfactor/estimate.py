"""Up-front run-time estimates of a form-factor calculation, per stage.

An estimate from a cost model, not a measurement. The model counts the work of each
stage from quantities known before the SCF starts — k-points, atomic orbitals (basis
size), FFT grid points, lattice images of the basis, and the q-vectors of every k-pair —
and converts it to CPU-seconds with constants measured on this project's shared 2-core
machine (PySCF 2.14, 2 OpenMP threads, CPU time so that other load does not enter):

* **SCF** (PySCF ``KRKS``, FFT density fitting, ~5 cycles + setup): CPU ≈ 5 s +
  size · (40 + 14 · n_k^0.75) s, size = n_grid · n_AO · n_images relative to Si with
  GTH-DZVP (41³ grid, 26 AOs, 459 images). Measured on Si/GTH-DZVP/PBE: 52, 67 and
  110 CPU-s for 1, 2 and 8 k-points (5, 5 and 5 cycles); the tiny test cell (GTH-SZV,
  19³ grid) ~10 CPU-s. Cycles to converge vary (:data:`TYPICAL_SCF_CYCLES`).
* **one-shot hybrid** (:mod:`acie.darkmatter.formfactor.hybrid`, part of the SCF
  stage): ≈ 1.1 CPU-s per exchange pair (target k, partner k′) for Ge with GTH-DZVP on
  a 37³ grid (512 pairs: 550 s on one thread; with 2 threads 0.45 s wall per pair),
  scaled by n_grid · n_AO.
* **k-pair blocks**: each q-vector of each pair costs ≈ n_images · (5·10⁻⁶ + 10⁻⁸ · n_AO²)
  CPU-s in ``ft_aopair_kpts`` (single-threaded; measured within ±30 % on Si, Ge, GaAs and
  CsI at 2×2×2, and on the tiny cell). Workers divide it.

Wall time on a quiet machine is the SCF's CPU time over 1.6 (the gain of 2 OpenMP
threads) plus the k-pair CPU time over the workers. A loaded machine is slower: the
estimate multiplies by (load average + our threads) / cores when that exceeds 1. Expect
it within a factor of ~2; the live progress refines it once the first SCF cycle and the
first k-pair block have run. For Si 2×2×2 (default settings, 1 worker) it says ~4 min on
a quiet 2-core machine; measured there under other load: SCF 2.8 min (load ~4.6) and
~12 min in all (issue report).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = ["TYPICAL_SCF_CYCLES", "RunEstimate", "estimate_run", "format_duration"]

#: SCF cycles to convergence seen with PBE or LDA and PySCF's MINAO guess (low, high):
#: 4–5 for Si with GTH-SZV or GTH-DZVP at 1–8 k-points; more for small-gap or ionic cells.
TYPICAL_SCF_CYCLES = (4, 10)

# --- calibration (CPU-seconds on the project's 2-core machine; see the module docstring)
_REF_WORK = 68921 * 26 * 459  # Si, GTH-DZVP: grid points × AOs × lattice images
_SCF_FIXED_CPU = 5.0
_SCF_BASE_CPU = 40.0
_SCF_PER_K_CPU = 14.0  # × n_k**0.75
_SCF_THREAD_GAIN = 1.6  # wall-clock speed-up of the SCF from 2 OpenMP threads
_PAIR_CPU_PER_Q_IMAGE = 5e-6  # + _PAIR_CPU_PER_Q_IMAGE_AO2 · n_AO², per q-vector and image
_PAIR_CPU_PER_Q_IMAGE_AO2 = 1e-8
_HYBRID_CPU_PER_PAIR = 1.1  # × n_grid · n_AO / (37³ · 26), per exchange pair
_HYBRID_THREAD_GAIN = 2.4  # measured 1.07 → 0.45 s per pair with 2 threads
_FINISH_S = 2.0  # summing blocks, normalising, writing HDF5


def format_duration(seconds: float | None, *, approx: bool = True) -> str:
    """``"~40 s"``, ``"~7 min"``, ``"~1.5 h"`` (``approx=False``: ``"6 min 52 s"``)."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    s = max(0.0, float(seconds))
    if not approx:
        if s < 60:
            return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
        m, sec = divmod(round(s), 60)
        return f"{m} min {sec} s" if m < 60 else f"{m // 60} h {m % 60} min"
    if s < 5:
        return "< 5 s"
    if s < 90:
        return f"~{5 * round(s / 5):.0f} s"
    if s < 5400:
        return f"~{s / 60:.0f} min"
    return f"~{s / 3600:.1f} h"


@dataclass(frozen=True, kw_only=True)
class RunEstimate:
    """Estimated wall time of each stage of one run, seconds.

    Attributes
    ----------
    scf_s, pairs_s, finish_s : float
        SCF (0 if bands are reused), the k-pair blocks still to run, and normalising
        plus writing; on a quiet machine times ``slowdown``.
    slowdown : float
        Factor applied for the machine's current load (1 when quiet).
    load, cores : float, int
        The 1-minute load average and CPU count used for ``slowdown``.
    """

    scf_s: float
    pairs_s: float
    finish_s: float
    slowdown: float
    load: float
    cores: int

    @property
    def total_s(self) -> float:
        """Sum of the stages, seconds."""
        return self.scf_s + self.pairs_s + self.finish_s

    def summary(self) -> str:
        """One line for a terminal: the estimate, its basis and its uncertainty."""
        parts = [f"SCF {format_duration(self.scf_s)}"] if self.scf_s > 0 else []
        parts.append(f"k-pairs {format_duration(self.pairs_s)}")
        text = (
            f"estimated time: {', '.join(parts)}; total {format_duration(self.total_s)} "
            "(a cost-model estimate from k-points, basis size and FFT grid, calibrated on a "
            "2-core machine; expect up to ×2 either way"
        )
        if self.slowdown > 1.05:
            text += (
                f", and it includes ×{self.slowdown:.1f} for the current load "
                f"{self.load:.1f} on {self.cores} cores"
            )
        return text + ")"


def _slowdown(threads: int, load: float | None, cores: int | None) -> tuple[float, float, int]:
    cores = int(cores or os.cpu_count() or 1)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # platforms without a load average
            load = 0.0
    return max(1.0, (float(load) + threads) / cores), float(load), cores


def estimate_run(
    *,
    n_k: int,
    n_ao: int,
    n_grid: int,
    n_images: int,
    n_q_vectors: int,
    n_workers: int = 1,
    threads: int = 2,
    run_scf: bool = True,
    n_exchange_pairs: int = 0,
    load: float | None = None,
    cores: int | None = None,
) -> RunEstimate:
    """Estimate the wall time of a form-factor run from its size.

    Parameters
    ----------
    n_k : int
        Number of k-points.
    n_ao : int
        Atomic orbitals per cell (basis size).
    n_grid : int
        FFT grid points of the DFT density (product of ``cell.mesh``).
    n_images : int
        Lattice images in the basis' lattice sums (``len(cell.get_lattice_Ls())``).
    n_q_vectors : int
        q-vectors with |q| < q_max summed over the k-pairs still to compute.
    n_workers : int
        Worker processes over k-pair blocks.
    threads : int
        OpenMP threads of this process (PySCF's ``lib.num_threads()``).
    run_scf : bool
        ``False`` when the bands come from a checkpoint or the caller.
    n_exchange_pairs : int
        (k, k′) pairs of a one-shot hybrid after the SCF (0: none); counted in the SCF.
    load, cores : float and int, optional
        Load average and CPU count; default: this machine's, now.

    Returns
    -------
    RunEstimate
    """
    size = n_grid * n_ao * n_images / _REF_WORK
    scf_cpu = _SCF_FIXED_CPU + size * (_SCF_BASE_CPU + _SCF_PER_K_CPU * n_k**0.75)
    scf_s = scf_cpu / (_SCF_THREAD_GAIN if threads > 1 else 1.0) if run_scf else 0.0
    if run_scf and n_exchange_pairs:
        hyb_cpu = _HYBRID_CPU_PER_PAIR * n_exchange_pairs * n_grid * n_ao / (37**3 * 26)
        scf_s += hyb_cpu / (_HYBRID_THREAD_GAIN if threads > 1 else 1.0)
    per_q = n_images * (_PAIR_CPU_PER_Q_IMAGE + _PAIR_CPU_PER_Q_IMAGE_AO2 * n_ao**2)
    pairs_s = per_q * n_q_vectors / max(1, int(n_workers))
    busy = max(int(threads), int(n_workers))
    factor, load_now, n_cores = _slowdown(busy, load, cores)
    return RunEstimate(
        scf_s=scf_s * factor,
        pairs_s=pairs_s * factor,
        finish_s=_FINISH_S,
        slowdown=factor,
        load=load_now,
        cores=n_cores,
    )
