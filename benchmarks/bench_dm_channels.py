"""Benchmark: spin-dependent and Migdal spectra, ACIE vs wimprates 0.5, in the same process.

Run: ``python benchmarks/bench_dm_channels.py``. For each channel prints wall times, the
speed-up, and the value ratio with conventions aligned (see bench_dm_nuclear.py for the list):

* both: wimprates' N_esc² slip in f(v) (×0.970) and its v_E = 252.1 km/s;
* SD: wimprates computes v_min with the mean atomic mass (131.293 u) for both ¹²⁹Xe and ¹³¹Xe
  (ACIE: each isotope's mass) and μ with m_p for both couplings — aligned through the kernel's
  ``nuclei`` and ``nucleon_mass_u``; with ACIE's defaults the ratio is also printed;
* Migdal: one nucleus of A = 131.293 and a nucleon mass of 1 u in μ_n, as wimprates.

It also times the spin-dependent spectra of the other shipped isotopes (Ge, NaI, C3F8: Klos
et al. 2013 fits; wimprates has Xe only, so their check is S_00(0) against the paper's spin
expectation values), the S1 stream's η and the halo Monte Carlo with it (no peer), and
the directional rate d²R/dE dΩ on a 48×96 sphere grid and prints how well its
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
from acie.darkmatter.halo_catalogue import get_catalogue_entry
from acie.darkmatter.halo_mc import nuclear_reach_draws
from acie.darkmatter.halo_parameters import get_halo_parameters
from acie.darkmatter.migdal import dr_de_migdal, dr_de_migdal_kernel
from acie.darkmatter.nuclear import dr_de
from acie.darkmatter.sd_fits import sd_components
from acie.darkmatter.spin_dependent import dr_de_sd, dr_de_sd_kernel
from acie.darkmatter.stream import eta_stream_draws, eta_stream_mc
from acie.darkmatter.structure_functions import SPINS, sd_nuclei
from acie.darkmatter.units import AMU_EV

VE_S1 = np.array([[11.1, 250.0, 7.25]])
S1_V = np.array([[-29.5, -297.2, -73.0]])
S1_SIG = np.array([[82.7, 26.8, 58.5]])


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

    # ------------------------------------------------- SD of the other isotopes (no peer)
    published = {"Ge73": (0.031, 0.439), "I127": (0.342, 0.031), "Na23": (0.224, 0.024)}
    published |= {"F19": (0.478, -0.002), "Si29": (0.016, 0.156), "Al27": (0.326, 0.038)}
    dev = []
    for iso, (sp, sn) in published.items():
        j = SPINS[iso]
        ref0 = (2 * j + 1) * (j + 1) / (4 * math.pi * j) * (sp + sn) ** 2
        dev.append(abs(sd_components(iso, np.array([0.0]))["S00"][0] / ref0 - 1))
    line = []
    for tgt in ("Ge", "NaI", "C3F8"):
        t = best_of(lambda tgt=tgt: dr_de_sd(es * u.keV, 50 * u.GeV, 1e-40 * u.cm**2, tgt), 20)
        line.append(f"{tgt} {t * 1e3:.2f} ms")
    print(
        f"100-point SD spectra (Klos 2013 fits): {', '.join(line)}; S_00(0) vs published "
        f"<S_p>+<S_n> of {len(published)} isotopes: max |dev| {max(dev):.1e}"
    )

    # ------------------------------------------------------ S1 stream (no peer)
    entry = get_catalogue_entry("shm+S1")
    hs = entry.halo()
    draws = entry.draws(1000, seed=0)
    nodes = np.linspace(0.0, 850.0, 1024)
    pec = hs.v_sun_peculiar.to_value(u.km / u.s)
    t_one = best_of(lambda: eta_stream_draws(nodes, VE_S1, S1_V, S1_SIG), 3)
    t_mc = best_of(lambda: eta_stream_mc(nodes, draws, pec), 3)
    masses = np.geomspace(6.0, 1000.0, 30) * u.GeV
    kw = dict(signal_limit=2.3, target="Xe", e_min=1 * u.keV, base=hs)
    plain = {k: draws[k] for k in ("v0", "vesc", "v_earth", "rho")}
    t_shm = best_of(lambda: nuclear_reach_draws(masses, 1000 * u.kg * u.yr, plain, **kw), 3)
    t_s1 = best_of(lambda: nuclear_reach_draws(masses, 1000 * u.kg * u.yr, draws, **kw), 3)
    print(
        f"S1 stream eta on 1024 v_min nodes: one Earth velocity {t_one * 1e3:.0f} ms, 1000 "
        f"consistent draws {t_mc * 1e3:.0f} ms; Xe nuclear reach, 1000 draws x 30 masses: SHM "
        f"{t_shm:.2f} s, SHM + S1 {t_s1:.2f} s"
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
