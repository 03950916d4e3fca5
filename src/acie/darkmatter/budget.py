"""Systematic budget of an electron-recoil reach: each source's share of its variance per mass.

Sources: every halo parameter with an uncertainty in a :mod:`~acie.darkmatter.halo_catalogue`
set (``halo v0``, ``halo vesc``, ``halo rho``, ``halo sausage_fraction``; the Earth speed
follows each v0), a stream's drawn parameters (``halo stream_fraction``, and
``halo stream_v`` / ``halo stream_sigma`` where the set gives the stream's mean velocity or
dispersions an uncertainty) and the three
form-factor systematics of :mod:`~acie.darkmatter.formfactor_systematics` (convergence,
functional, table uncertainty) as multiplicative f² scalings.

**Decomposition (one at a time, on log10 σ).** With common random numbers — the same n
draws of every source — the reach is evaluated (a) with one source varied and all others
at their central values, for each source k, giving V_k(m) = Var[log10 σ(m)], and (b) with
all sources varied together, V_all(m). The share of source k is V_k / Σ_j V_j, so the
shares sum to 1 at every mass by construction, and a source with zero spread has V_k = 0
and share 0. Independent sources that act multiplicatively on the reach (ρ, every f²
scaling) are exactly additive in log10 σ; v0 and vesc act through η non-linearly, so
Σ_j V_j ≠ V_all in general: :attr:`Budget.additivity` = Σ_j V_j / V_all reports how well the
first-order picture holds (1 when there are no interactions).

**Vectorised.** The halo draws of all one-at-a-time scenarios and of the joint run go
through one call of :func:`acie.darkmatter.halo_mc.electron_reach_draws` (no loop over
draws; ρ and the f² scalings rescale the central reach analytically), so 1000 draws × 30
masses take well under a second for SHM sets (``benchmarks/bench_dm_budget.py``). SHM++
sets use the linearity of η in the sausage fraction f: 1/σ = (1 − f)/σ_round + f/σ_sausage,
the round part in closed form, the pure-sausage part a numerical integral per draw
(5–100 ms each, so ~3 × n of them: use a few hundred draws); the sausage fraction alone
needs only the two central parts.
A stream enters linearly too: η = (1 − f_s) η_halo + f_s η_stream, so
1/σ = (1 − f_s)/σ_halo + f_s/σ_stream; both parts of every scenario come from one
vectorised call (the draws twice, with f_s = 0 and 1), the stream's η at 9 v0 nodes when its
kinematics are fixed (``shm+S1``: 1000 draws × 30 masses in ~0.4–0.7 s against 0.2–0.4 s
without the stream) and per draw (4–8 ms each) when they are drawn; the fraction alone needs
only the two central parts.
:func:`budget_reach_loop` is the per-draw peer used to check it (sets without a stream).

The module is longer than ~400 lines because the scenario assembly (halo, SHM++ and stream
linearity) and the decomposition share their private helpers; splitting them would export
those helpers for one caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.formfactor_systematics import (
    FormFactorSystematic,
    draw_scalings,
    formfactor_systematics,
)
from acie.darkmatter.halo_catalogue import CatalogueEntry, get_catalogue_entry
from acie.errors import InputValidationError, expected_got

__all__ = ["Budget", "budget_reach_loop", "counting_function", "plot_budget", "reach_budget"]

_VELOCITY = ("v0", "vesc")
_SUPPORTED = ("v0", "vesc", "rho", "sausage_fraction")


@dataclass(frozen=True, kw_only=True)
class Budget:
    """A reach's systematic budget.

    Attributes
    ----------
    masses : Quantity ['energy'], MeV, (n_m,)
    central : Quantity ['area'], cm², (n_m,)
        Reach at the central halo and unscaled table.
    sources : tuple of str
    variance : dict source -> ndarray (n_m,)
        Var[log10 σ] with only that source varied.
    variance_all : ndarray (n_m,)
        Var[log10 σ] with all sources varied together.
    samples : Quantity ['area'], (n_draws, n_m)
        The joint draws' reach.
    basis : dict source -> str
        What each source's spread was computed from.
    settings : dict
    """

    masses: u.Quantity
    central: u.Quantity
    sources: tuple[str, ...]
    variance: dict[str, np.ndarray]
    variance_all: np.ndarray
    samples: u.Quantity
    basis: dict[str, str]
    settings: dict = field(default_factory=dict)
    method: str = (
        "one-at-a-time variance of log10 σ with common random numbers; "
        "share_k = V_k / Σ_j V_j (sums to 1); additivity = Σ_j V_j / V_all"
    )

    @property
    def shares(self) -> dict[str, np.ndarray]:
        """V_k / Σ_j V_j per mass (NaN where no source varies the reach)."""
        tot = np.sum([self.variance[s] for s in self.sources], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {s: np.where(tot > 0, self.variance[s] / tot, np.nan) for s in self.sources}

    @property
    def additivity(self) -> np.ndarray:
        """Σ_j V_j / V_all per mass (1 when the sources do not interact)."""
        tot = np.sum([self.variance[s] for s in self.sources], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.variance_all > 0, tot / self.variance_all, np.nan)

    def rows(self) -> list[dict]:
        """One dict per mass: mass, central reach, 1σ of log10 σ and each share."""
        sh, add = self.shares, self.additivity
        out = []
        for i, m in enumerate(self.masses.to_value(u.MeV)):
            row = {
                "mass_MeV": float(m),
                "sigma_limit_cm2": float(self.central[i].to_value(u.cm**2)),
                "sd_log10_sigma": float(np.sqrt(self.variance_all[i])),
                "additivity": float(add[i]),
            }
            row.update({f"share {s}": float(sh[s][i]) for s in self.sources})
            out.append(row)
        return out


def _log_var(sigma: np.ndarray) -> np.ndarray:
    """Var over axis 0 of log10 σ; NaN where any draw has no reach (σ = ∞)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(sigma)
        lg = lg - lg[:1]  # identical draws give exactly 0
    v = np.var(np.where(np.isfinite(lg), lg, np.nan), axis=0)
    return np.where(np.all(np.isfinite(lg), axis=0), v, np.nan)


def _entry(halo: CatalogueEntry | str) -> CatalogueEntry:
    e = halo if isinstance(halo, CatalogueEntry) else get_catalogue_entry(halo)
    bad = sorted(set(e.distributions) - set(_SUPPORTED))
    if bad or (e.model == "shm" and "sausage_fraction" in e.distributions):
        raise InputValidationError(
            expected_got(
                f"halo set {e.name!r} for the budget",
                "uncertain parameters among v0, vesc, rho (and sausage_fraction for SHM++)",
                f"model {e.model}, uncertain {sorted(e.distributions)}",
            )
        )
    return e


def _inverse(x: np.ndarray) -> np.ndarray:
    """1/x with 1/0 = ∞ (counts → reach)."""
    with np.errstate(divide="ignore"):
        return np.where(x > 0, 1.0 / x, np.inf)


def _halo_counts(table, masses, exposure, d: dict, h, kw: dict) -> np.ndarray:
    """1/σ̄e (1/cm²) of the halo without its stream, (n_d, n_m); SHM++ linear in f.

    The SHM++ η is (1 − f) η_round + f η_sausage, so the counts are too:
    1/σ = (1 − f)/σ_round + f/σ_sausage, with σ_sausage from the pure-sausage halo (its
    numerical integral per draw, ~5 ms each) and σ_round in closed form.
    """
    from acie.darkmatter.halo_mc import electron_reach_draws

    core = {k: d[k] for k in ("v0", "vesc", "v_earth", "rho")}
    if h.model != "shm++":
        return 1.0 / electron_reach_draws(table, masses, exposure, core, base=h, **kw).value
    f = d.get("sausage_fraction", np.full(d["v0"].size, h.sausage_fraction))
    r = h.with_values(model="shm", sausage_fraction=0.0, beta=0.0)
    s_r = electron_reach_draws(table, masses, exposure, core, base=r, **kw).value
    sg = h.with_values(sausage_fraction=1.0)
    s_s = electron_reach_draws(table, masses, exposure, core, base=sg, **kw).value
    return (1 - f)[:, None] / s_r + f[:, None] / s_s  # 1/∞ = 0


def _parts(table, masses, exposure, d: dict, h, kw: dict) -> tuple[np.ndarray, np.ndarray]:
    """1/σ̄e (1/cm²) of the halo alone and of a pure stream (fraction 1), each (n_d, n_m).

    The stream's η depends on each draw's v0 (through v_E) and its kinematics, not on vesc
    or the halo model; with fixed kinematics it is evaluated at 9 v0 nodes for any number of
    draws (:func:`acie.darkmatter.stream.eta_stream_mc`). For an SHM halo both parts come
    from one call (the draws twice, with stream fraction 0 and 1: the same v_min grid).
    """
    from acie.darkmatter.halo_mc import electron_reach_draws

    n = d["v0"].size
    keys = ("v0", "vesc", "v_earth", "rho", "stream_v", "stream_sigma")
    r = h.with_values(model="shm", sausage_fraction=0.0, beta=0.0)
    if h.model == "shm++":  # the halo part has its own (sausage) η
        pure = {k: d[k] for k in keys} | {"stream_fraction": np.ones(n)}
        c_s = 1.0 / electron_reach_draws(table, masses, exposure, pure, base=r, **kw).value
        return _halo_counts(table, masses, exposure, d, h, kw), c_s
    both = {k: np.concatenate([d[k], d[k]]) for k in keys}
    both["stream_fraction"] = np.repeat([0.0, 1.0], n)
    c = 1.0 / electron_reach_draws(table, masses, exposure, both, base=h, **kw).value
    return c[:n], c[n:]


def _sigma_draws(table, masses, exposure, d: dict, h, kw: dict) -> np.ndarray:
    """σ̄e (cm²) of every draw, (n_d, n_m): halo and stream mixed linearly in the fraction.

    With a stream of fraction f_s, η = (1 − f_s) η_halo + f_s η_stream, so
    1/σ = (1 − f_s)/σ_halo + f_s/σ_stream.
    """
    if "stream_fraction" not in d:
        return _inverse(_halo_counts(table, masses, exposure, d, h, kw))
    c_h, c_s = _parts(table, masses, exposure, d, h, kw)
    f = np.asarray(d["stream_fraction"], float)[:, None]
    return _inverse((1 - f) * c_h + f * c_s)


def _central(h, n: int, e: CatalogueEntry | None = None) -> dict[str, np.ndarray]:
    out = {
        "v0": np.full(n, h.v0.value),
        "vesc": np.full(n, h.vesc.value),
        "v_earth": np.full(n, h.v_earth.value),
        "rho": np.full(n, h.rho.value),
        "sausage_fraction": np.full(n, float(h.sausage_fraction)),
    }
    if e is not None and e.stream is not None:
        out["stream_fraction"] = np.full(n, e.stream.fraction)
        out["stream_v"] = np.tile(np.asarray(e.stream.velocity, float), (n, 1))
        out["stream_sigma"] = np.tile(np.asarray(e.stream.dispersion, float), (n, 1))
    return out


def _stacked(fn, blocks: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """``fn`` of the concatenated blocks in one call, split back per block."""
    if not blocks:
        return []
    out = fn({k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]})
    return np.split(out, np.cumsum([b["v0"].size for b in blocks])[:-1])


def _scenarios(table, masses, exposure, e: CatalogueEntry, h, d: dict, kw: dict):
    """σ̄e (n, n_m) of each one-at-a-time scenario evaluated through η, and of the joint run.

    Returns ``({param: σ, …, "joint": σ}, (c_halo, c_stream) at the centre or None)``.
    The halo parts of all scenarios go through one vectorised call; with a stream its pure
    parts go through one call for the scenarios of fixed stream kinematics (η_s at 9 v0
    nodes) and one for those that draw the kinematics (η_s per draw).
    """
    n = d["v0"].size
    cen = _central(h, n, e)
    names = [p for p in _VELOCITY if p in e.distributions]
    names += [p for p in ("stream_v", "stream_sigma") if p in e.stream_sources()]
    blocks = {}
    for p in names:
        b = dict(cen)
        b[p] = d[p]
        if p == "v0":
            b["v_earth"] = d["v_earth"]
        blocks[p] = b
    blocks["joint"] = {k: d.get(k, cen[k]) for k in cen}
    if e.stream is None:
        parts = _stacked(lambda x: _inverse(_halo_counts(table, masses, exposure, x, h, kw)), list(blocks.values()))  # fmt: skip
        return dict(zip(blocks, parts, strict=True)), None
    c_h0, c_s0 = (c[0] for c in _parts(table, masses, exposure, _central(h, 2, e), h, kw))
    varying = [p for p in blocks if p.startswith("stream_")]
    kin = [*varying, "joint"] if varying else []
    out = {}
    for group in ([p for p in blocks if p not in kin], kin):  # fixed, drawn stream kinematics
        both = _stacked(lambda x: np.concatenate(_parts(table, masses, exposure, x, h, kw), axis=1), [blocks[p] for p in group])  # fmt: skip
        for p, c in zip(group, both, strict=True):
            c_h, c_s = np.split(c, 2, axis=1)
            if p in varying:  # the halo part at its centre
                c_h = np.broadcast_to(c_h0, c_s.shape)
            f = blocks[p]["stream_fraction"][:, None]
            out[p] = _inverse((1 - f) * c_h + f * c_s)
    return out, (c_h0, c_s0)


def counting_function(masses, exposure, halo: CatalogueEntry | str, **kwargs):
    """Counting function: table -> counted events per mass (n_m,) at the halo set's central values.

    Counts are 1/σ̄e reach in units of 1/cm² (``kwargs``: ``signal_limit``, ``ne_threshold``,
    ``ne_bin``, ``efficiency``, ``mediator`` of :func:`~acie.darkmatter.halo_mc.electron_reach_draws`);
    only ratios of counts are used. A mass with no reach counts 0.
    """
    e = _entry(halo)
    h = e.halo()
    d = _central(h, 2, e)

    def counts(t: FormFactorTable) -> np.ndarray:
        s = _sigma_draws(t, masses, exposure, d, h, kwargs)[0]
        with np.errstate(divide="ignore"):
            return np.where(np.isfinite(s), 1.0 / s, 0.0)

    return counts


def reach_budget(
    table: FormFactorTable,
    masses,
    exposure,
    *,
    signal_limit: float,
    halo: CatalogueEntry | str = "shmpp2019-round",
    n_draws: int = 1000,
    seed: int = 0,
    scaling_seed: int | None = None,
    ne_threshold: int = 1,
    ne_bin: int | None = None,
    efficiency: float = 1.0,
    mediator="heavy",
    uncertainty: FormFactorTable | None = None,
    systematics: list[FormFactorSystematic] | None = None,
    series: dict[str, FormFactorTable] | None = None,
    functional_tables: dict[str, FormFactorTable] | None = None,
) -> Budget:
    """Monte Carlo systematic budget of the σ̄e reach of ``table`` (see the module docstring).

    Parameters
    ----------
    table : FormFactorTable
    masses : Quantity ['energy'] or ['mass'], (n_m,)
    exposure : Quantity ['mass' × 'time']
    signal_limit : float
        Upper limit on the signal count (:func:`acie.darkmatter.reach.signal_upper_limit`).
    halo : CatalogueEntry or name
        A catalogue set (SHM model; uncertain v0, vesc, rho).
    n_draws, seed : int
        Draws per scenario; ``seed`` for the halo draws, ``scaling_seed`` (default
        seed + 1) for the f² scalings.
    ne_threshold, ne_bin, efficiency, mediator
        As for :func:`acie.darkmatter.reach.electron_reach`.
    uncertainty : FormFactorTable, optional
        The table's 1σ f² (exciton files).
    systematics : list of FormFactorSystematic, optional
        Precomputed form-factor systematics (else from ``series``, ``functional_tables``).
    """
    e = _entry(halo)
    h = e.halo()
    kw = dict(
        signal_limit=signal_limit,
        ne_threshold=ne_threshold,
        ne_bin=ne_bin,
        efficiency=efficiency,
        mediator=mediator,
    )
    counts = counting_function(masses, exposure, e, **kw)
    central = _inverse(counts(table))
    if systematics is None:
        systematics = formfactor_systematics(
            table,
            counts,
            uncertainty=uncertainty,
            series=series,
            functional_tables=functional_tables,
        )
    n = n_draws
    d = e.draws(n, seed=seed)
    sig, frac = _scenarios(table, masses, exposure, e, h, d, kw)
    scal = draw_scalings(systematics, n, seed=seed + 1 if scaling_seed is None else scaling_seed)
    variance = {f"halo {p}": _log_var(v) for p, v in sig.items() if p != "joint"}
    if "rho" in e.distributions:
        variance["halo rho"] = _log_var(central[None, :] * (h.rho.value / d["rho"])[:, None])
    if "sausage_fraction" in e.distributions:  # linear in f: the pure parts at the centre
        one = _central(h, 2) | {"sausage_fraction": np.array([0.0, 1.0])}
        s_r, s_s = _sigma_draws(table, masses, exposure, one, h, kw)
        fs = d["sausage_fraction"][:, None]
        variance["halo sausage_fraction"] = _log_var(1.0 / ((1 - fs) / s_r + fs / s_s))
    if frac is not None and "stream_fraction" in e.stream_sources():  # linear in f_s
        c_h, c_s = frac
        fs = d["stream_fraction"][:, None]
        variance["halo stream_fraction"] = _log_var(_inverse((1 - fs) * c_h + fs * c_s))
    basis: dict[str, str] = {
        f"halo {p}": f"{e.name}: {e.uncertainty_text()} ({e.citation})"
        for p in (*e.distributions, *e.stream_sources())
    }
    joint = sig["joint"]
    for s in systematics:
        variance[s.source] = _log_var(central[None, :] / scal[s.source])
        basis[s.source] = s.basis
        joint = joint / scal[s.source]
    sources = tuple(variance)
    return Budget(
        masses=np.atleast_1d(u.Quantity(masses).to(u.MeV, u.mass_energy())),
        central=central * u.cm**2,
        sources=sources,
        variance=variance,
        variance_all=_log_var(joint),
        samples=joint * u.cm**2,
        basis=basis,
        settings={
            "halo": e.name,
            "halo_entry": e,
            "n_draws": n,
            "seed": seed,
            "material": table.material,
            "ne_threshold": ne_threshold,
            "ne_bin": ne_bin,
            "efficiency": efficiency,
            "mediator": mediator,
            "signal_limit": signal_limit,
            "systematics_available": {s.source: s.available for s in systematics},
        },
    )


def budget_reach_loop(
    table: FormFactorTable,
    masses,
    exposure,
    budget_draws: dict[str, np.ndarray],
    scalings: np.ndarray,
    *,
    signal_limit: float,
    halo: CatalogueEntry | str = "shmpp2019-round",
    **kwargs,
) -> np.ndarray:
    """The per-draw peer: σ (cm²) of each draw via :func:`acie.darkmatter.reach.electron_reach`.

    ``budget_draws`` are halo arrays (``v0``, ``vesc``, ``v_earth``, ``rho``), ``scalings``
    the product of the f² scalings per draw (n, n_m); ``kwargs`` go to ``electron_reach``.
    """
    from acie.darkmatter.reach import electron_reach

    e = _entry(halo)
    if e.stream is not None:  # electron_reach takes no stream: the peer would drop it
        raise InputValidationError(
            expected_got(
                f"halo set {e.name!r} for the per-draw peer",
                "a set without a stream (electron_reach has no stream component)",
                f"stream {e.stream.name}",
            )
        )
    h = e.halo()
    n = len(budget_draws["v0"])
    if scalings.shape[0] != n:
        raise InputValidationError(expected_got("scalings", f"{n} rows", scalings.shape))
    out = []
    for i in range(n):
        hi = h.with_values(
            v0=budget_draws["v0"][i] * u.km / u.s,
            vesc=budget_draws["vesc"][i] * u.km / u.s,
            v_earth=budget_draws["v_earth"][i] * u.km / u.s,
            rho=budget_draws["rho"][i] * u.GeV / u.cm**3,
            sausage_fraction=float(
                budget_draws.get("sausage_fraction", np.full(n, h.sausage_fraction))[i]
            ),
        )
        r = electron_reach(table, masses, exposure, halo=hi, warn_beyond=None, **kwargs)
        sig = r.cross_section.to_value(u.cm**2) * signal_limit / r.signal_limit
        out.append(sig / scalings[i])
    return np.asarray(out)


def plot_budget(budget: Budget, *, title: str | None = None):
    """Stacked shares of the reach's variance against mass, with the total 1σ (log10 σ) above."""
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(
        2, 1, figsize=(6.4, 5.6), sharex=True, gridspec_kw={"height_ratios": [1, 2]}
    )
    m = budget.masses.to_value(u.MeV)
    ax0.plot(m, np.sqrt(budget.variance_all), "k-")
    ax0.set_ylabel("1σ of log10 σ̄e [dex]")
    sh = budget.shares
    keep = [s for s in budget.sources if np.nanmax(np.nan_to_num(sh[s])) > 0]
    ax1.stackplot(m, *[np.nan_to_num(sh[s]) for s in keep], labels=keep)
    ax1.set_xscale("log")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("dark-matter mass [MeV]")
    ax1.set_ylabel("share of variance [1]")
    ax1.legend(loc="lower left", fontsize=7)
    ax0.set_title(title or f"{budget.settings.get('material')}: systematic budget of the reach")
    fig.tight_layout()
    return fig
