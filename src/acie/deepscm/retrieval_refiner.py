"""Retrieval-augmented refinement of deep-SCM counterfactual images.

The deep SCM's decoder draws a smooth mean image; its counterfactual carries the
factual image's abducted pixel noise unchanged (:mod:`acie.deepscm.model`). The true
counterfactual differs at high spatial frequency: the Poisson part of the pixel noise
scales with the new surface brightness, and what the decoder smoothed in the factual
galaxy no longer sits in the right place. :class:`RetrievalRefiner` corrects that from
``k`` neighbours retrieved from the vector index for the query image:

1. the counterfactual image ``x'`` [engine image units] is put in sky-sigma units and
   asinh-stretched; 4 x 4 patches become tokens (with a learned position embedding),
   which self-attend once so each knows the whole stamp;
2. every patch token cross-attends (multi-head attention, key padding mask) to the
   neighbours' feature vectors, standardised and projected to tokens;
3. a convolutional head at full resolution turns the tokens and the input into two
   maps ``a, b`` and the residual ``r = a + b * HP(x' / sigma)`` (``b`` rescales the
   carried pixel noise locally, ``a`` adds structure);
4. ``r`` is high-passed: every Fourier mode with ``|k| < cutoff`` cycles/pixel is
   removed, so the refinement adds exactly zero flux per band (the ``k = 0`` mode) and
   cannot move light between scales larger than ``1 / cutoff`` pixels, which is what
   the physical properties (luminosity, size) are measured from;
5. ``refined = x' + sigma * r`` for galaxies with at least one neighbour; a galaxy
   with no neighbour (``k = 0`` or every neighbour masked) is returned bit for bit:
   the plain model.

Apply it to the unwatermarked counterfactual, then watermark: the mark lives in the
0.25-0.45 cycles/pixel annulus that the refiner edits.

Checkpoint format ``acie-retrieval-refiner/1`` (``torch.save`` of plain data, loaded
with ``weights_only=True``); the version is the file's SHA-256. The checkpoint records
which embedder produced the neighbour features it was trained with (``embedder``) and
its ``feature_dim``; features of another embedder are out of distribution.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acie._files import write_versioned
from acie.errors import DataFormatError, InputValidationError, ShapeError, expected_got

__all__ = [
    "FORMAT",
    "RefinerConfig",
    "RefinerNet",
    "RetrievalRefiner",
    "default_refiner_path",
    "high_pass",
    "load_default_refiner",
    "save_refiner",
]

FORMAT = "acie-retrieval-refiner/1"


@dataclass(frozen=True, kw_only=True)
class RefinerConfig:
    """Architecture and units of a refiner (stored in its checkpoint).

    Parameters
    ----------
    image_shape : (C, H, W)
        H and W multiples of ``patch``.
    feature_dim : int
        Dimension D of the neighbour features (the index embedder's).
    sigma : list of float
        Per-band sky-noise sigma [engine image units]: the refiner works in these units.
    feature_mean, feature_std : list of float (D,)
        Standardisation of the neighbour features (from the training bank).
    embedder : str
        Which embedder made the features, e.g. ``deepscm-encoder:<model sha256>``.
    width, patch, heads : int
        Token width, patch side [pixels], attention heads.
    cutoff : float [cycles / pixel]
        Fourier modes below it are removed from the residual.
    stretch : float [sky sigma]
        Softening of the asinh stretch of the input.
    """

    image_shape: tuple[int, int, int]
    feature_dim: int
    sigma: list[float]
    feature_mean: list[float]
    feature_std: list[float]
    embedder: str
    width: int = 32
    patch: int = 4
    heads: int = 4
    cutoff: float = 0.15
    stretch: float = 3.0
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields (the image shape as a list), the inverse of :meth:`from_dict`."""
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> RefinerConfig:
        """The config that :meth:`to_dict` wrote."""
        d = dict(d)
        d["image_shape"] = tuple(d["image_shape"])  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


def high_pass(x: torch.Tensor, cutoff: float) -> torch.Tensor:
    """``x`` (..., H, W) without its Fourier modes of ``|k| < cutoff`` cycles/pixel.

    The ``k = 0`` mode is always removed, so each image of the result sums to zero.
    """
    h, w = x.shape[-2:]
    ky = torch.fft.fftfreq(h, device=x.device, dtype=x.dtype)[:, None]
    kx = torch.fft.rfftfreq(w, device=x.device, dtype=x.dtype)[None, :]
    keep = (torch.sqrt(kx**2 + ky**2) >= cutoff).to(x.dtype)
    keep[0, 0] = 0.0
    return torch.fft.irfft2(torch.fft.rfft2(x) * keep, s=(h, w))


class RefinerNet(nn.Module):
    """The network of :class:`RetrievalRefiner` (module docstring, steps 1-4)."""

    sigma: torch.Tensor  # buffers: per-band sky sigma, feature mean and spread
    f_mean: torch.Tensor
    f_std: torch.Tensor

    def __init__(self, config: RefinerConfig) -> None:
        super().__init__()
        c, h, w = config.image_shape
        p, d = config.patch, config.width
        if h % p or w % p:
            raise ShapeError(
                expected_got("image shape (C, H, W)", f"H and W multiples of {p}", (c, h, w))
            )
        self.config = config
        self.register_buffer("sigma", torch.tensor(config.sigma, dtype=torch.float32))
        self.register_buffer("f_mean", torch.tensor(config.feature_mean, dtype=torch.float32))
        self.register_buffer("f_std", torch.tensor(config.feature_std, dtype=torch.float32))
        self.patches = nn.Conv2d(c, d, p, stride=p)
        self.position = nn.Parameter(torch.zeros(1, (h // p) * (w // p), d))
        self.neighbours = nn.Sequential(
            nn.Linear(config.feature_dim, d), nn.SiLU(), nn.Linear(d, d), nn.LayerNorm(d)
        )
        self.norm_s = nn.LayerNorm(d)
        self.context = nn.MultiheadAttention(d, config.heads, batch_first=True)
        self.norm_q = nn.LayerNorm(d)
        self.attention = nn.MultiheadAttention(d, config.heads, batch_first=True)
        self.mlp = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.SiLU(), nn.Linear(2 * d, d)
        )
        self.up = nn.ConvTranspose2d(d, d // 2, p, stride=p)
        self.head = nn.Sequential(
            nn.Conv2d(d // 2 + 2 * c, d // 2, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(d // 2, d // 2, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(d // 2, 2 * c, 3, padding=1),
        )
        last = self.head[-1]
        assert isinstance(last, nn.Conv2d)
        assert last.bias is not None
        nn.init.zeros_(last.weight)  # start as the identity refinement
        nn.init.zeros_(last.bias)

    def residual(self, x: torch.Tensor, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """High-passed residual (n, C, H, W) [sky sigma] for images ``x`` [engine units].

        ``feats`` (n, k, D) raw features, ``mask`` (n, k) bool (True = use), k >= 1.
        Rows without any neighbour get a zero residual.
        """
        cfg = self.config
        xs = x / self.sigma.view(1, -1, 1, 1)
        t = torch.asinh(xs / cfg.stretch)
        hp = high_pass(xs, cfg.cutoff)
        n, c, h, w = x.shape
        q = self.patches(t).flatten(2).transpose(1, 2) + self.position
        qs = self.norm_s(q)
        q = q + self.context(qs, qs, qs, need_weights=False)[0]  # what the whole stamp shows
        kv = self.neighbours((feats - self.f_mean) / self.f_std)
        has = mask.any(dim=1)
        kpm = ~(mask | ~has[:, None])  # a row with no neighbour attends to all (then zeroed)
        att, _ = self.attention(self.norm_q(q), kv, kv, key_padding_mask=kpm, need_weights=False)
        tok = q + att
        tok = tok + self.mlp(tok)
        grid = tok.transpose(1, 2).reshape(n, -1, h // cfg.patch, w // cfg.patch)
        ab = self.head(torch.cat([self.up(grid), t, hp], dim=1))
        a, b = ab[:, :c], ab[:, c:]
        r = high_pass(a + b * hp, cfg.cutoff)
        return r * has.to(r.dtype).view(-1, 1, 1, 1)

    def forward(self, x: torch.Tensor, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Refined images (n, C, H, W) [engine units]."""
        return x + self.residual(x, feats, mask) * self.sigma.view(1, -1, 1, 1)


class RetrievalRefiner:
    """Counterfactual refinement from retrieved neighbours (see module docstring).

    Build with :meth:`load` or :func:`load_default_refiner`.
    """

    def __init__(self, net: RefinerNet, *, version: str, metadata: dict[str, object]) -> None:
        self._net = net.eval()
        self.version = version
        self.metadata = dict(metadata)

    @property
    def config(self) -> RefinerConfig:
        """Architecture, units and feature scaling of the loaded refiner."""
        return self._net.config

    @property
    def feature_dim(self) -> int:
        """Dimension D of the neighbour features it takes."""
        return int(self._net.config.feature_dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images it refines."""
        return tuple(self._net.config.image_shape)  # type: ignore[return-value]

    @property
    def embedder(self) -> str:
        """The embedder whose features it was trained on."""
        return self._net.config.embedder

    @property
    def deepscm_version(self) -> str | None:
        """SHA-256 of the deep SCM whose counterfactuals it was trained on (metadata).

        With another deep SCM it still adds no flux and no large-scale change, but its
        high-frequency gains were not measured: retrain (``scripts/train_refiner.sh``).
        """
        v = self.metadata.get("deepscm_version")
        return str(v) if v else None

    @property
    def net(self) -> RefinerNet:
        """The torch module (for training and tests)."""
        return self._net

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RetrievalRefiner:
        """Load a checkpoint written by :func:`save_refiner` (DataFormatError if it is not)."""
        path = Path(path)
        data = path.read_bytes()
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for corrupt files
            raise DataFormatError(
                f"{str(path)!r} is not a readable torch checkpoint: {exc}"
            ) from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise DataFormatError(f"{str(path)!r} must be a {FORMAT!r} checkpoint; got {got!r}")
        try:
            net = RefinerNet(RefinerConfig.from_dict(payload["config"]))
            net.load_state_dict(payload["state_dict"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise DataFormatError(
                f"refiner checkpoint {str(path)!r} is inconsistent: {exc}"
            ) from exc
        return cls(
            net,
            version=hashlib.sha256(data).hexdigest(),
            metadata=dict(payload.get("metadata", {})),
        )

    def _check(
        self, cf_images: object, neighbour_features: object, neighbour_mask: object
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(cf_images, dtype=np.float32)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape or x.shape[0] < 1:
            raise ShapeError(
                expected_got("cf_images", f"a float array (n, {self.image_shape}...)", x.shape)
            )
        n = x.shape[0]
        f = np.asarray(neighbour_features, dtype=np.float32)
        if f.ndim != 3 or f.shape[0] != n or (f.shape[1] and f.shape[2] != self.feature_dim):
            raise ShapeError(
                expected_got(
                    "neighbour_features", f"an array (n={n}, k, D={self.feature_dim})", f.shape
                )
            )
        k = f.shape[1]
        if neighbour_mask is None:
            m = np.ones((n, k), dtype=bool)
        else:
            m = np.asarray(neighbour_mask)
            if m.shape != (n, k) or m.dtype != np.bool_:
                raise ShapeError(
                    expected_got("neighbour_mask", f"a bool array ({n}, {k})", (m.dtype, m.shape))
                )
        refused = np.asarray(np.isnan(x).all(axis=(1, 2, 3)))  # the engine's refused galaxies
        if not np.all(np.isfinite(x[~refused])):
            raise InputValidationError(
                expected_got(
                    "cf_images",
                    "finite pixels (or all-NaN refused images)",
                    "NaN or infinite values",
                )
            )
        m = m & ~refused[:, None]
        if k and not np.all(np.isfinite(f[m])):
            raise InputValidationError(
                expected_got("neighbour_features", "finite values", "NaN or infinite values")
            )
        return x, np.where(m[..., None], f, 0.0).astype(np.float32), m

    @torch.no_grad()
    def refine(
        self,
        cf_images: np.ndarray,
        neighbour_features: np.ndarray,
        neighbour_mask: np.ndarray | None = None,
        *,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Refined counterfactual images (n, C, H, W) float32 [engine image units].

        Parameters
        ----------
        cf_images : ndarray (n, C, H, W)
            Unwatermarked counterfactual images from the engine [its image units]. An
            all-NaN image (a galaxy the engine refused) is returned as it is.
        neighbour_features : ndarray (n, k, D)
            Features of each galaxy's ``k`` retrieved neighbours, from :attr:`embedder`.
            ``k = 0`` returns ``cf_images`` unchanged.
        neighbour_mask : ndarray (n, k) of bool, optional
            False marks a missing neighbour (padding); default all True. A galaxy
            whose neighbours are all masked is returned unchanged.

        Raises
        ------
        ShapeError
            Wrong shape or dimension D, or a mask that is not bool (n, k).
        InputValidationError
            NaN or infinite pixels (other than all-NaN refused images) or (unmasked)
            features.
        """
        x, f, m = self._check(cf_images, neighbour_features, neighbour_mask)
        out = x.copy()
        if f.shape[1] == 0:
            return out
        rows = np.flatnonzero(m.any(axis=1))
        for i in range(0, rows.size, batch_size):
            r = rows[i : i + batch_size]
            res = self._net(torch.from_numpy(x[r]), torch.from_numpy(f[r]), torch.from_numpy(m[r]))
            out[r] = res.numpy()
        return out


def save_refiner(
    path: str | os.PathLike[str], net: RefinerNet, metadata: dict[str, object] | None = None
) -> str:
    """Write a refiner checkpoint atomically; return its version (SHA-256 hex)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": net.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return write_versioned(path, buf.getvalue())


def default_refiner_path() -> Path:
    """Path of the shipped refiner (``acie/deepscm/data/refiner.pt``)."""
    return Path(__file__).with_name("data") / "refiner.pt"


def load_default_refiner() -> RetrievalRefiner:
    """The shipped refiner (see ``acie/deepscm/data/REFINER.md``)."""
    return RetrievalRefiner.load(default_refiner_path())
