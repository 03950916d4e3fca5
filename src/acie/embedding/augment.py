"""Astrophysically sensible views of one galaxy for contrastive training.

Two views of a galaxy must differ only in what does not change the galaxy itself:

- **re-rendered by the simulator** (:func:`render_views`, exact): the galaxy's property
  nodes, redshift and axis ratio are kept; the position angle is turned by an arbitrary
  angle (an exact rotation on the sky, no interpolation), the PSF FWHM is redrawn from the
  simulator's range (other seeing), and the pixel noise is redrawn (another exposure);
- **in pixel space** (:func:`dihedral_shift`, on a batch of tensors): one of the eight
  90-degree rotations and flips, and a shift of up to ``max_shift`` pixels in x and y,
  sub-pixel included, applied as a Fourier phase ramp (it moves the galaxy without
  changing any pixel's noise variance or the total flux).

Nothing rescales fluxes or changes colours: a flux or colour change would change the
galaxy's stellar mass, age or metallicity, which the embedding must keep.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from acie.errors import InputValidationError, expected_got
from acie.galaxy.batch import GalaxyBatch
from acie.galaxy.simulator import GalaxySimulator

__all__ = ["dihedral_shift", "render_views"]


def render_views(
    sim: GalaxySimulator, batch: GalaxyBatch, n_views: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_views`` re-rendered views of each galaxy: (n, n_views, C, H, W) [nanomaggies / px].

    Each view turns the position angle by ``U(0, pi)``, redraws the PSF FWHM from the
    simulator's ``psf_fwhm_range`` and the pixel-noise seed; properties, redshift and
    axis ratio are those of ``batch``.
    """
    if n_views < 1:
        raise InputValidationError(expected_got("n_views", "an integer >= 1", n_views))
    n = len(batch)
    views = []
    for _ in range(n_views):
        nuis = dict(batch.nuisances)
        nuis["position_angle"] = np.mod(
            np.asarray(batch.nuisances["position_angle"]) + rng.uniform(0.0, np.pi, n), np.pi
        )
        nuis["psf_fwhm"] = rng.uniform(*sim.psf_fwhm_range, n)
        nuis["noise_seed"] = rng.integers(0, 2**31 - 1, n, dtype=np.int64)
        views.append(sim.render(batch.properties, nuis))
    return np.stack(views, axis=1)


def _fourier_shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift each image of ``x`` (n, C, H, W) by (dy, dx) pixels (n,) with a phase ramp."""
    h, w = x.shape[-2:]
    fy = torch.fft.fftfreq(h, dtype=x.dtype).view(1, 1, h, 1)
    fx = torch.fft.rfftfreq(w, dtype=x.dtype).view(1, 1, 1, -1)
    phase = -2.0 * math.pi * (fy * dy.view(-1, 1, 1, 1) + fx * dx.view(-1, 1, 1, 1))
    spec = torch.fft.rfft2(x) * torch.polar(torch.ones_like(phase), phase)
    return torch.fft.irfft2(spec, s=(h, w))


def dihedral_shift(
    x: torch.Tensor, generator: torch.Generator, *, max_shift: float = 1.5
) -> torch.Tensor:
    """A random rotation by a multiple of 90 degrees, flip and shift of each image.

    Parameters
    ----------
    x : Tensor (n, C, H, W)
        Square images.
    generator : torch.Generator
        Source of the random choices (seeded by the caller).
    max_shift : float [pixels]
        Shifts are uniform in ``[-max_shift, max_shift]`` along each axis.
    """
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise InputValidationError(expected_got("x", "square images (n, C, H, H)", tuple(x.shape)))
    n = x.shape[0]
    k = torch.randint(0, 4, (n,), generator=generator)
    flip = torch.randint(0, 2, (n,), generator=generator).bool()
    out = torch.empty_like(x)
    for r in range(4):
        for f in (False, True):
            sel = (k == r) & (flip == f)
            if not bool(sel.any()):
                continue
            v = torch.rot90(x[sel], r, dims=(-2, -1))
            out[sel] = torch.flip(v, dims=(-1,)) if f else v
    if max_shift > 0:
        shift = (torch.rand((2, n), generator=generator, dtype=x.dtype) * 2.0 - 1.0) * max_shift
        out = _fourier_shift(out, shift[0], shift[1])
    return out
