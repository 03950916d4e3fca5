"""Daily rotation of the WIMP recoil direction in a laboratory, and the daily modulation it causes.

The peak recoil direction −v̂_E (:func:`acie.darkmatter.directional.peak_recoil_direction`) is
fixed on the sky (up to the slow annual change of v_E) and so, seen from a detector site,
sweeps around the sky once per sidereal day. The lab frame is astropy's ``AltAz`` at an
``EarthLocation``; Galactic ↔ AltAz goes through astropy's ICRS/CIRS chain (IERS Earth
orientation from the bundled tables, no downloads). A detector that reads recoils along one
axis fixed in the lab (altitude, azimuth) therefore sees d²R/dE dΩ along that axis modulate
over the sidereal day: :func:`daily_modulation`.

References
----------
* D. N. Spergel, Phys. Rev. D 37, 1353 (1988): the daily rotation of the WIMP wind.
* C. A. J. O'Hare, A. M. Green, Phys. Rev. D 90, 123511 (2014), arXiv:1410.2749: lab-frame
  directional signals.
* Sidereal day 86164.0905 s: IERS Conventions (2010), Technical Note 36.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import astropy.units as u
import numpy as np

from acie.darkmatter.directional import DRU_SR, d2r_kernel, peak_recoil_direction
from acie.darkmatter.halo import earth_velocity
from acie.darkmatter.halo_parameters import HaloParameters, resolve_halo
from acie.darkmatter.nuclear import _inputs
from acie.darkmatter.targets import Target, get_target
from acie.errors import NonPhysicalValueError, OutOfRangeError, expected_got

__all__ = ["SIDEREAL_DAY", "daily_modulation", "recoil_direction_altaz", "sidereal_day_times"]

#: Length of the sidereal day (IERS Conventions 2010).
SIDEREAL_DAY = 86164.0905 * u.s


@contextmanager
def _offline_iers() -> Iterator[None]:
    from astropy.utils import iers

    with iers.conf.set_temp("auto_download", False), warnings.catch_warnings():
        # beyond the bundled Earth-orientation table astropy extrapolates and warns (arcsec level)
        warnings.filterwarnings("ignore", message=".*(IERS|dubious year|polar motion).*")
        yield


def sidereal_day_times(start, n_steps: int):
    """``n_steps`` equally spaced Times covering one sidereal day from ``start`` (end excluded)."""
    from astropy.time import Time

    if not isinstance(n_steps, int | np.integer) or n_steps < 2:
        raise OutOfRangeError(expected_got("number of time steps", "an integer >= 2", n_steps))
    t0 = start if isinstance(start, Time) else Time(start, scale="utc")
    return t0 + SIDEREAL_DAY * (np.arange(n_steps) / n_steps)


def recoil_direction_altaz(location, times, halo: HaloParameters | str | None = None):
    """The peak recoil direction −v̂_E(t) in the lab (AltAz at ``location``) at each of ``times``."""
    from astropy.coordinates import AltAz

    peak = peak_recoil_direction(times, halo)
    with _offline_iers():
        return peak.transform_to(AltAz(obstime=times, location=location))


def _lab_axis_galactic(location, times, alt, az) -> np.ndarray:
    from astropy.coordinates import AltAz, Galactic, SkyCoord

    frame = AltAz(obstime=times, location=location)
    n = len(times)
    axis = SkyCoord(alt=np.full(n, alt) * u.deg, az=np.full(n, az) * u.deg, frame=frame)
    with _offline_iers():
        gal = axis.transform_to(Galactic())
    return np.moveaxis(np.asarray(gal.cartesian.xyz.value, float), 0, -1)


def daily_modulation(
    energy,
    mass,
    cross_section,
    location,
    times,
    *,
    axis_alt=0.0 * u.deg,
    axis_az=90.0 * u.deg,
    target: str | Target = "Xe",
    halo: HaloParameters | str | None = None,
) -> u.Quantity:
    """d²R/dE dΩ along a lab-fixed axis at each of ``times``, events/(keV kg day sr).

    Parameters
    ----------
    energy : Quantity ['energy'], shape (n_E,)
    mass, cross_section : Quantity, scalars
        Dark-matter mass and spin-independent WIMP–nucleon cross-section.
    location : astropy.coordinates.EarthLocation
        The detector site.
    times : astropy.time.Time, shape (n_t,)
    axis_alt, axis_az : Quantity ['angle']
        The lab axis (default horizontal, pointing east).
    target : str or Target
    halo : HaloParameters or name (an SHM set)

    Returns
    -------
    Quantity, shape (n_t, n_E)
    """
    e, m, s = _inputs(energy, mass, cross_section)
    alt = float(u.Quantity(axis_alt, u.deg).value)
    az = float(u.Quantity(axis_az, u.deg).value)
    if not -90.0 <= alt <= 90.0:
        raise NonPhysicalValueError(expected_got("axis altitude", "within [-90, 90] deg", alt))
    h = resolve_halo(halo)
    t = times.reshape(-1) if times.shape else times.reshape(1)
    q = _lab_axis_galactic(location, t, alt, az)  # (n_t, 3)
    vvec = earth_velocity(t, h).to_value(u.km / u.s)  # (n_t, 3)
    rate = d2r_kernel(np.atleast_1d(e), float(m), float(s), get_target(target), h, q, vvec)
    return rate * DRU_SR
