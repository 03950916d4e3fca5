"""The structural equations of the causal galaxy simulator and their exogenous noise.

One mechanism per property node of :mod:`acie.galaxy.properties`, each a published
scaling relation (:mod:`acie.galaxy.relations`) plus explicit exogenous noise
(``e_*`` standard normal truncated at ±3, ``u_*`` uniform on [0, 1))::

    log_halo_mass    = lo + (hi - lo) u_halo                       (uniform in log M_h)
    log_stellar_mass = SHMR_Moster13(M_h) + 0.15 e
    log_gas_mass     = log M_* + fgas_PS11(M_*) + 0.30 e
    log_sfr          = MS_Speagle14(M_*) + 0.5 (gas excess) + 0.13 e
                       - 1.5 step(f_q,Peng10(M_*) - u_quench)      (mass quenching)
    metallicity      = FMR_Curti20(M_*, SFR) + 0.054 e
    age              = tau-model age(b = SFR T (1-R) / M_* x 10^(0.2 e))
    log_size         = sizemass_vdW14(M_*, w_q) + sigma(w_q) e     (w_q: quiescence weight)
    sersic_n         = clip(10^(w_q log10 4 + 0.08 e), 0.3, 6.2)
    log_luminosity   = log M_* - log Upsilon_r(age, Z) + 0.10 e
    velocity_disp.   = sqrt(G M_dyn / (beta(n) R_e)) x 10^(0.04 e)  (virial, Cappellari+06)

:class:`~acie.galaxy.simulator.GalaxySimulator` draws the noise with
:func:`draw_exogenous`, evaluates these equations with :func:`propagate` and renders
the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
from scipy.special import expit

from acie.errors import UnknownNodeError
from acie.galaxy import relations as rel
from acie.galaxy.properties import PROPERTY_NAMES
from acie.galaxy.render import SERSIC_N_RANGE
from acie.physics.virial import virial_velocity_dispersion

__all__ = [
    "EXOGENOUS_NAMES",
    "SCATTER_DEX",
    "draw_exogenous",
    "mechanism",
    "propagate",
    "truncated_normal",
]

#: Exogenous noise variables: one per property node, plus the quenching draw.
EXOGENOUS_NAMES: tuple[str, ...] = (*PROPERTY_NAMES, "quench")
_UNIFORM_NOISE = ("log_halo_mass", "quench")

#: Log-normal scatter of each mechanism [dex] (see :mod:`acie.galaxy.relations`).
SCATTER_DEX: dict[str, float] = {
    "log_stellar_mass": 0.15,  # Moster et al. 2013
    "log_gas_mass": 0.30,  # cf. Zhang et al. 2009 (0.31 dex)
    "log_sfr": 0.13,  # with 0.5 x 0.30 from gas: 0.20 dex total (Speagle et al. 2014)
    "metallicity": 0.054,  # Curti et al. 2020 FMR
    "age": 0.20,  # on the birthrate parameter
    "sersic_n": 0.08,
    "log_luminosity": 0.10,  # Bell et al. 2003 M/L scatter
    "velocity_dispersion": 0.04,  # 0.08 dex in sigma^2, Cappellari et al. 2006
}
_GAS_TO_SFR = 0.5  # Brown et al. 2015: gas excess raises SFR (integrated KS law)
_QUENCH_DEPTH_DEX = 1.5
_QUENCH_WIDTH = 0.02


def truncated_normal(rng: np.random.Generator, n: int, limit: float = 3.0) -> np.ndarray:
    """``n`` standard normal draws from ``rng``, redrawn until each is within ``±limit``."""
    x = rng.standard_normal(n)
    bad = np.abs(x) > limit
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > limit
    return x


def draw_exogenous(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Exogenous noise of :data:`EXOGENOUS_NAMES` for ``n`` galaxies, drawn from ``rng``."""
    return {
        name: rng.random(n) if name in _UNIFORM_NOISE else truncated_normal(rng, n)
        for name in EXOGENOUS_NAMES
    }


def mechanism(
    name: str,
    v: Mapping[str, np.ndarray],
    e: Mapping[str, np.ndarray],
    log_halo_mass_range: Sequence[float],
) -> np.ndarray:
    """The structural equation of property ``name`` (see the module docstring).

    Parameters
    ----------
    name : str
        A property node of :data:`~acie.galaxy.properties.PROPERTY_NAMES`.
    v : mapping of str to ndarray, shape (n,)
        The values of the node's parents (at least), in property units.
    e : mapping of str to ndarray, shape (n,)
        Exogenous noise (:data:`EXOGENOUS_NAMES`).
    log_halo_mass_range : (float, float) [dex(M_sun)]
        The uniform range that ``u_halo`` is mapped onto.
    """
    lo, hi = log_halo_mass_range
    s = SCATTER_DEX
    if name == "log_halo_mass":
        return lo + (hi - lo) * e["log_halo_mass"]
    ms = v.get("log_stellar_mass")
    if name == "log_stellar_mass":
        return rel.moster13_shmr(v["log_halo_mass"]) + s[name] * e[name]
    if name == "log_gas_mass":
        return ms + rel.gas_fraction_ps11(ms) + s[name] * e[name]
    if name == "log_sfr":
        gas_excess = v["log_gas_mass"] - ms - rel.gas_fraction_ps11(ms)
        f_q = rel.quenched_fraction_peng10(ms)
        quenched = expit((f_q - e["quench"]) / _QUENCH_WIDTH)
        return (
            rel.speagle14_main_sequence(ms)
            + _GAS_TO_SFR * gas_excess
            + s[name] * e[name]
            - _QUENCH_DEPTH_DEX * quenched
        )
    if name == "metallicity":
        return rel.curti20_fmr(ms, v["log_sfr"]) + s[name] * e[name]
    if name == "age":
        return rel.mass_weighted_age(ms, v["log_sfr"] + s[name] * e[name])
    if name == "log_size":
        mu, sig = rel.size_vdw14(ms, rel.quiescence_weight(ms, v["log_sfr"]))
        return mu + sig * e[name]
    if name == "sersic_n":
        w = rel.quiescence_weight(ms, v["log_sfr"])
        return np.clip(10.0 ** (rel.sersic_index(w) + s[name] * e[name]), *SERSIC_N_RANGE)
    if name == "log_luminosity":
        return ms - rel.log_mass_to_light_r(v["age"], v["metallicity"]) + s[name] * e[name]
    if name == "velocity_dispersion":
        sigma = virial_velocity_dispersion(
            v["log_halo_mass"], ms, v["log_gas_mass"], v["log_size"], v["sersic_n"]
        )
        return sigma * 10.0 ** (s[name] * e[name])
    raise UnknownNodeError(name, list(PROPERTY_NAMES))  # pragma: no cover


def propagate(
    noise: Mapping[str, np.ndarray],
    fixed: Mapping[str, np.ndarray],
    recompute: Collection[str],
    log_halo_mass_range: Sequence[float],
) -> dict[str, np.ndarray]:
    """Evaluate the nodes in topological order.

    ``fixed`` values are kept, the nodes in ``recompute`` are computed from their
    mechanism; every node must be in one of the two.
    """
    v: dict[str, np.ndarray] = {}
    for name in PROPERTY_NAMES:
        if name in fixed:
            v[name] = np.asarray(fixed[name], dtype=np.float64)
        elif name in recompute:
            v[name] = np.asarray(mechanism(name, v, noise, log_halo_mass_range), dtype=np.float64)
        else:  # pragma: no cover - callers pass every node in fixed or recompute
            raise KeyError(name)
    return v
