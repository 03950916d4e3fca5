"""Thomas–Fermi-type in-medium screening of the DM–electron interaction (optional).

The model dielectric function of Cappellini, Del Sole, Reining & Bechstedt, PRB 47, 9892
(1993), in the form QCDark uses (``dark_matter_rates.py``, ``TFscreening``):

    ε(q, E) = 1 + [ 1/(ε₀ − 1) + α (q/q_TF)² + q⁴/(4 mₑ² ω_p²) − (E/ω_p)² ]⁻¹

and the rate integrand is multiplied by 1/ε(q, E)². Off by default everywhere.
Parameters for Si and Ge are QCDark's ``default_si`` / ``default_ge`` (ε₀ = 11.3 / 14.0,
q_TF = 4.13 / 3.99 keV, ω_p = 16.6 / 15.2 eV, α = 1.563).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acie.darkmatter.units import ME_EV
from acie.errors import UnknownNameError, expected_got

__all__ = ["SCREENING", "ScreeningParameters", "get_screening", "inverse_dielectric_squared"]


@dataclass(frozen=True, kw_only=True)
class ScreeningParameters:
    """Parameters of the model dielectric function (energies in eV)."""

    eps0: float
    q_tf_ev: float
    omega_p_ev: float
    alpha: float = 1.563
    citation: str = (
        "Cappellini et al., PRB 47, 9892 (1993); values from QCDark dark_matter_rates.py"
    )


SCREENING: dict[str, ScreeningParameters] = {
    "Si": ScreeningParameters(eps0=11.3, q_tf_ev=4.13e3, omega_p_ev=16.6),
    "Ge": ScreeningParameters(eps0=14.0, q_tf_ev=3.99e3, omega_p_ev=15.2),
}


def get_screening(material: str) -> ScreeningParameters:
    """Screening parameters for ``material`` (Si or Ge)."""
    if material not in SCREENING:
        raise UnknownNameError(
            expected_got("screening material", f"one of {sorted(SCREENING)}", material)
        )
    return SCREENING[material]


def inverse_dielectric_squared(
    q_ev: np.ndarray, e_ev: np.ndarray, params: ScreeningParameters
) -> np.ndarray:
    """1/ε(q, E)² on broadcast float arrays (q, E in eV)."""
    q = np.asarray(q_ev, dtype=float)
    e = np.asarray(e_ev, dtype=float)
    val = (
        1.0 / (params.eps0 - 1.0)
        + params.alpha * (q / params.q_tf_ev) ** 2
        + q**4 / (4.0 * ME_EV**2 * params.omega_p_ev**2)
        - (e / params.omega_p_ev) ** 2
    )
    return (1.0 / (1.0 + 1.0 / val)) ** 2
