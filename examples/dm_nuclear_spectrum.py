"""Xe and NaI spin-independent spectra with halo-uncertainty bands, and a Xe reach curve.

Run: ``python examples/dm_nuclear_spectrum.py [--out out/dm_nuclear_spectrum]``.

Figures go to the output folder (created if missing; ``out/`` is git-ignored).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy import stats

from acie.darkmatter import nuclear, plots, reach, uncertainty


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    e = np.linspace(0.5, 60, 120) * u.keV
    sigma = 1e-45 * u.cm**2
    halos = uncertainty.sample_halos(
        "baxter2021",
        {"v0": stats.norm(238, 10), "vesc": stats.norm(544, 30), "rho": stats.norm(0.3, 0.05)},
        200,
        seed=1,
    )
    bands = {
        f"{t}, 50 GeV": uncertainty.propagate(
            lambda h, t=t: nuclear.dr_de(e, 50 * u.GeV, sigma, t, halo=h), halos
        )
        for t in ("Xe", "NaI")
    }
    plots.save_figure(
        plots.plot_spectrum(e, bands, title="SI, σ_n = 1e-45 cm², SHM (Baxter 2021) ± MC"),
        out / "nuclear_spectra.png",
    )
    masses = np.geomspace(5, 1000, 30) * u.GeV
    curve = reach.nuclear_reach(
        masses,
        1 * u.t * u.yr,
        target="Xe",
        e_min=3 * u.keV,
        e_max=40 * u.keV,
        background=1.0,
        method="fc",
    )
    plots.save_figure(
        plots.plot_reach([curve], title="Xe, 1 t yr, 3-40 keV, b = 1 (Feldman-Cousins)"),
        out / "nuclear_reach.pdf",
    )
    best = np.argmin(curve.cross_section)
    print(
        f"best Xe sensitivity {curve.cross_section[best]:.3g} at {masses[best]:.3g}; "
        f"figures in {out}/: nuclear_spectra.png, nuclear_reach.pdf"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/dm_nuclear_spectrum"))
    main(ap.parse_args().out)
