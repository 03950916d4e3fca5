"""Event rates per number of electron–hole pairs: :class:`RatesPerNe` (from ``rate_per_ne``)."""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np

from acie.errors import DataFormatError, OutOfRangeError, expected_got

__all__ = ["RatesPerNe"]


@dataclass(frozen=True)
class RatesPerNe:
    """Event rates per number of electron–hole pairs n_e, as returned by :func:`rate_per_ne`.

    Attributes
    ----------
    n_e : ndarray of int, shape (n_max + 1,)
        The n_e of each bin: ``0, 1, …, n_max``. Bin 0 (no pair) holds the rate of
        deposits below the gap, which no detector sees.
    rate : Quantity ['1/(kg yr)'], shape (…, n_max + 1)
        Rate in each n_e bin, last axis aligned with ``n_e``; leading axes follow the mass
        (and cross-section) inputs.
    beyond_table : ndarray or None, shape of the leading axes
        Estimated fraction of the total rate from (q, E) beyond the form-factor table's
        range (:func:`acie.darkmatter.table_range.beyond_table_fraction`); None if not
        computed.
    """

    n_e: np.ndarray
    rate: u.Quantity
    beyond_table: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rate.shape[-1] != self.n_e.size:
            raise DataFormatError(
                expected_got("rate", f"a last axis of {self.n_e.size} (n_e)", self.rate.shape)
            )

    def __len__(self) -> int:
        return int(self.n_e.size)

    def at(self, n_e: int) -> u.Quantity:
        """Rate in the bin with exactly ``n_e`` pairs (shape of the leading axes)."""
        return self.rate[..., self._index(n_e)]

    def at_least(self, threshold: int) -> u.Quantity:
        """Rate summed over n_e >= ``threshold`` up to ``n_max`` (a threshold experiment)."""
        return self.rate[..., self._index(threshold) :].sum(axis=-1)

    def _index(self, n: int) -> int:
        if not (isinstance(n, int | np.integer) and 0 <= n <= int(self.n_e[-1])):
            raise OutOfRangeError(expected_got("n_e", f"an integer in 0…{int(self.n_e[-1])}", n))
        return int(n)

    def as_rows(self) -> list[dict]:
        """``[{"ne": n, "rate_per_kg_yr": r}, …]`` for a single mass (1-D ``rate``)."""
        if self.rate.ndim != 1:
            raise DataFormatError(expected_got("rate", "one mass (1-D)", self.rate.shape))
        vals = self.rate.to_value(1 / (u.kg * u.yr))
        return [
            {"ne": int(n), "rate_per_kg_yr": float(v)} for n, v in zip(self.n_e, vals, strict=True)
        ]

    def __str__(self) -> str:
        unit = self.rate.unit.to_string()
        if self.rate.ndim != 1:
            return f"RatesPerNe(n_e = 0…{int(self.n_e[-1])}, rate shape {self.rate.shape} [{unit}])"
        lines = [f"{'n_e':>4}  rate [{unit}]"]
        lines += [f"{int(n):>4}  {v:.4g}" for n, v in zip(self.n_e, self.rate.value, strict=True)]
        return "\n".join(lines)
