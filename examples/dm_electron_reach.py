"""DM–electron rates per n_e and reach curves for germanium, from ACIE's shipped Ge table.

Run: ``python examples/dm_electron_reach.py [--formfactor Ge|FILE] [--out out/dm_electron_reach]``.

The default form factor is the Ge table shipped with ACIE (4×4×4 k-points, PySCF/PBE,
see ``acie/darkmatter/formfactor/data/REFERENCE.md``). Any QCDark or ACIE HDF5 file works
too, for example QCDark's all-electron ``Ge_final.hdf5`` (``results/`` of
github.com/asingal14/QCDark, downloaded separately). Figures go to the output folder
(created if missing; ``out/`` is git-ignored).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np

from acie.darkmatter import electron, plots, reach
from acie.darkmatter.formfactor import read_formfactor, shipped_table


def main(formfactor: str, out: Path) -> None:
    ge = read_formfactor(formfactor) if Path(formfactor).exists() else shipped_table(formfactor)
    out.mkdir(parents=True, exist_ok=True)
    sigma = 1e-39 * u.cm**2
    per_ne = {
        f"{m} MeV": electron.rate_per_ne(ge, m * u.MeV, sigma, n_max=8) for m in (10, 100, 1000)
    }
    print(f"{ge.material}, σ̄e = 1e-39 cm², heavy mediator: rates [1/(kg yr)] for n_e = 1…4")
    for label, r in per_ne.items():
        values = [r.at(n).to_value(1 / (u.kg * u.yr)) for n in (1, 2, 3, 4)]
        print(f"  {label:>8}:", np.array2string(np.array(values), precision=3))
    plots.save_figure(
        plots.plot_rates_per_ne(per_ne, title=f"{ge.material}, σ̄e = 1e-39 cm², heavy mediator"),
        out / "ge_ne.png",
    )
    masses = np.geomspace(0.5, 1000, 30) * u.MeV
    curves = [reach.electron_reach(ge, masses, 1 * u.kg * u.yr, ne_threshold=n) for n in (1, 2)]
    curves.append(
        reach.electron_reach(ge, masses, 1 * u.kg * u.yr, ne_threshold=1, mediator="light")
    )
    plots.save_figure(
        plots.plot_reach(curves, title=f"{ge.material}, 1 kg yr, background-free, 90 % CL"),
        out / "ge_reach.png",
    )
    print(f"figures in {out}/: ge_ne.png, ge_reach.png")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formfactor", default="Ge", help="shipped material name or HDF5 file")
    ap.add_argument("--out", type=Path, default=Path("out/dm_electron_reach"))
    args = ap.parse_args()
    main(args.formfactor, args.out)
