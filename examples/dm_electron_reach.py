"""DM–electron rates and reach for germanium from the QCDark form factor.

Run: ``python examples/dm_electron_reach.py [Ge_final.hdf5] [output-folder]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import astropy.units as u
import numpy as np

from acie.darkmatter import electron, plots, reach
from acie.darkmatter.formfactor.io import read_formfactor

DEFAULT = Path("/work/shared/reference/qcdark-ge/Ge_final.hdf5")


def main(path: Path, out: Path) -> None:
    ge = read_formfactor(path)
    sigma = 1e-39 * u.cm**2
    per_ne = {
        f"{m} MeV": electron.rate_per_ne(ge, m * u.MeV, sigma, n_max=8) for m in (10, 100, 1000)
    }
    for label, r in per_ne.items():
        print(label, "rates per n_e [1/(kg yr)]:", np.array2string(r.value[1:5], precision=3))
    plots.save_figure(
        plots.plot_rates_per_ne(per_ne, title="Ge, σ̄e = 1e-39 cm², heavy mediator"),
        out / "ge_ne.png",
    )
    masses = np.geomspace(0.5, 1000, 30) * u.MeV
    curves = [reach.electron_reach(ge, masses, 1 * u.kg * u.yr, ne_threshold=n) for n in (1, 2)]
    curves.append(
        reach.electron_reach(ge, masses, 1 * u.kg * u.yr, ne_threshold=1, mediator="light")
    )
    plots.save_figure(
        plots.plot_reach(curves, title="Ge, 1 kg yr, background-free, 90 % CL"),
        out / "ge_reach.png",
    )
    print(f"figures in {out}")


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT,
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path("dm_figures"),
    )
