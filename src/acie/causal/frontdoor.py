"""Front-door adjustment: an effect identified through a mediator despite hidden confounding.

When a mediator set M intercepts every directed path from T to Y, T has no unblocked
backdoor path to M, and T blocks every backdoor path from M to Y (Pearl, *Causality*,
2009, Thm 3.3.4; checked by :func:`acie.causal.identification.is_frontdoor_set`), then

``E[Y | do(T=t)] = Σ_m P(m | t) Σ_t' P(t') E[Y | m, t']``

even with T and Y confounded by something unobserved. Binary T: the plug-in
``E[Y | do(t)] = mean over rows with T=t of Σ_t' P(t') μ(M_i, t')`` with an outcome model
μ(m, t) (OLS by default, any scikit-learn regressor); continuous T (linear models): the
product of the T → M slopes and the M → Y slopes given T. The interval is the normal
approximation with a seeded bootstrap standard error (the spread of the estimate over
resampled rows, each refitting every model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from acie.causal._nuisance import OLS, batched_wls, bootstrap_counts, regressor
from acie.causal.effect_estimate import (
    EffectEstimate,
    TreatmentKind,
    check_arrays,
    normal_estimate,
    resolve_kind,
)
from acie.errors import InputValidationError, ShapeError, expected_got

__all__ = ["frontdoor_effect"]


def _point(y: np.ndarray, t: np.ndarray, m: np.ndarray, kind: TreatmentKind, model: Any) -> float:
    if kind is TreatmentKind.BINARY:
        mu = regressor(model).fit(np.column_stack([m, t]), y)
        p1 = t.mean()
        ones, zeros = np.ones(len(t)), np.zeros(len(t))
        g = p1 * mu.predict(np.column_stack([m, ones])) + (1 - p1) * mu.predict(
            np.column_stack([m, zeros])
        )
        return float(g[t == 1].mean() - g[t == 0].mean())
    a = OLS().fit(t[:, None], m).coef_[1]  # dE[M]/dT per mediator, shape (k,)
    b = OLS().fit(np.column_stack([m, t]), y).coef_[1 : 1 + m.shape[1]]  # dE[Y]/dM | T
    return float(np.dot(a, b))


def _batched(y: np.ndarray, t: np.ndarray, m: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The linear-model front-door estimate for each row of weights ``w`` (B, n)."""
    ones = np.ones_like(t)
    k = m.shape[1]
    b = batched_wls(np.column_stack([ones, m, t]), y, w)[:, 1 : 1 + k]  # dE[Y]/dM | T
    if np.all((t == 0) | (t == 1)):  # Σ_t' P(t') E[Y|m, t'] is linear in m: contrast E[M|t]
        m1 = (w * t) @ m / (w @ t)[:, None]
        m0 = (w * (1 - t)) @ m / (w @ (1 - t))[:, None]
        return np.einsum("bk,bk->b", b, m1 - m0)
    a = np.stack(
        [batched_wls(np.column_stack([ones, t]), m[:, j], w)[:, 1] for j in range(k)], axis=1
    )
    return np.einsum("bk,bk->b", a, b)


def frontdoor_effect(
    *,
    outcome: Any,
    treatment: Any,
    mediators: Any,
    outcome_model: Any = None,
    treatment_kind: TreatmentKind | str | None = None,
    level: float = 0.95,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> EffectEstimate:
    """The front-door adjusted effect of T on Y through the mediators M.

    Parameters
    ----------
    outcome, treatment : array-like, shape (n,)
        Outcome Y and treatment T.
    mediators : array-like, shape (n,) or (n, k)
        A front-door set M (check it with ``is_frontdoor_set`` on the graph).
    outcome_model : scikit-learn regressor, optional
        Binary T only: the model of E[Y | M, T] (columns ``[M, T]``); default OLS.
    treatment_kind : {"binary", "continuous"}, optional
        Default: binary when T only takes 0 and 1.
    level : float
        Confidence level.
    n_bootstrap : int
        Bootstrap replicates of the standard error (at least 20).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    EffectEstimate
        The ATE (binary T) or the average derivative (continuous T, linear models).
    """
    y, t, m = check_arrays(outcome, treatment, mediators)
    if m.shape[1] == 0:
        raise ShapeError(expected_got("mediators", "at least one column", m.shape))
    kind = resolve_kind(t, treatment_kind)
    if kind is TreatmentKind.CONTINUOUS and outcome_model is not None:
        raise InputValidationError(
            expected_got("outcome_model for a continuous treatment", "None (linear)", outcome_model)
        )
    if n_bootstrap < 20:
        raise InputValidationError(expected_got("n_bootstrap", "at least 20", n_bootstrap))
    est = _point(y, t, m, kind, outcome_model)
    n = y.shape[0]
    if outcome_model is None:  # linear models: every replicate in two matrix products
        counts = bootstrap_counts(n, n_bootstrap, seed)
        if kind is TreatmentKind.BINARY:
            treated = counts @ t
            counts = counts[(treated >= 2) & (treated <= n - 2)]
        reps = list(_batched(y, t, m, counts))
    else:
        rng = np.random.default_rng(seed)
        reps = []
        for _ in range(n_bootstrap):
            idx = rng.integers(0, n, n)
            if kind is TreatmentKind.BINARY and not 2 <= t[idx].sum() <= n - 2:
                continue
            reps.append(_point(y[idx], t[idx], m[idx], kind, outcome_model))
    return normal_estimate(
        "front-door adjustment",
        kind,
        est,
        float(np.std(reps, ddof=1)),
        n,
        level,
        {"n_bootstrap": len(reps), "seed": seed, "n_mediators": m.shape[1]},
    )
