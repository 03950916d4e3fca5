"""Maps between physical units and the standardised coordinates the networks use.

Properties
    Positive quantities (masses, rates, sizes, luminosities, dispersions …) are taken
    as ``log10`` first, then every property is standardised with the training mean and
    standard deviation. Positive quantities must stay positive: an intervention
    ``stellar_mass = -1`` is a :class:`~acie.errors.NonPhysicalValueError`, not a number
    to extrapolate to.
Images
    Galaxy images span orders of magnitude between core and sky, so pixels are
    stretched per band with ``asinh(x / b)`` (Lupton, Gunn & Szalay 1999, AJ 118, 1406),
    where the softening ``b`` is the band's sky noise (median absolute deviation of the
    training images' border pixels, times 1.4826), and then standardised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from acie.errors import NonPhysicalValueError, ShapeError, expected_got

__all__ = ["ImageScaler", "PropertyScaler"]


@dataclass(frozen=True, kw_only=True)
class PropertyScaler:
    """Physical property values <-> standardised coordinates.

    Parameters
    ----------
    names : list of str
        Property names, in column order.
    log : list of bool
        Whether each property is modelled in ``log10`` (it must then be positive).
    mean, std : list of float
        Mean and standard deviation of the (log-)property over the training set.
    """

    names: list[str]
    log: list[bool]
    mean: list[float]
    std: list[float]

    @classmethod
    def fit(
        cls, values: Mapping[str, np.ndarray], *, names: Sequence[str], positive: Sequence[str]
    ) -> PropertyScaler:
        """Fit to training values (name -> array (n,)); ``positive`` names go to log10."""
        pos = set(positive)
        log, mean, std = [], [], []
        for name in names:
            v = np.asarray(values[name], dtype=np.float64)
            if name in pos:
                if np.any(v <= 0):
                    raise NonPhysicalValueError(
                        expected_got(
                            f"training values of the positive property {name!r}",
                            "> 0",
                            float(v.min()),
                        )
                    )
                v = np.log10(v)
            log.append(name in pos)
            mean.append(float(v.mean()))
            std.append(float(max(v.std(), 1e-6)))
        return cls(names=list(names), log=log, mean=mean, std=std)

    def validate(self, name: str, value: np.ndarray) -> np.ndarray:
        """Check physical values of ``name``: finite, and positive if modelled in log."""
        v = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise NonPhysicalValueError(expected_got(f"value of {name!r}", "finite", value))
        if self.log[self.names.index(name)] and np.any(v <= 0):
            bad = v[v <= 0].ravel()[0]
            raise NonPhysicalValueError(
                expected_got(f"value of {name!r}", "positive (it is a physical amount)", float(bad))
            )
        return v

    def to_standard(self, name: str, value: np.ndarray) -> np.ndarray:
        """Standardised coordinate of physical ``value`` (validated) of property ``name``."""
        i = self.names.index(name)
        v = self.validate(name, value)
        if self.log[i]:
            v = np.log10(v)
        return (v - self.mean[i]) / self.std[i]

    def from_standard(self, name: str, z: np.ndarray) -> np.ndarray:
        """Physical value of standardised coordinate ``z`` of property ``name``."""
        i = self.names.index(name)
        v = np.asarray(z, dtype=np.float64) * self.std[i] + self.mean[i]
        return 10.0**v if self.log[i] else v

    def encode(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """(n, d) float32 standardised matrix from name -> physical values (n,)."""
        return np.stack([self.to_standard(n, values[n]) for n in self.names], axis=1).astype(
            np.float32
        )

    def decode(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Name -> physical values (n,) from a standardised matrix (n, d)."""
        return {n: self.from_standard(n, z[:, i]) for i, n in enumerate(self.names)}

    def decode_torch(self, z):
        """Name -> physical values as torch tensors (n,), differentiable in ``z`` (n, d)."""
        out = {}
        for i, n in enumerate(self.names):
            v = z[:, i] * self.std[i] + self.mean[i]
            out[n] = 10.0**v if self.log[i] else v
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields; ``mean`` and ``std`` are of the (log10 where ``log``) values."""
        return {"names": self.names, "log": self.log, "mean": self.mean, "std": self.std}


@dataclass(frozen=True, kw_only=True)
class ImageScaler:
    """Per-band asinh stretch and standardisation of images (n, C, H, W).

    Parameters
    ----------
    softening : list of float
        Per-band asinh softening ``b`` (image units, e.g. counts per pixel).
    mean, std : list of float
        Per-band mean and standard deviation of ``asinh(x / b)`` over the training set.
    """

    softening: list[float]
    mean: list[float]
    std: list[float]
    shape: tuple[int, int, int] = field(default=(1, 64, 64))

    @classmethod
    def fit(cls, images: np.ndarray) -> ImageScaler:
        """Fit to training images (n, C, H, W)."""
        x = np.asarray(images, dtype=np.float64)
        if x.ndim != 4:
            raise ShapeError(expected_got("training images", "an array (n, C, H, W)", x.shape))
        border = np.concatenate(
            [
                x[:, :, :4, :].reshape(x.shape[0], x.shape[1], -1),
                x[:, :, -4:, :].reshape(x.shape[0], x.shape[1], -1),
            ],
            axis=2,
        )
        soft, mean, std = [], [], []
        for c in range(x.shape[1]):
            b = border[:, c].ravel()
            mad = 1.4826 * np.median(np.abs(b - np.median(b)))
            if not mad > 0:  # noiseless images: soften at 1e-3 of the band's peak
                mad = 1e-3 * float(np.abs(x[:, c]).max() or 1.0)
            t = np.arcsinh(x[:, c] / mad)
            soft.append(float(mad))
            mean.append(float(t.mean()))
            std.append(float(max(t.std(), 1e-6)))
        return cls(softening=soft, mean=mean, std=std, shape=tuple(x.shape[1:]))

    def _cols(self, xp_like: object, values: list[float]):
        import torch

        if isinstance(xp_like, torch.Tensor):
            return torch.tensor(values, dtype=xp_like.dtype, device=xp_like.device).view(
                1, -1, 1, 1
            )
        return np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1)

    def forward(self, x):
        """Standardised stretched image from image (numpy array or torch tensor)."""
        import torch

        b, m, s = (self._cols(x, v) for v in (self.softening, self.mean, self.std))
        asinh = torch.asinh if isinstance(x, torch.Tensor) else np.arcsinh
        return (asinh(x / b) - m) / s

    def inverse(self, t):
        """Image in physical units from the standardised stretched image."""
        import torch

        b, m, s = (self._cols(t, v) for v in (self.softening, self.mean, self.std))
        sinh = torch.sinh if isinstance(t, torch.Tensor) else np.sinh
        return b * sinh(t * s + m)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields: softening [image units], stretch mean and std, (C, H, W)."""
        return {
            "softening": self.softening,
            "mean": self.mean,
            "std": self.std,
            "shape": list(self.shape),
        }
