"""Structural mechanisms ``x = f(parents, noise)`` and the noise distributions they use.

Every mechanism is vectorised: it receives a mapping ``parent name -> 1-D float
array`` (all of one length ``n``) and an ``n``-array of exogenous noise, and returns
an ``n``-array. A mechanism declares whether it is *invertible* in its noise; only
invertible mechanisms support abduction (``noise = f^{-1}(parents, value)``), which
counterfactuals need. Additive-noise mechanisms ``x = g(parents) + u`` are always
invertible, exactly: ``u = x - g(parents)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from acie.errors import InputValidationError, NotInvertibleError, ShapeError, expected_got

__all__ = [
    "AdditiveNoiseMechanism",
    "ClassifierMechanism",
    "ConstantMechanism",
    "EmpiricalNoise",
    "FunctionalMechanism",
    "LinearMechanism",
    "Mechanism",
    "RegressorMechanism",
    "ShiftedMechanism",
]

ParentValues = Mapping[str, np.ndarray]


class Mechanism(ABC):
    """A structural assignment ``x = f(parents, noise)``.

    Attributes
    ----------
    parents : tuple of str
        Names of the direct causes, in the order the mechanism uses them.
    invertible : bool
        Whether the noise can be recovered from the parents and the value.
    """

    parents: tuple[str, ...] = ()
    invertible: bool = False

    @abstractmethod
    def __call__(self, parents: ParentValues, noise: np.ndarray) -> np.ndarray:
        """Return the node's values for the given parent values and noise."""

    def abduct(
        self,
        parents: ParentValues,  # noqa: ARG002 - the signature invertible mechanisms override
        value: np.ndarray,  # noqa: ARG002 - (this base refuses, whatever the values)
    ) -> np.ndarray:
        """Return the noise that, with ``parents``, produces ``value``.

        Raises
        ------
        acie.errors.NotInvertibleError
            If the mechanism is not invertible in its noise.
        """
        raise NotInvertibleError(
            f"{type(self).__name__} is not invertible in its noise, so its exogenous noise "
            "cannot be abducted; counterfactuals need invertible (e.g. additive-noise) "
            "mechanisms for every descendant of the intervened nodes"
        )

    def _stack(self, parents: ParentValues) -> np.ndarray:
        """Parent values as an ``(n, k)`` float array in :attr:`parents` order."""
        if not self.parents:
            return np.empty((0, 0))
        cols = [np.asarray(parents[p], dtype=float) for p in self.parents]
        return np.column_stack(cols)


class AdditiveNoiseMechanism(Mechanism):
    """``x = g(parents) + noise``: invertible, exact abduction.

    Parameters
    ----------
    parents : sequence of str
        Direct causes.
    function : callable
        ``g(parents) -> array``, where ``parents`` maps names to arrays. Not called
        when there are no parents (then ``x = noise``).
    """

    invertible = True

    def __init__(
        self, *, parents: Sequence[str] = (), function: Callable[[ParentValues], Any] | None = None
    ) -> None:
        if parents and function is None:
            raise InputValidationError(
                expected_got("function", "a callable g(parents) when parents are given", None)
            )
        self.parents = tuple(parents)
        self.function = function

    def mean(self, parents: ParentValues, n: int) -> np.ndarray:
        """The noise-free part ``g(parents)`` as an ``n``-array."""
        if self.function is None or not self.parents:
            base = 0.0 if self.function is None else self.function(parents)
            return np.broadcast_to(np.asarray(base, dtype=float), (n,))
        out = np.asarray(self.function(parents), dtype=float)
        return np.broadcast_to(out, (n,))

    def __call__(self, parents: ParentValues, noise: np.ndarray) -> np.ndarray:
        """Return ``g(parents) + noise``."""
        noise = np.asarray(noise, dtype=float)
        return self.mean(parents, noise.shape[0]) + noise

    def abduct(self, parents: ParentValues, value: np.ndarray) -> np.ndarray:
        """Return the exact noise ``value - g(parents)``."""
        value = np.asarray(value, dtype=float)
        return value - self.mean(parents, value.shape[0])

    def __repr__(self) -> str:
        return f"AdditiveNoiseMechanism(parents={self.parents})"


class LinearMechanism(AdditiveNoiseMechanism):
    """``x = intercept + sum_j coefficients[j] * parent_j + noise``.

    Parameters
    ----------
    coefficients : mapping of str to float
        Parent name to coefficient.
    intercept : float
        Constant term.
    """

    def __init__(
        self, *, coefficients: Mapping[str, float] | None = None, intercept: float = 0.0
    ) -> None:
        coefficients = dict(coefficients or {})
        self.coefficients = {k: float(v) for k, v in coefficients.items()}
        self.intercept = float(intercept)
        beta = np.array(list(self.coefficients.values()), dtype=float)

        def linear(parents: ParentValues) -> np.ndarray:
            return self.intercept + self._stack(parents) @ beta

        super().__init__(parents=tuple(self.coefficients), function=linear)

    def mean(self, parents: ParentValues, n: int) -> np.ndarray:
        """The noise-free part ``intercept + sum_j coefficients[j] * parent_j``."""
        if not self.parents:
            return np.full(n, self.intercept)
        return super().mean(parents, n)

    def __repr__(self) -> str:
        terms = " + ".join(f"{c:g}*{p}" for p, c in self.coefficients.items())
        return f"LinearMechanism({self.intercept:g}{' + ' + terms if terms else ''} + noise)"


class FunctionalMechanism(Mechanism):
    """A general mechanism ``x = f(parents, noise)``.

    Invertible only if ``inverse(parents, value) -> noise`` is given.

    Parameters
    ----------
    parents : sequence of str
        Direct causes.
    function : callable
        ``f(parents, noise) -> array``.
    inverse : callable, optional
        ``f^{-1}(parents, value) -> noise``. Without it, abduction raises
        :class:`~acie.errors.NotInvertibleError`.
    """

    def __init__(
        self,
        *,
        parents: Sequence[str] = (),
        function: Callable[[ParentValues, np.ndarray], Any],
        inverse: Callable[[ParentValues, np.ndarray], Any] | None = None,
    ) -> None:
        self.parents = tuple(parents)
        self.function = function
        self.inverse = inverse
        self.invertible = inverse is not None

    def __call__(self, parents: ParentValues, noise: np.ndarray) -> np.ndarray:
        """Return ``f(parents, noise)``, broadcast to the noise's shape."""
        noise = np.asarray(noise, dtype=float)
        return np.broadcast_to(
            np.asarray(self.function(parents, noise), dtype=float), noise.shape
        ).copy()

    def abduct(self, parents: ParentValues, value: np.ndarray) -> np.ndarray:
        """Return ``inverse(parents, value)``; refused when no inverse was given."""
        if self.inverse is None:
            return super().abduct(parents, value)
        value = np.asarray(value, dtype=float)
        return np.broadcast_to(
            np.asarray(self.inverse(parents, value), dtype=float), value.shape
        ).copy()

    def __repr__(self) -> str:
        return f"FunctionalMechanism(parents={self.parents}, invertible={self.invertible})"


class RegressorMechanism(AdditiveNoiseMechanism):
    """Additive-noise mechanism around a fitted scikit-learn regressor.

    ``x = regressor.predict(parents) + noise``; invertible.

    Parameters
    ----------
    parents : sequence of str
        Direct causes, in the column order the regressor was fitted on.
    regressor : fitted scikit-learn regressor
        Anything with ``predict(X)``.
    """

    def __init__(self, *, parents: Sequence[str], regressor: Any) -> None:
        self.regressor = regressor

        def predict(parent_values: ParentValues) -> np.ndarray:
            return np.asarray(self.regressor.predict(self._stack(parent_values)), dtype=float)

        super().__init__(parents=parents, function=predict if parents else None)

    def mean(self, parents: ParentValues, n: int) -> np.ndarray:
        """The regressor's prediction (its intercept when there are no parents)."""
        if not self.parents:
            return np.full(n, float(getattr(self.regressor, "intercept_", 0.0)))
        return super().mean(parents, n)

    def __repr__(self) -> str:
        return f"RegressorMechanism({type(self.regressor).__name__}, parents={self.parents})"


class ClassifierMechanism(Mechanism):
    """A discrete node drawn from a fitted classifier's class probabilities.

    The noise is ``u ~ Uniform(0, 1)``; the value is the first class whose
    cumulative probability exceeds ``u`` (inverse-CDF sampling). Not invertible: many
    noise values give the same class, so abduction is refused.

    Parameters
    ----------
    parents : sequence of str
        Direct causes, in the column order the classifier was fitted on.
    classifier : fitted scikit-learn classifier
        Anything with ``predict_proba(X)`` and numeric ``classes_``.
    """

    invertible = False

    def __init__(self, *, parents: Sequence[str], classifier: Any) -> None:
        self.parents = tuple(parents)
        self.classifier = classifier
        self.classes = np.asarray(classifier.classes_, dtype=float)

    def probabilities(self, parents: ParentValues, n: int) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``."""
        x = self._stack(parents) if self.parents else np.zeros((n, 1))
        return np.asarray(self.classifier.predict_proba(x), dtype=float)

    def __call__(self, parents: ParentValues, noise: np.ndarray) -> np.ndarray:
        """Return the class whose cumulative probability first exceeds ``noise`` in [0, 1)."""
        u = np.asarray(noise, dtype=float)
        cdf = np.cumsum(self.probabilities(parents, u.shape[0]), axis=1)
        idx = (u[:, None] >= cdf[:, :-1]).sum(axis=1)
        return self.classes[idx]

    def __repr__(self) -> str:
        return f"ClassifierMechanism({type(self.classifier).__name__}, parents={self.parents})"


class ConstantMechanism(Mechanism):
    """A hard intervention ``x := value`` (a scalar or one value per unit)."""

    invertible = False

    def __init__(self, *, value: float | np.ndarray) -> None:
        self.parents = ()
        self.value = np.asarray(value, dtype=float)
        if self.value.ndim > 1:
            raise ShapeError(
                expected_got(
                    "an intervention value", "a scalar or a 1-D array", f"shape {self.value.shape}"
                )
            )

    def __call__(
        self,
        parents: ParentValues,  # noqa: ARG002 - the Mechanism signature; do() cuts the parents
        noise: np.ndarray,
    ) -> np.ndarray:
        """Return the set value, one per unit (the noise only gives the number of units)."""
        n = np.asarray(noise).shape[0]
        if self.value.ndim == 1 and self.value.shape[0] != n:
            raise ShapeError(
                expected_got(
                    "a per-unit intervention value",
                    f"an array of length {n}",
                    f"length {self.value.shape[0]}",
                )
            )
        return np.broadcast_to(self.value, (n,)).astype(float, copy=True)

    def __repr__(self) -> str:
        return f"ConstantMechanism({self.value if self.value.ndim == 0 else '<array>'})"


class ShiftedMechanism(Mechanism):
    """A soft intervention: ``x := transform(natural value)``; parents are kept."""

    def __init__(self, *, base: Mechanism, transform: Callable[[np.ndarray], Any]) -> None:
        self.base = base
        self.transform = transform
        self.parents = base.parents

    def __call__(self, parents: ParentValues, noise: np.ndarray) -> np.ndarray:
        """Return ``transform`` of the value the base mechanism would have produced."""
        natural = self.base(parents, noise)
        return np.broadcast_to(
            np.asarray(self.transform(natural), dtype=float), natural.shape
        ).copy()

    def __repr__(self) -> str:
        return f"ShiftedMechanism({self.base!r})"


class EmpiricalNoise:
    """Noise resampled from observed values (e.g. regression residuals).

    Has the ``rvs(size, random_state)`` method of a frozen :mod:`scipy.stats`
    distribution, so the two are interchangeable in an SCM.

    Parameters
    ----------
    values : array-like, 1-D
        The sample to draw from with replacement.
    """

    def __init__(self, *, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise InputValidationError(
                expected_got("values", "a non-empty finite 1-D array", f"{values.size} values")
            )
        self.values = values

    def rvs(
        self, size: int | tuple[int, ...] = 1, random_state: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """Draw ``size`` values with replacement."""
        rng = np.random.default_rng(random_state)
        return rng.choice(self.values, size=size, replace=True)

    def mean(self) -> float:
        """Mean of the sample."""
        return float(self.values.mean())

    def std(self) -> float:
        """Standard deviation of the sample."""
        return float(self.values.std())

    def __repr__(self) -> str:
        return f"EmpiricalNoise(n={self.values.size}, std={self.std():.3g})"
