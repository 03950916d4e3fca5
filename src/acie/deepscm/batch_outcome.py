"""The physics check of a counterfactual batch, galaxy by galaxy.

:func:`physics_check` scores every galaxy's counterfactual properties; only the galaxies
above the tolerance are projected (with the intervened nodes *and* their
non-descendants pinned, :func:`acie.galaxy.constraints.fixed_for_counterfactual`: in a
counterfactual abduction fixes the non-descendants, so a repair may only move
descendants) and only those are decoded again. A galaxy still above the tolerance
after the pinned projection, or with a non-finite score, is refused by itself: its
status is ``"refused"`` and the others are unaffected (their images are the ones they
would get alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["STATUSES", "PhysicsOutcome", "physics_check"]

#: Per-galaxy outcomes: within tolerance as predicted, brought within it by the
#: pinned projection, or refused.
STATUSES = ("ok", "projected", "refused")


@dataclass(frozen=True)
class PhysicsOutcome:
    """Per-galaxy result of :func:`physics_check` for a batch of ``n`` galaxies.

    Attributes
    ----------
    s_cf : torch.Tensor (n, d)
        Standardised counterfactual properties (projected rows replaced).
    x_cf : torch.Tensor (n, C, H, W)
        Counterfactual stretched images (projected rows decoded again).
    properties : dict of str to ndarray (n,)
        Physical counterfactual properties.
    score : ndarray (n,)
        Violation score after projection [dex].
    status : ndarray (n,) of str
        One of :data:`STATUSES` per galaxy.
    """

    s_cf: torch.Tensor
    x_cf: torch.Tensor
    properties: dict[str, np.ndarray]
    score: np.ndarray
    status: np.ndarray

    @property
    def projected(self) -> np.ndarray:
        """Whether the projection changed each galaxy's counterfactual (n,) bool."""
        return self.status == "projected"

    @property
    def refused(self) -> np.ndarray:
        """Whether each galaxy was refused (n,) bool."""
        return self.status == "refused"


def physics_check(
    s_cf: torch.Tensor,
    x_cf: torch.Tensor,
    *,
    intervened: list[str],
    names: list[str],
    to_standard: Callable[[str, np.ndarray], np.ndarray],
    physical: Callable[[torch.Tensor], dict[str, np.ndarray]],
    decode: Callable[[np.ndarray, torch.Tensor], torch.Tensor],
    tolerance: float,
    steps: int,
) -> PhysicsOutcome:
    """Score, project the violating galaxies with the non-descendants pinned, re-decode them.

    Parameters
    ----------
    s_cf, x_cf : torch.Tensor
        Standardised counterfactual properties (n, d) and stretched images (n, C, H, W).
    intervened : list of str
        The intervened property nodes.
    names : list of str
        Column names of ``s_cf``.
    to_standard : callable
        ``(name, physical values) -> standardised values``.
    physical : callable
        ``s (m, d) -> {property: (m,)}`` in physical units.
    decode : callable
        ``(row indices (m,), s (m, d)) -> stretched images (m, C, H, W)`` of those rows.
    tolerance : float
        Largest allowed violation score [dex].
    steps : int
        Projection steps (0 = score and refuse only).

    Returns
    -------
    PhysicsOutcome
    """
    from acie.galaxy import constraints

    props = physical(s_cf)
    score = np.asarray(constraints.violation_score(props), dtype=np.float64).copy()
    n = score.shape[0]
    status = np.full(n, "ok", dtype=object)
    bad = np.flatnonzero(~(score <= tolerance))  # NaN scores are violations too
    fixed = list(constraints.fixed_for_counterfactual(intervened))
    finite = bad[np.isfinite(score[bad])]
    if steps > 0 and finite.size and len(fixed) < len(constraints.PROPERTY_NAMES):
        sub = {k: v[finite] for k, v in props.items()}
        with torch.enable_grad():  # the projection differentiates the constraints
            new = constraints.project(sub, fixed=fixed, steps=steps, tolerance=tolerance)
        moved = np.any(
            [~np.isclose(new.properties[k], sub[k], rtol=0, atol=1e-9) for k in sub], axis=0
        )
        rows = finite[moved]
        if rows.size:
            s_new, x_new = s_cf.clone(), x_cf.clone()
            idx = torch.as_tensor(rows, device=s_cf.device)
            for k in (k for k in props if k not in fixed):
                col = names.index(k)
                s_new[idx, col] = torch.as_tensor(
                    to_standard(k, new.properties[k][moved]), dtype=s_cf.dtype, device=s_cf.device
                )
            x_new[idx] = decode(rows, s_new[idx])
            s_cf, x_cf = s_new, x_new
            sub_props = physical(s_new[idx])
            for k in props:
                props[k] = props[k].copy()
                props[k][rows] = sub_props[k]
            score[rows] = np.asarray(constraints.violation_score(sub_props), dtype=np.float64)
            status[rows] = "projected"
    status[~(score <= tolerance)] = "refused"
    return PhysicsOutcome(
        s_cf=s_cf, x_cf=x_cf, properties=props, score=score, status=status.astype(str)
    )
