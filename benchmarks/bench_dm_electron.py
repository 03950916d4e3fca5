"""Benchmark: DM–electron rate scan over 30 masses on the QCDark germanium form factor.

Run: ``python benchmarks/bench_dm_electron.py [path/to/Ge_final.hdf5]``. Goal: the 30-mass
scan of dR/dE on the full (1000 q × 500 E) grid in < 0.5 s. The file is QCDark's
(``results/Ge_final.hdf5`` of github.com/asingal14/QCDark, not shipped with ACIE); without
an argument it is looked for in ``$ACIE_REFERENCE_DIR/qcdark-ge/`` and in
``shared/reference/qcdark-ge/`` beside the checkout.

Peer, measured in the same run: a per-energy loop in the style of QCDark's ``d_rate``
(closed-form η evaluated per (q, E) point, Simpson over q for each E; QCDark's own
``eta_MB`` additionally loops over q in Python, so the real QCDark is slower still).
The peer runs on 3 masses; its per-mass time is scaled to 30 for the ratio.
Both are compared value-by-value with ACIE's ``q_rule="simpson"``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy import integrate
from scipy.special import erf

from acie.darkmatter import electron as E
from acie.darkmatter.formfactor.io import read_formfactor
from acie.darkmatter.units import ALPHA, C_CM_S, KG_EV, ME_EV, SECONDS_PER_YEAR

_REFERENCE_DIRS = [
    *([Path(os.environ["ACIE_REFERENCE_DIR"])] if os.environ.get("ACIE_REFERENCE_DIR") else []),
    Path(__file__).resolve().parents[2] / "shared" / "reference",
]


def _default_file() -> Path:
    for base in _REFERENCE_DIRS:
        if (base / "qcdark-ge" / "Ge_final.hdf5").exists():
            return base / "qcdark-ge" / "Ge_final.hdf5"
    raise SystemExit(
        "QCDark's Ge_final.hdf5 not found: download it from github.com/asingal14/QCDark "
        "(results/) and pass its path, or set ACIE_REFERENCE_DIR"
    )


def peer_dr_de(table, m_x: float, v0=238.0, ve=250.2, vesc=544.0, rho=0.3e9) -> np.ndarray:
    """Per-energy loop, closed-form SHM η, Simpson over q (QCDark's algorithm, our constants)."""
    c = 299792.458
    v0, ve, vesc = v0 / c, ve / c, vesc / c
    q, energies, f2 = table.q_eV, table.energy_eV, table.f2
    nesc = math.erf(vesc / v0) - 2 * vesc / v0 * math.exp(-((vesc / v0) ** 2)) / math.sqrt(math.pi)
    mu = m_x * ME_EV / (m_x + ME_EV)
    pref = (
        rho
        / m_x
        / table.cell_mass_eV
        * 1e-39
        * ALPHA
        * (ME_EV / mu) ** 2
        * C_CM_S
        * KG_EV
        * SECONDS_PER_YEAR
    )
    out = np.empty(energies.size)
    for j, e in enumerate(energies):
        x = (q / (2 * m_x) + e / q) / v0
        y, z = ve / v0, vesc / v0
        low = (erf(x + y) - erf(x - y) - 4 / math.sqrt(math.pi) * y * math.exp(-z * z)) / (
            2 * nesc * v0 * y
        )
        mid = (
            math.erf(z) - erf(x - y) - 2 / math.sqrt(math.pi) * (y + z - x) * math.exp(-z * z)
        ) / (2 * nesc * v0 * y)
        eta = np.where(x < z - y, low, np.where(x < z + y, mid, 0.0))
        out[j] = pref * integrate.simpson(eta * f2[:, j] / q**2, x=q)
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else _default_file()
    table = read_formfactor(path)
    masses = np.geomspace(0.5, 1000.0, 30) * u.MeV
    sigma = 1e-39 * u.cm**2

    t0 = time.perf_counter()
    E.dr_de(table, masses, sigma)
    cold = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        scan = E.dr_de(table, masses, sigma)
        times.append(time.perf_counter() - t0)
    warm = min(times)

    peer_masses = masses[[5, 15, 25]].to_value(u.eV)
    t0 = time.perf_counter()
    peer = np.array([peer_dr_de(table, m) for m in peer_masses])
    t_peer = (time.perf_counter() - t0) / len(peer_masses) * 30
    simpson = E.dr_de(table, peer_masses * u.eV, sigma, q_rule="simpson").value
    main_bins = peer > 1e-3 * peer.max(axis=1, keepdims=True)
    dev = np.max(np.abs(simpson[main_bins] / peer[main_bins] - 1))
    trap_over_simpson = scan.value[[5, 15, 25]].sum(axis=1) / simpson.sum(axis=1)

    print(
        f"{table.material} form factor {table.shape[0]} q x {table.shape[1]} E bins, 30 masses 0.5-1000 MeV"
    )
    print(
        f"  acie electron.dr_de, 30 masses: {warm * 1e3:7.1f} ms warm (best of 5), {cold * 1e3:7.1f} ms first call"
        f"  -> goal < 500 ms: {'met' if warm < 0.5 else 'NOT met'}"
    )
    print(
        f"  per-energy loop peer (QCDark algorithm), scaled to 30 masses: {t_peer * 1e3:7.0f} ms"
        f"   speed-up x{t_peer / warm:,.0f}"
    )
    print(f"  values: acie(q_rule=simpson)/peer max |dev| on bins with >1e-3 of peak: {dev:.1e}")
    print(
        f"  default trapezoid / Simpson totals at 3 masses: {', '.join(f'{r:.4f}' for r in trap_over_simpson)}"
    )
    tot = E.total_rate(table, masses, sigma).value
    print(
        f"  total rate at 1e-39 cm^2 [1/(kg yr)]: 1 MeV {np.interp(1, masses.value, tot):.3g}, "
        f"10 MeV {np.interp(10, masses.value, tot):.3g}, 100 MeV {np.interp(100, masses.value, tot):.3g}, "
        f"1 GeV {tot[-1]:.3g}"
    )


if __name__ == "__main__":
    main()
