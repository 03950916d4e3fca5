"""Learned structural mechanisms over a DAG of scalar properties (PyTorch).

Each property node ``s_i`` has an invertible mechanism ``s_i = f_i(u_i; pa_i)`` with
standard-normal exogenous noise ``u_i ~ N(0, 1)`` and parameters computed from the
parents' values by a small MLP, so that

* abduction is exact: ``u_i = f_i^{-1}(s_i; pa_i)``;
* the log-likelihood is exact: ``log p(s_i | pa_i) = log N(u_i) - log |df_i/du_i|``;
* ``do(s_j = v)`` is graph surgery: node ``j`` is set to ``v`` and every other node is
  recomputed from its own (abducted) noise and its parents, in topological order.

Two mechanism families (Pawlowski, Castro & Glocker 2020, "Deep Structural Causal
Models for Tractable Counterfactual Inference", NeurIPS, sec. 3):

``gaussian``
    Reparameterised conditional Gaussian, ``s = mu(pa) + sigma(pa) u`` (a conditional
    affine flow).
``sinh-arcsinh``
    A conditional normalising flow: the affine flow composed with the sinh-arcsinh
    transform of Jones & Pewsey (2009, Biometrika 96, 761), which adds learned skewness
    ``epsilon(pa)`` and tail weight ``delta(pa)``:
    ``s = mu + sigma * sinh((asinh(u) + epsilon) / delta)``.

A third family, :class:`ConditionalMixtureMechanism`, is chosen per node (``mixtures``)
for bimodal mechanisms (star-forming / quenched SFR); its exogenous noise is the pair
(quench draw ``v ~ U(0, 1)`` that picks the component, noise within the component), so a
counterfactual switches component when the mixture weights move past the abducted draw.

This module is longer than ~400 lines because the three mechanism families share the
parent network and are dispatched by :class:`PropertyMechanisms` in one place.

All values here are dimensionless, standardised property coordinates (see
:mod:`acie.deepscm.scaling`); physical units are handled at the engine boundary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum

import networkx as nx
import torch
from torch import nn
from torch.nn import functional as F

from acie.errors import CycleError, GraphError, UnknownNodeError, expected_got

__all__ = [
    "ConditionalGaussianMechanism",
    "ConditionalMixtureMechanism",
    "ConditionalSinhArcsinhFlow",
    "MechanismKind",
    "PropertyMechanisms",
    "topological_order",
]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_LOG_SIGMA = -7.0  # sigma >= 1e-3 standard deviations: keeps abduction well conditioned


class MechanismKind(StrEnum):
    """Family of the learned property mechanisms."""

    gaussian = "gaussian"
    sinh_arcsinh = "sinh-arcsinh"


def topological_order(parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Nodes of the DAG ``parents`` (node -> list of parents) in a topological order.

    Ties are broken by the order of the mapping, so the result is deterministic.

    Raises
    ------
    GraphError
        A parent is not itself a node.
    CycleError
        The graph has a directed cycle.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(parents)
    for node, pas in parents.items():
        for pa in pas:
            if pa not in parents:
                raise GraphError(
                    f"parent {pa!r} of node {node!r} is not a node of the graph; "
                    f"nodes are {', '.join(parents)}"
                )
            graph.add_edge(pa, node)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle is not None:
        raise CycleError([edge[0] for edge in cycle])
    rank = {name: i for i, name in enumerate(parents)}
    return list(nx.lexicographical_topological_sort(graph, key=rank.__getitem__))


class _ParentNet(nn.Module):
    """Maps parent values (n, p) to ``n_out`` mechanism parameters; constants if p == 0."""

    def __init__(self, *, n_parents: int, n_out: int, hidden: int) -> None:
        super().__init__()
        self.n_parents = n_parents
        if n_parents == 0:
            self.const = nn.Parameter(torch.zeros(n_out))
            self.net = None
        else:
            last = nn.Linear(hidden, n_out)
            # start near the identity mechanism (mu = 0, sigma = 1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.net = nn.Sequential(
                nn.Linear(n_parents, hidden),
                nn.SiLU(),
                nn.Linear(hidden, hidden),
                nn.SiLU(),
                last,
            )

    def forward(self, pa: torch.Tensor) -> torch.Tensor:
        """Mechanism parameters (n, n_out) for parents ``pa`` (n, p)."""
        if self.net is None:
            return self.const.expand(pa.shape[0], -1)
        return self.net(pa)


class ConditionalGaussianMechanism(nn.Module):
    """``s = mu(pa) + sigma(pa) * u`` with ``u ~ N(0, 1)``.

    Parameters
    ----------
    n_parents : int
        Number of parent nodes (0 for a root).
    hidden : int
        Width of the hidden layers of the parent network.
    """

    n_params = 2

    def __init__(self, *, n_parents: int, hidden: int = 32) -> None:
        super().__init__()
        self.param_net = _ParentNet(n_parents=n_parents, n_out=self.n_params, hidden=hidden)

    def _affine(self, pa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.param_net(pa)
        return p[:, 0], p[:, 1].clamp(min=_MIN_LOG_SIGMA)

    def forward(self, u: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """Generate ``s`` (n,) from noise ``u`` (n,) and parents ``pa`` (n, p)."""
        mu, log_sigma = self._affine(pa)
        return mu + log_sigma.exp() * u

    def inverse(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """Abduct the noise ``u`` (n,) that produced ``s`` (n,) given the parents."""
        mu, log_sigma = self._affine(pa)
        return (s - mu) * torch.exp(-log_sigma)

    def log_prob(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """``log p(s | pa)`` (n,) in nats per standardised unit."""
        mu, log_sigma = self._affine(pa)
        u = (s - mu) * torch.exp(-log_sigma)
        return -0.5 * u**2 - _LOG_SQRT_2PI - log_sigma


class ConditionalSinhArcsinhFlow(ConditionalGaussianMechanism):
    """``s = mu + sigma * sinh((asinh(u) + epsilon) / delta)`` with ``u ~ N(0, 1)``.

    ``epsilon(pa)`` sets the skewness and ``delta(pa) > 0`` the tail weight
    (Jones & Pewsey 2009); ``epsilon = 0, delta = 1`` is the Gaussian mechanism.
    """

    n_params = 4

    def _all(self, pa: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p = self.param_net(pa)
        # softplus(x + 0.5413) = 1 at x = 0, so the zero-initialised net starts Gaussian
        delta = F.softplus(p[:, 3] + 0.5413) + 0.05
        return p[:, 0], p[:, 1].clamp(min=_MIN_LOG_SIGMA), p[:, 2], delta

    def forward(self, u: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """Generate ``s`` (n,) from noise ``u`` (n,) and parents ``pa`` (n, p)."""
        mu, log_sigma, eps, delta = self._all(pa)
        return mu + log_sigma.exp() * torch.sinh((torch.asinh(u) + eps) / delta)

    def inverse(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """Abduct the noise ``u`` (n,) that produced ``s`` (n,) given the parents."""
        mu, log_sigma, eps, delta = self._all(pa)
        t = (s - mu) * torch.exp(-log_sigma)
        return torch.sinh(delta * torch.asinh(t) - eps)

    def log_prob(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """``log p(s | pa)`` (n,) in nats per standardised unit."""
        mu, log_sigma, eps, delta = self._all(pa)
        t = (s - mu) * torch.exp(-log_sigma)
        a = delta * torch.asinh(t) - eps
        u = torch.sinh(a)
        # log |du/ds| = log delta + log cosh(a) - 0.5 log(1 + t^2) - log sigma
        log_cosh = torch.logaddexp(a, -a) - math.log(2.0)
        log_det = torch.log(delta) + log_cosh - 0.5 * torch.log1p(t**2) - log_sigma
        return -0.5 * u**2 - _LOG_SQRT_2PI + log_det


class ConditionalMixtureMechanism(nn.Module):
    """A conditional Gaussian mixture: ``s = mu_k(pa) + sigma_k(pa) u`` with ``k ~ pi(pa)``.

    The exogenous noise is the pair (quench draw ``v ~ U(0, 1)``, within-component noise
    ``u ~ N(0, 1)``); this represents a bimodal mechanism such as star-forming versus
    quenched SFR at fixed mass, which a unimodal flow smears across the valley.

    The draw picks the component by inverse CDF over the components ordered by their
    mean at ``pa`` (lowest first): ``k`` is the component whose interval
    ``[C_{k-1}(pa), C_k(pa))`` of cumulative weights holds ``v``. With two components
    this is the simulator's quenching rule, quenched iff ``v < w_q(pa)``. The ordering
    changes nothing in the likelihood (``P(k | pa) = pi_k(pa)`` for any order), so
    trained weights are reused as they are.

    Abduction: ``k`` is the most probable component given ``s`` and the parents (or a
    draw from the responsibilities, for stochastic abduction), ``u = (s - mu_k) /
    sigma_k`` and, given ``k``, ``v ~ U(C_{k-1}(pa), C_k(pa))``; the point abduction takes
    its median (:meth:`draw_interval`). A counterfactual at ``pa'`` takes the component
    ``k'`` whose interval at ``pa'`` holds ``v`` and ``s' = mu_k'(pa') + sigma_k'(pa') u``:
    the standardised within-component residual is kept, so a galaxy that switches keeps
    its place (in sigma) within the new component. With the median, a star-forming
    galaxy is quenched iff ``P(switch) = (w_q' - w_q) / (1 - w_q) > 1/2``; without a
    draw (NaN) the component is kept. :class:`~acie.deepscm.model.DeepSCM` keeps the
    component in its point counterfactual and draws ``v`` per particle: the draw is not
    identifiable from the image, and on held-out galaxies the median rule quenches 10 %
    of star-forming galaxies that the simulator does not (``docs/deepscm.md``).

    Parameters
    ----------
    n_parents : int
        Number of parent nodes (0 for a root).
    hidden : int
        Width of the hidden layers of the parent network.
    components : int
        Number of mixture components ``K`` >= 2.
    """

    def __init__(self, *, n_parents: int, hidden: int = 32, components: int = 2) -> None:
        super().__init__()
        if components < 2:
            raise GraphError(expected_got("mixture components", ">= 2", components))
        self.k = components
        self.param_net = _ParentNet(n_parents=n_parents, n_out=3 * components, hidden=hidden)
        # break the symmetry of the zero-initialised net: spread the component means
        spread = torch.linspace(-1.0, 1.0, components)
        with torch.no_grad():
            if self.param_net.net is None:
                self.param_net.const[components : 2 * components] = spread
            else:
                last = self.param_net.net[-1]
                assert isinstance(last, nn.Linear)
                last.bias[components : 2 * components] = spread

    def _mix(self, pa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log weights, means and log scales (n, K)."""
        p = self.param_net(pa)
        k = self.k
        logits, mu, log_sigma = p[:, :k], p[:, k : 2 * k], p[:, 2 * k :]
        return F.log_softmax(logits, dim=1), mu, log_sigma.clamp(min=_MIN_LOG_SIGMA)

    def _joint(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        log_w, mu, log_sigma = self._mix(pa)
        u = (s.unsqueeze(1) - mu) * torch.exp(-log_sigma)
        return log_w - 0.5 * u**2 - _LOG_SQRT_2PI - log_sigma

    def log_prob(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """``log p(s | pa)`` (n,) in nats per standardised unit."""
        return torch.logsumexp(self._joint(s, pa), dim=1)

    def responsibilities(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """Posterior component probabilities ``p(k | s, pa)`` (n, K)."""
        return torch.softmax(self._joint(s, pa), dim=1)

    def component(
        self, s: torch.Tensor, pa: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Abducted component (n,): most probable, or drawn with ``generator``."""
        r = self.responsibilities(s, pa)
        if generator is None:
            return r.argmax(dim=1)
        return torch.multinomial(r.cpu().double(), 1, generator=generator)[:, 0].to(s.device)

    def inverse_within(self, s: torch.Tensor, pa: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Noise ``u`` (n,) within component ``k`` (n,) that produced ``s`` (n,)."""
        _, mu, log_sigma = self._mix(pa)
        kk = k.view(-1, 1)
        return (s - mu.gather(1, kk)[:, 0]) * torch.exp(-log_sigma.gather(1, kk)[:, 0])

    def inverse(self, s: torch.Tensor, pa: torch.Tensor) -> torch.Tensor:
        """Noise ``u`` (n,) within the most probable component."""
        return self.inverse_within(s, pa, self.component(s, pa))

    def forward(
        self, u: torch.Tensor, pa: torch.Tensor, k: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Generate ``s`` (n,) from noise ``u`` (n,) in component ``k`` (n,).

        ``k = None`` uses each galaxy's most probable component under ``pi(pa)``.
        """
        log_w, mu, log_sigma = self._mix(pa)
        if k is None:
            k = log_w.argmax(dim=1)
        kk = k.view(-1, 1)
        return mu.gather(1, kk)[:, 0] + torch.exp(log_sigma.gather(1, kk)[:, 0]) * u

    def _cumulative(self, pa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Components ordered by mean (n, K) and upper cumulative weights (n, K), float64."""
        log_w, mu, _ = self._mix(pa)
        order = mu.argsort(dim=1)
        w = torch.exp(log_w.double()).gather(1, order)
        cum = torch.cumsum(w, dim=1)
        return order, cum / cum[:, -1:]

    def draw_interval(self, pa: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior support ``[lo, hi)`` (n,), float64, of the quench draw given component ``k``."""
        order, cum = self._cumulative(pa)
        pos = (order == k.view(-1, 1)).long().argmax(dim=1, keepdim=True)
        hi = cum.gather(1, pos)[:, 0]
        lo = torch.where(pos[:, 0] > 0, cum.gather(1, (pos - 1).clamp(min=0))[:, 0], 0.0)
        return lo, hi

    def abduct_draw(
        self,
        pa: torch.Tensor,
        k: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Quench draw (n,) given component ``k``: the posterior median, or drawn with ``generator``.

        The posterior of ``v`` given ``k`` is uniform on :meth:`draw_interval`; a draw is
        kept strictly inside it (relative margin 1e-6) so that re-evaluating the weights
        at the same parents recovers ``k``.
        """
        lo, hi = self.draw_interval(pa, k)
        if generator is None:
            t = torch.full_like(lo, 0.5)
        else:
            t = torch.rand(lo.shape, generator=generator, dtype=torch.float64).to(lo.device)
            t = t.clamp(1e-6, 1.0 - 1e-6)
        return lo + (hi - lo) * t

    def component_of_draw(self, pa: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Component (n,) whose cumulative-weight interval at ``pa`` holds the draw ``v`` (n,)."""
        order, cum = self._cumulative(pa)
        pos = (cum <= v.double().view(-1, 1)).sum(dim=1).clamp(max=self.k - 1)
        return order.gather(1, pos.view(-1, 1))[:, 0]

    def draw_component(
        self, pa: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Components (n,) drawn from the prior weights ``pi(pa)``."""
        w = torch.exp(self._mix(pa)[0])
        return torch.multinomial(w.cpu().double(), 1, generator=generator)[:, 0].to(pa.device)


_KINDS: dict[MechanismKind, type[ConditionalGaussianMechanism]] = {
    MechanismKind.gaussian: ConditionalGaussianMechanism,
    MechanismKind.sinh_arcsinh: ConditionalSinhArcsinhFlow,
}


class PropertyMechanisms(nn.Module):
    """The learned SCM over the property graph: one invertible mechanism per node.

    Parameters
    ----------
    parents : mapping of str to sequence of str
        The DAG as parent lists; its keys define the column order of every tensor
        ``s`` (n, d) and ``u`` (n, d) this module takes or returns.
    kind : MechanismKind or str
        Mechanism family, ``"gaussian"`` or ``"sinh-arcsinh"``.
    hidden : int
        Hidden width of each mechanism's parent network.
    mixtures : mapping of str to int, optional
        Nodes whose mechanism is a :class:`ConditionalMixtureMechanism`, with their
        number of components (e.g. ``{"log_sfr": 2}`` for star-forming / quenched).
    """

    def __init__(
        self,
        *,
        parents: Mapping[str, Sequence[str]],
        kind: MechanismKind | str = MechanismKind.gaussian,
        hidden: int = 32,
        mixtures: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        try:
            kind = MechanismKind(kind)
        except ValueError:
            raise GraphError(
                expected_got("mechanism kind", f"one of {[k.value for k in MechanismKind]}", kind)
            ) from None
        self.kind = kind
        self.names: list[str] = list(parents)
        self.parents: dict[str, list[str]] = {k: list(v) for k, v in parents.items()}
        self.order: list[str] = topological_order(self.parents)
        self.index = {name: i for i, name in enumerate(self.names)}
        self._parent_idx = {n: [self.index[p] for p in self.parents[n]] for n in self.names}
        cls = _KINDS[kind]
        self.mixtures = dict(mixtures or {})
        for name in self.mixtures:
            if name not in self.index:
                raise UnknownNodeError(name, self.names)

        def make(n: str) -> nn.Module:
            if n in self.mixtures:
                return ConditionalMixtureMechanism(
                    n_parents=len(self.parents[n]), hidden=hidden, components=self.mixtures[n]
                )
            return cls(n_parents=len(self.parents[n]), hidden=hidden)

        # ModuleDict keys must not contain '.', so mechanisms are keyed by column index
        self.mechanisms = nn.ModuleDict({str(i): make(n) for i, n in enumerate(self.names)})

    def mechanism(self, name: str) -> ConditionalGaussianMechanism | ConditionalMixtureMechanism:
        """The mechanism of node ``name``."""
        return self.mechanisms[str(self.index[name])]  # type: ignore[return-value]

    def _pa(self, s: torch.Tensor, name: str) -> torch.Tensor:
        return s[:, self._parent_idx[name]]

    def log_prob(self, s: torch.Tensor) -> torch.Tensor:
        """``log p(s) = sum_i log p(s_i | pa_i)`` (n,) for standardised properties (n, d)."""
        total = s.new_zeros(s.shape[0])
        for name in self.names:
            i = self.index[name]
            total = total + self.mechanism(name).log_prob(s[:, i], self._pa(s, name))
        return total

    def abduct(self, s: torch.Tensor) -> torch.Tensor:
        """Exogenous noise ``u`` (n, d) that reproduces ``s`` (n, d) exactly.

        For mixture nodes it is the noise within the most probable component; use
        :meth:`abduct_noise` to get the components too.
        """
        return self.abduct_noise(s)[0]

    def abduct_noise(
        self, s: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exogenous noise of ``s`` (n, d): continuous noise ``u`` (n, d) and components (n, d).

        For a mixture node the exogenous noise is the pair (component ``k``, noise within
        the component ``u``). Without ``generator`` ``k`` is the most probable component
        given ``s`` and the parents; with one it is drawn from the posterior
        responsibilities. Non-mixture nodes have component 0.
        """
        comps = s.new_zeros(s.shape, dtype=torch.long)
        cols = []
        for n in self.names:
            i, mech = self.index[n], self.mechanism(n)
            pa = self._pa(s, n)
            if isinstance(mech, ConditionalMixtureMechanism):
                comps[:, i] = mech.component(s[:, i], pa, generator=generator)
                cols.append(mech.inverse_within(s[:, i], pa, comps[:, i]))
            else:
                cols.append(mech.inverse(s[:, i], pa))
        return torch.stack(cols, dim=1), comps

    def abduct_draws(
        self,
        s: torch.Tensor,
        components: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Quench draws (n, d), float64, of each mixture node given its abducted component.

        The posterior median of the draw given ``components`` (from :meth:`abduct_noise`),
        or a draw from that posterior with ``generator``
        (:meth:`ConditionalMixtureMechanism.abduct_draw`); NaN for non-mixture nodes.
        """
        out = torch.full(s.shape, math.nan, dtype=torch.float64, device=s.device)
        for n in self.mixtures:
            i, mech = self.index[n], self.mechanism(n)
            assert isinstance(mech, ConditionalMixtureMechanism)
            out[:, i] = mech.abduct_draw(self._pa(s, n), components[:, i], generator=generator)
        return out

    def predict(
        self,
        u: torch.Tensor,
        interventions: Mapping[str, torch.Tensor] | None = None,
        *,
        components: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        draws: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Properties (n, d) from noise ``u`` (n, d) under ``do(interventions)``.

        ``interventions`` maps node name -> standardised value(s), a tensor broadcastable
        to (n,). Intervened nodes ignore their mechanism; all others follow their
        mechanism from their own noise and their (possibly intervened) parents.
        ``components`` (n, d), from :meth:`abduct_noise`, fixes each mixture node's
        component; without it a mixture node takes a component drawn from ``pi(pa)`` with
        ``generator`` if one is given, else its most probable component under ``pi(pa)``.
        ``draws`` (n, d), from :meth:`abduct_draws`, with ``components``: each mixture
        node takes the component that holds its quench draw at the new parents
        (:class:`ConditionalMixtureMechanism`), so a galaxy switches when the weights move
        past its draw; where a draw is NaN, or without ``draws``, the abducted component is
        kept.
        """
        interventions = dict(interventions or {})
        for name in interventions:
            if name not in self.index:
                raise UnknownNodeError(name, self.names)
        n = u.shape[0]
        cols: dict[int, torch.Tensor] = {}  # column index -> values (n,), filled in order
        for name in self.order:
            i = self.index[name]
            if name in interventions:
                cols[i] = (
                    torch.as_tensor(interventions[name], dtype=u.dtype, device=u.device)
                    .expand(n)
                    .clone()
                )
                continue
            pa_idx = self._parent_idx[name]
            pa = torch.stack([cols[j] for j in pa_idx], dim=1) if pa_idx else u.new_zeros(n, 0)
            mech = self.mechanism(name)
            if isinstance(mech, ConditionalMixtureMechanism):
                if components is not None and draws is not None:
                    d = draws[:, i]
                    k_draw = mech.component_of_draw(pa, torch.nan_to_num(d, nan=0.5))
                    k = torch.where(torch.isnan(d), components[:, i], k_draw)
                elif components is not None:
                    k = components[:, i]
                elif generator is not None:
                    k = mech.draw_component(pa, generator=generator)
                else:
                    k = None
                cols[i] = mech(u[:, i], pa, k)
            else:
                cols[i] = mech(u[:, i], pa)
        return torch.stack([cols[i] for i in range(len(self.names))], dim=1)

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        interventions: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` property vectors (n, d) from the learned (intervened) model."""
        p = next(self.parameters())
        # draw on the CPU (where a seeded generator lives), then move: same numbers on any device
        u = torch.randn(n, len(self.names), generator=generator, dtype=p.dtype).to(p.device)
        if generator is None:  # mixture components need a generator to be drawn
            generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        return self.predict(u, interventions, generator=generator)

    def descendants(self, name: str) -> set[str]:
        """Nodes downstream of ``name`` (excluding ``name``)."""
        graph = nx.DiGraph([(p, c) for c, ps in self.parents.items() for p in ps])
        graph.add_nodes_from(self.names)
        return set(nx.descendants(graph, name))
