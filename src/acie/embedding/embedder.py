"""The galaxy embedder: images in nanomaggies per pixel -> float32 vectors, versioned by SHA-256.

An embedder file is one ``torch.save`` file of plain data (loaded with
``weights_only=True``): the encoder's architecture and weights, the per-band softening of
the pixel stretch, a linear projection (the principal axes of the training set's
features, truncated to ``dim``) and free-form metadata (training command, seed, losses).
Its *version* is the SHA-256 of the file's bytes, the version the model registry stores
with every vector (``acie.store.registry.ensure_model(engine, EMBEDDER_NAME, version)``).

The vector of an image does not depend on the batch it comes in (the encoder normalises
per image), so ingesting in batches of any size gives the same vectors.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acie._files import write_versioned
from acie.embedding import EMBEDDER_NAME
from acie.embedding.network import EncoderConfig, ImageEncoder, asinh_stretch
from acie.errors import DataFormatError, NonPhysicalValueError, ShapeError, expected_got

__all__ = [
    "EMBEDDER_NAME",
    "FORMAT",
    "Embedder",
    "default_embedder_path",
    "load_default_embedder",
    "load_embedder",
    "save_embedder",
]

FORMAT = "acie-embedder/1"


def default_embedder_path() -> Path:
    """The shipped embedder (``acie/embedding/data/default.pt``)."""
    return Path(__file__).resolve().parent / "data" / "default.pt"


class Embedder:
    """Images (n, C, H, W) [nanomaggies / pixel] -> embeddings (n, dim) float32.

    Parameters
    ----------
    encoder : ImageEncoder
        The trained trunk (put in eval mode here).
    softening : array (C,) [nanomaggies / pixel]
        Per-band softening of the asinh stretch (the training images' sky sigma).
    mean : array (feature_dim,)
        Mean of the training features (subtracted before projecting).
    components : array (k, feature_dim)
        Projection rows (orthonormal principal axes, most variance first); the
        embedding keeps the first ``dim`` of them.
    dim : int or None
        Length of the vectors (default: all ``k`` rows).
    version : str
        SHA-256 of the file (``""`` for an unsaved embedder).
    metadata : mapping
        What the file says about its training.
    threads : int or None
        ``torch.set_num_threads`` while embedding (None: leave torch's setting).
    """

    def __init__(
        self,
        encoder: ImageEncoder,
        softening: np.ndarray,
        mean: np.ndarray,
        components: np.ndarray,
        *,
        dim: int | None = None,
        version: str = "",
        metadata: Mapping[str, Any] | None = None,
        path: Path | None = None,
        threads: int | None = 1,
    ) -> None:
        self.encoder = encoder.eval()
        self.config: EncoderConfig = encoder.config
        self._softening = torch.as_tensor(np.asarray(softening, np.float32))
        self._mean = np.asarray(mean, np.float32)
        self._components = np.asarray(components, np.float32)
        if self._components.shape[1:] != (self.config.feature_dim,):
            raise ShapeError(
                expected_got(
                    "projection components", f"(dim, {self.config.feature_dim})", components.shape
                )
            )
        k = self._components.shape[0]
        self._dim = k if dim is None else int(dim)
        if not 1 <= self._dim <= k:
            raise ShapeError(expected_got("dim", f"an integer in [1, {k}]", dim))
        self.version = version
        self.metadata = dict(metadata or {})
        self.path = path
        self.threads = threads

    @property
    def dim(self) -> int:
        """Length of the embedding vectors."""
        return self._dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(bands, H, W) the embedder takes."""
        s = self.config.image_size
        return (self.config.bands, s, s)

    def _check(self, images: Any) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self.image_shape:
            raise ShapeError(
                expected_got(
                    "images", f"an array (n, {', '.join(map(str, self.image_shape))})", x.shape
                )
            )
        if not np.all(np.isfinite(x)):
            raise NonPhysicalValueError(
                expected_got("image pixels", "finite values [nanomaggies / pixel]", "NaN or inf")
            )
        return x

    def features(self, images: Any, *, batch: int = 512) -> np.ndarray:
        """The encoder's features (n, feature_dim) before the projection."""
        x = self._check(images)
        before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            out = []
            with torch.no_grad():
                for s in range(0, len(x), batch):
                    t = asinh_stretch(torch.from_numpy(x[s : s + batch]), self._softening)
                    out.append(self.encoder(t).numpy())
        finally:
            torch.set_num_threads(before)
        if not out:
            return np.empty((0, self.config.feature_dim), np.float32)
        return np.concatenate(out).astype(np.float32)

    def project(self, features: np.ndarray, dim: int | None = None) -> np.ndarray:
        """Features -> embeddings, keeping the first ``dim`` axes (default: :attr:`dim`)."""
        d = self._dim if dim is None else int(dim)
        if not 1 <= d <= self._components.shape[0]:
            raise ShapeError(
                expected_got("dim", f"an integer in [1, {self._components.shape[0]}]", dim)
            )
        comps = self._components[:d]
        return ((np.asarray(features, np.float32) - self._mean) @ comps.T).astype(np.float32)

    def embed(self, images: Any, *, batch: int = 512) -> np.ndarray:
        """Embeddings (n, dim) float32 of images (n, C, H, W) in nanomaggies per pixel.

        Raises
        ------
        ShapeError
            Not an array of shape (n, *image_shape).
        NonPhysicalValueError
            A NaN or infinite pixel.
        """
        return self.project(self.features(images, batch=batch))

    __call__ = embed

    def save(self, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None) -> str:
        """Write this embedder to ``path`` (atomically); returns the file's SHA-256."""
        return save_embedder(
            path,
            encoder=self.encoder,
            softening=self._softening.numpy(),
            mean=self._mean,
            components=self._components,
            dim=self._dim,
            metadata=self.metadata if metadata is None else metadata,
        )

    def __repr__(self) -> str:
        return (
            f"Embedder(dim={self.dim}, image_shape={self.image_shape}, version={self.version[:12]})"
        )


def save_embedder(
    path: str | os.PathLike[str],
    *,
    encoder: ImageEncoder,
    softening: np.ndarray,
    mean: np.ndarray,
    components: np.ndarray,
    dim: int,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Write an embedder file atomically; return its version (SHA-256 hex).

    ``components`` holds all principal axes; the vectors keep the first ``dim``.
    """
    payload = {
        "format": FORMAT,
        "config": encoder.config.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()},
        "softening": torch.as_tensor(np.asarray(softening, np.float32)),
        "mean": torch.as_tensor(np.asarray(mean, np.float32)),
        "components": torch.as_tensor(np.asarray(components, np.float32)),
        "dim": int(dim),
        "metadata": dict(metadata or {}),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return write_versioned(path, buf.getvalue())


def load_embedder(path: str | os.PathLike[str], *, threads: int | None = 1) -> Embedder:
    """Read an embedder file (``weights_only``; no pickled code runs).

    Raises
    ------
    DataFormatError
        Not an embedder file of format ``acie-embedder/1``.
    """
    p = Path(path)
    data = p.read_bytes()
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:
        raise DataFormatError(f"{p} is not a readable torch file: {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise DataFormatError(expected_got(f"format of {p}", FORMAT, got))
    encoder = ImageEncoder(EncoderConfig(**payload["config"]))
    encoder.load_state_dict(payload["state_dict"])
    return Embedder(
        encoder,
        payload["softening"].numpy(),
        payload["mean"].numpy(),
        payload["components"].numpy(),
        dim=int(payload["dim"]),
        version=hashlib.sha256(data).hexdigest(),
        metadata=payload["metadata"],
        path=p,
        threads=threads,
    )


def load_default_embedder(*, threads: int | None = 1) -> Embedder:
    """The shipped embedder (see ``acie/embedding/data/REFERENCE.md``)."""
    return load_embedder(default_embedder_path(), threads=threads)
