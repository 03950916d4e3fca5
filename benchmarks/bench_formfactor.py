"""Benchmark: the full form-factor pipeline (DFT + matrix elements + binning) for Si.

Issue goal: Si at 3x3x3 k-points with gth-dzvp on 2 cores in <= 10 minutes. Prints wall
time per stage, peak memory (max RSS), and a ratio against the named peer measured in the
same process: the same Bloch matrix elements ⟨c k'|e^{iq·r}|v k⟩ by real-space quadrature
on the DFT's uniform grid (QCDark's "numerical" route), for one k-pair.

    python benchmarks/bench_formfactor.py                 # the issue's setting (slow)
    python benchmarks/bench_formfactor.py --kmesh 2x2x2   # a quicker run
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def _peak_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, child_kb) / 1024.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kmesh", default="3x3x3")
    p.add_argument("--basis", default="gth-dzvp")
    p.add_argument("--pseudo", default="gth-pade")
    p.add_argument("--xc", default="pbe")
    p.add_argument("--n-q", type=int, default=200, help="q bins of 0.02 α mₑ (200 = 14.9 keV)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    from pyscf import lib
    from pyscf.pbc.dft import numint

    from acie.darkmatter.formfactor import dft, transitions
    from acie.darkmatter.formfactor.runner import compute_form_factor
    from acie.darkmatter.formfactor.settings import FormFactorSettings

    km = tuple(int(x) for x in args.kmesh.split("x"))
    s = FormFactorSettings(kmesh=km, basis=args.basis, pseudo=args.pseudo, xc=args.xc, n_q=args.n_q)
    print(
        f"Si, kmesh {km}, {args.basis}/{args.pseudo}/{args.xc}, q < {s.q_max:.1f} α mₑ, "
        f"{args.workers} workers, {lib.num_threads()} BLAS/OpenMP threads"
    )

    t0 = time.perf_counter()
    cell = dft.build_cell("Si", s)
    bands = dft.run_dft("Si", s, cell=cell)
    t_dft = time.perf_counter() - t0
    t1 = time.perf_counter()
    table = compute_form_factor("Si", s, n_workers=args.workers, bands=bands, progress=True)
    t_pairs = time.perf_counter() - t1
    total = t_dft + t_pairs
    print(f"DFT                 {t_dft:8.1f} s")
    print(
        f"k-pairs + binning   {t_pairs:8.1f} s   ({len(transitions.k_pairs(len(bands.kpts)))} unordered pairs)"
    )
    print(
        f"total               {total:8.1f} s   (goal 600 s: {'met' if total <= 600 else 'NOT met'})"
    )
    print(f"peak memory         {_peak_mb():8.0f} MB (max RSS of this process or a worker)")
    print(f"f2 sum              {table.f2.sum():.6e}")

    # peer: real-space quadrature of the same matrix elements for one k-pair
    val, cond = dft.band_window(bands, s)
    ki, kf = bands.kpts[0], bands.kpts[-1]
    g = transitions.g_vectors(cell, s.q_max, 2 * float(np.max(np.linalg.norm(bands.kpts, axis=1))))
    q = kf - ki + g
    q = q[np.linalg.norm(q, axis=1) < s.q_max]
    t2 = time.perf_counter()
    m_ft = transitions.transition_matrix_elements(
        cell, ki, q, bands.coeffs[-1][:, cond], bands.coeffs[0][:, val]
    )
    t_ft = time.perf_counter() - t2
    t3 = time.perf_counter()
    coords = cell.get_uniform_grids(cell.mesh)
    w = cell.vol / len(coords)
    psi_i = numint.eval_ao(cell, coords, kpt=ki) @ bands.coeffs[0][:, val]
    psi_f = numint.eval_ao(cell, coords, kpt=kf) @ bands.coeffs[-1][:, cond]
    m_num = np.empty_like(m_ft)
    for start in range(0, len(q), 256):
        phase = np.exp(1j * coords @ q[start : start + 256].T)
        m_num[start : start + 256] = np.einsum(
            "rc,rq,rv->qcv", psi_f.conj() * w, phase, psi_i, optimize=True
        )
    t_num = time.perf_counter() - t3
    err = np.max(np.abs(m_ft - m_num)) / np.max(np.abs(m_ft))
    print(
        f"one k-pair, {len(q)} q: ft_ao {t_ft:.2f} s vs real-space quadrature on the {cell.mesh} grid "
        f"{t_num:.2f} s -> ratio quadrature/ft_ao = {t_num / t_ft:.2f}; max rel. difference {err:.1e}"
    )


if __name__ == "__main__":
    main()
