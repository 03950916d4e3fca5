"""Invisible frequency-domain watermark for generated images, and its detector.

Method: spread-spectrum marking in the Fourier domain (Cox, Kilian, Leighton & Shamoon
1997, IEEE Trans. Image Process. 6, 1673). A secret key selects ``K`` Fourier
coefficients in a high-frequency annulus (where PSF-convolved galaxies have almost no
power) and gives each a pseudo-random unit phase ``c_k``. The mark is the real image
``P = irfft2(c)``, normalised to unit RMS per pixel, added to every band with an
amplitude below the sky noise (``strength`` times the band's noise sigma), so it is
invisible next to the noise already in the image.

Detection is a matched filter: with ``X = rfft2(image)``,

    score = sum_k Re(X_k conj(c_k)) / sqrt(0.5 sum_k |X_k|^2).

For an unmarked image whose coefficients have phases unrelated to the key, ``score``
is a sum of ``K`` independent zero-mean terms normalised by their standard deviation,
so it is close to ``N(0, 1)`` (central limit theorem); a mark of per-pixel RMS ``r`` in
noise of RMS ``sigma`` gives ``score ~ sqrt(H W) r / sigma``. An image is called marked
when ``score > threshold`` (default 5, a nominal one-sided false-positive rate of
2.9e-7). The real false-positive and detection rates are *measured* by
:func:`measure_rates` on real images, not taken from this approximation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from acie.errors import ShapeError, expected_got

__all__ = ["Watermark", "WatermarkRates", "measure_rates"]


@dataclass(frozen=True, kw_only=True)
class Watermark:
    """A keyed frequency-domain watermark.

    Parameters
    ----------
    key : int or None
        Secret seed choosing the coefficients and their phases. The command line and
        the server pass the configured key (``WATERMARK_KEY``, else one generated into
        ``ACIE_DATA_DIR``, :meth:`acie.config.Settings.watermark_key`); ``None`` draws a
        random key for this object only, so there is no key in the code.
    band : tuple of float
        Radial frequency annulus [cycles / pixel] (Nyquist is 0.5) holding the mark.
    n_coefficients : int
        Number ``K`` of marked Fourier coefficients.
    strength : float
        Mark RMS per pixel in units of the band's noise sigma.
    threshold : float
        Detection threshold on the matched-filter score (standard deviations).
    """

    key: int | None = None
    band: tuple[float, float] = (0.25, 0.45)
    n_coefficients: int = 256
    strength: float = 0.3
    threshold: float = 5.0

    def __post_init__(self) -> None:
        if self.key is None:
            import secrets

            object.__setattr__(self, "key", secrets.randbits(64))

    def _spectrum(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices (ky, kx) into the rfft2 grid of shape (h, w//2+1) and unit phases."""
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.rfftfreq(w)[None, :]
        radius = np.hypot(fy, fx)
        # exclude the kx = 0 and Nyquist columns, whose coefficients are their own
        # Hermitian partners, so every chosen coefficient is free
        free = np.zeros_like(radius, dtype=bool)
        free[:, 1 : (w - 1) // 2 + 1] = True
        ky, kx = np.nonzero(free & (radius >= self.band[0]) & (radius <= self.band[1]))
        rng = np.random.default_rng(self.key)
        k = min(self.n_coefficients, ky.size)
        pick = rng.choice(ky.size, size=k, replace=False)
        phase = np.exp(2j * np.pi * rng.random(k))
        return ky[pick], kx[pick], phase

    def pattern(self, h: int, w: int) -> np.ndarray:
        """The mark (h, w) with unit RMS per pixel."""
        ky, kx, phase = self._spectrum(h, w)
        spec = np.zeros((h, w // 2 + 1), dtype=np.complex128)
        spec[ky, kx] = phase
        p = np.fft.irfft2(spec, s=(h, w))
        return p / np.sqrt(np.mean(p**2))

    @staticmethod
    def _as4d(images: np.ndarray) -> np.ndarray:
        x = np.asarray(images)
        if x.ndim == 2:
            x = x[None, None]
        elif x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ShapeError(expected_got("images", "(H, W), (C, H, W) or (n, C, H, W)", x.shape))
        return x

    def embed(
        self, images: np.ndarray, noise_sigma: float | Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Images with the mark added (same shape, float32).

        Parameters
        ----------
        images : ndarray
            (n, C, H, W), (C, H, W) or (H, W), in image units.
        noise_sigma : float or sequence of float
            Per-band noise sigma [image units]; the mark's RMS is ``strength`` times it.
        """
        x = self._as4d(images).astype(np.float32)
        sig = np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64), (x.shape[1],))
        p = self.pattern(x.shape[2], x.shape[3])
        marked = x + (self.strength * sig)[None, :, None, None] * p[None, None]
        return marked.astype(np.float32).reshape(np.shape(images))

    def score(self, images: np.ndarray) -> np.ndarray:
        """Matched-filter score (n,), about N(0, 1) for unmarked images."""
        x = self._as4d(images).astype(np.float64)
        ky, kx, phase = self._spectrum(x.shape[2], x.shape[3])
        spec = np.fft.rfft2(x, axes=(2, 3))[:, :, ky, kx]  # (n, C, K)
        num = np.real(spec * np.conj(phase)).sum(axis=(1, 2))
        den = np.sqrt(0.5 * (np.abs(spec) ** 2).sum(axis=(1, 2)))
        return num / np.maximum(den, 1e-300)

    def detect(self, images: np.ndarray) -> np.ndarray:
        """Whether each image carries this mark (n,) bool."""
        return self.score(images) > self.threshold

    def remove(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images with this mark taken out where it is detected, and which were marked.

        For each image the detector calls marked, the least-squares amplitude of the
        pattern is estimated per band (``a_c = <x_c, P> / <P, P>``, so a rescaled image
        loses its rescaled mark) and ``a_c P`` is subtracted; other images are returned
        unchanged. Removing the incoming mark before abduction keeps marks from
        accumulating over repeated counterfactuals.

        Parameters
        ----------
        images : ndarray
            (n, C, H, W), (C, H, W) or (H, W), in image units.

        Returns
        -------
        images : ndarray, float32, same shape
        marked : ndarray (n,) of bool
        """
        x = self._as4d(images).astype(np.float64)
        marked = self.detect(x)
        if marked.any():
            p = self.pattern(x.shape[2], x.shape[3])
            amp = np.einsum("nchw,hw->nc", x[marked], p) / float(np.sum(p**2))
            x[marked] -= amp[:, :, None, None] * p[None, None]
        return x.astype(np.float32).reshape(np.shape(images)), marked


@dataclass(frozen=True)
class WatermarkRates:
    """Measured watermark behaviour on a set of images."""

    n_images: int
    false_positive_rate: float  # unmarked images called marked
    detection_rate: dict[float, float]  # added noise (in units of sigma) -> rate
    psnr_db: float  # of the mark against the image peak
    mark_rms_over_noise: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (detection-rate keys as strings, noise in units of sigma)."""
        return {
            "n_images": self.n_images,
            "false_positive_rate": self.false_positive_rate,
            "detection_rate": {str(k): v for k, v in self.detection_rate.items()},
            "psnr_db": self.psnr_db,
            "mark_rms_over_noise": self.mark_rms_over_noise,
        }


def measure_rates(
    watermark: Watermark,
    images: np.ndarray,
    noise_sigma: float | Sequence[float] | np.ndarray,
    *,
    noise_levels: Sequence[float] = (0.0, 1.0, 2.0, 4.0),
    seed: int = 0,
) -> WatermarkRates:
    """Measure false-positive and detection rates of ``watermark`` on ``images``.

    The false-positive rate is the fraction of the unmarked ``images`` (n, C, H, W)
    detected as marked (each also with the largest extra noise level, so noise alone
    cannot trip the detector). The detection rate at level ``a`` is the fraction of
    marked images still detected after adding Gaussian noise of ``a`` times the band's
    ``noise_sigma`` [image units] per pixel.
    """
    x = Watermark._as4d(images).astype(np.float32)
    sig = np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64), (x.shape[1],))
    rng = np.random.default_rng(seed)
    marked = watermark.embed(x, sig)
    band_sig = sig[None, :, None, None]
    fp = watermark.detect(x)
    fp_noisy = watermark.detect(x + max(noise_levels) * band_sig * rng.standard_normal(x.shape))
    rates = {}
    for a in noise_levels:
        noisy = marked + a * band_sig * rng.standard_normal(x.shape)
        rates[float(a)] = float(watermark.detect(noisy).mean())
    mark = marked.astype(np.float64) - x
    peak = float(np.abs(x).max())
    psnr = 10.0 * np.log10(peak**2 / float(np.mean(mark**2))) if peak > 0 else float("inf")
    return WatermarkRates(
        n_images=int(x.shape[0]),
        false_positive_rate=float(np.concatenate([fp, fp_noisy]).mean()),
        detection_rate=rates,
        psnr_db=float(psnr),
        mark_rms_over_noise=float(watermark.strength),
    )
