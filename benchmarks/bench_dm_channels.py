"""Benchmark: spin-dependent and Migdal spectra, ACIE vs wimprates 0.5, in the same process.

Run: ``python benchmarks/bench_dm_channels.py``. For each channel prints wall times, the
speed-up, and the value ratio with conventions aligned (see bench_dm_nuclear.py for the list):

* both: wimprates' N_esc² slip in f(v) (×0.970) and its v_E = 252.1 km/s;
* SD: wimprates computes v_min with the mean atomic mass (131.293 u) for both ¹²⁹Xe and ¹³¹Xe
  (ACIE: each isotope's mass) and μ with m_p for both couplings — aligned through the kernel's
  ``nuclei`` and ``nucleon_mass_u``; with ACIE's defaults the ratio is also printed;
* Migdal: one nucleus of A = 131.293 and a nucleon mass of 1 u in μ_n, as wimprates.

It also times the directional rate d²R/dE dΩ on a 48×96 sphere grid and prints how well its
sphere integral reproduces dR/dE (there is no directional peer in wimprates).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import astropy.units as u
import numpy as np
from _timing import best_of

from acie.darkmatter import targets as T
from acie.darkmatter.directional import d2r_de_domega
from acie.darkmatter.halo_parameters import get_halo_parameters
from acie.darkmatter.migdal import dr_de_migdal, dr_de_migdal_kernel
from acie.darkmatter.nuclear import dr_de
from acie.darkmatter.spin_dependent import dr_de_sd, dr_de_sd_kernel
from acie.darkmatter.structure_functions import sd_nuclei
from acie.darkmatter.units import AMU_EV


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import numericalunits as nu
        import wimprates as wr

        ve = wr.v_earth() / (nu.km / nu.s)
        per_dru = 1e3 * nu.year / nu.day
    h = get_halo_parameters("baxter2021").with_values(v_earth=ve * u.km / u.s)
    z = 544.0 / 238.0
    nesc2 = (math.erf(z) - 2 * z * math.exp(-z * z) / math.sqrt(math.pi)) ** 2
    xe = T.TARGETS["Xe"]

    # ---------------------------------------------------------------- spin-dependent
    es = np.linspace(1.0, 100.0, 100)
    nuclei = [replace(n, mass_ev=131.293 * AMU_EV) for n in sd_nuclei(xe)]
    print("100-point Xe spin-dependent spectrum, m = 50 GeV, sigma = 1e-40 cm^2, E = 1-100 keV")
    for c in ("p", "n"):
        coupling = "proton" if c == "p" else "neutron"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_wr = best_of(
                lambda c=c: wr.rate_wimp_std(es, 50, 1e-40, interaction=f"SD_{c}_central"), 3
            )
            ref = wr.rate_wimp_std(es, 50, 1e-40, interaction=f"SD_{c}_central") / per_dru
        t_api = best_of(
            lambda cp=coupling: dr_de_sd(es * u.keV, 50 * u.GeV, 1e-40 * u.cm**2, coupling=cp), 20
        )
        aligned = nesc2 * dr_de_sd_kernel(
            es, 50.0, 1e-40, xe, h, coupling, nucleon_mass_u=1.007276466621, nuclei=nuclei
        )
        default = (
            nesc2
            * dr_de_sd(es * u.keV, 50 * u.GeV, 1e-40 * u.cm**2, coupling=coupling, halo=h).value
        )
        live = ref > 1e-3 * ref.max()
        ra, rd = aligned[live] / ref[live], default[live] / ref[live]
        print(
            f"  SD_{c}: wimprates {t_wr * 1e3:8.1f} ms | acie dr_de_sd {t_api * 1e3:6.2f} ms | "
            f"speed-up x{t_wr / t_api:,.0f}"
        )
        print(
            f"        aligned ratio: max |dev| {np.max(np.abs(ra - 1)):.1e}; ACIE isotope masses in "
            f"v_min: {rd.min():.4f}-{rd.max():.4f} (E <= 40 keV: max |dev| "
            f"{np.max(np.abs(rd[es[live] <= 40] - 1)):.2%})"
        )

    # ---------------------------------------------------------------- Migdal
    mean = T.Target(name="Xe", elements=(("Xe", (T.Isotope(131.293, 131.293, 1.0),), 1.0),))
    for mass, ew in ((1.0, np.geomspace(0.1, 2.5, 10)), (5.0, np.geomspace(0.1, 8.0, 10))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_wr = best_of(
                lambda ew=ew, m=mass: wr.rate_wimp_std(ew, m, 1e-38, detection_mechanism="migdal"),
                1,
            )
            ref = wr.rate_wimp_std(ew, mass, 1e-38, detection_mechanism="migdal") / per_dru
        t_api = best_of(
            lambda ew=ew, m=mass: dr_de_migdal(ew * u.keV, m * u.GeV, 1e-38 * u.cm**2), 20
        )
        ours = nesc2 * dr_de_migdal_kernel(ew * 1e3, mass, 1e-38, mean, h, nucleon_mass_u=1.0)
        live = ref > 0
        r = ours[live] / ref[live]
        print(
            f"10-point Xe Migdal spectrum, m = {mass:g} GeV, E_er = {ew[0]:g}-{ew[-1]:g} keV: "
            f"wimprates {t_wr:6.2f} s | acie dr_de_migdal {t_api * 1e3:6.2f} ms (isotope sum) | "
            f"speed-up x{t_wr / t_api:,.0f} | aligned ratio max |dev| {np.max(np.abs(r - 1)):.1e}"
        )

    # ---------------------------------------------------------------- directional
    from astropy.time import Time

    t0 = Time("2025-03-01T00:00:00")
    n = 48
    x, wx = np.polynomial.legendre.leggauss(n)
    phi = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    ct = x[:, None]
    st = np.sqrt(1 - ct**2)
    dirs = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (n, 2 * n))], -1)
    e = np.linspace(1.0, 60.0, 30) * u.keV
    t_dir = best_of(lambda: d2r_de_domega(e, 50 * u.GeV, 1e-45 * u.cm**2, dirs, t0), 5)
    d2 = d2r_de_domega(e, 50 * u.GeV, 1e-45 * u.cm**2, dirs, t0).value
    total = np.einsum("i,ijk->k", wx, d2) * (2 * np.pi / (2 * n))
    ratio = total / dr_de(e, 50 * u.GeV, 1e-45 * u.cm**2, time=t0).value
    print(
        f"Directional Xe d2R/dEdOmega, 30 energies x {dirs.shape[0] * dirs.shape[1]} directions: "
        f"{t_dir * 1e3:.1f} ms; sphere integral / dR/dE: max |dev| {np.max(np.abs(ratio - 1)):.1e}"
    )


if __name__ == "__main__":
    main()
