"""Checkpoint files of the deep SCM, versioned by their SHA-256.

A checkpoint is one ``torch.save`` file holding plain data only (tensors, lists,
numbers, strings): the architecture (:class:`~acie.deepscm.model.DeepSCMConfig`), the
weights, the property and image scalers, and free-form metadata (training command,
seed, epochs, losses). Its *model version* is the SHA-256 hex digest of the file's
bytes, so any change to weights or metadata gives a new version, and a version names
exactly one file. Files are loaded with ``weights_only=True`` (no pickled code runs).

Writes go to a temporary file in the same directory and are renamed into place, so a
crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from acie._files import write_text, write_versioned
from acie.deepscm.model import DeepSCM, DeepSCMConfig
from acie.deepscm.scaling import ImageScaler, PropertyScaler
from acie.errors import ConfigurationError, DataFormatError

__all__ = [
    "FORMAT",
    "READABLE_FORMATS",
    "Checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "save_finetuned",
    "sha256_file",
]

FORMAT = "acie-deepscm-checkpoint/2"
#: Formats :func:`load_checkpoint` reads. Format 2 adds the config fields ``mixtures``,
#: ``decoder``, ``pixel_noise`` and ``image_stretch``; a format-1 file has none of them
#: and loads as the format-1 architecture (their defaults).
READABLE_FORMATS = ("acie-deepscm-checkpoint/1", FORMAT)


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    model: DeepSCM
    properties: PropertyScaler
    images: ImageScaler
    metadata: dict[str, object]
    version: str  # SHA-256 hex of the file
    path: Path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Lowercase hex SHA-256 of a file's bytes: the model version of a checkpoint.

    The one definition of a model version; :func:`acie.store.registry.ensure_model`
    registers models under it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash (read in 1 MiB blocks).

    Returns
    -------
    str
        64 lowercase hexadecimal characters.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: DeepSCM,
    properties: PropertyScaler,
    images: ImageScaler,
    metadata: Mapping[str, object] | None = None,
) -> str:
    """Write a checkpoint atomically; return its model version (SHA-256 hex)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "state_dict": state,
        "properties": properties.to_dict(),
        "images": images.to_dict(),
        "metadata": dict(metadata or {}),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return write_versioned(path, buf.getvalue())


def save_finetuned(
    out: Path,
    model: DeepSCM,
    base: Checkpoint,
    *,
    stage: str,
    config: Mapping[str, object],
    history: Sequence[Mapping[str, object]],
    metadata: Mapping[str, object] | None = None,
) -> str:
    """Save a model fine-tuned from ``base`` after an epoch; return its version (SHA-256).

    ``out/model.pt`` keeps ``base``'s metadata (not its training history) and records under
    ``stage`` the run's ``config``, the base's version, the last epoch and the ``history``;
    ``out/history.json`` holds the history with the new version. Both written atomically.
    """
    meta = {
        **{k: v for k, v in base.metadata.items() if k != "history"},
        **dict(metadata or {}),
        stage: {
            "config": dict(config),
            "init_from": base.version,
            "epoch": history[-1]["epoch"],
            "history": [dict(h) for h in history],
        },
    }
    version = save_checkpoint(
        out / "model.pt", model=model, properties=base.properties, images=base.images, metadata=meta
    )
    doc = {"model_version": version, "history": [dict(h) for h in history]}
    write_text(out / "history.json", json.dumps(doc, indent=2))
    return version


def load_checkpoint(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    DataFormatError
        The file is not an ACIE deep-SCM checkpoint (or is corrupt).
    FileNotFoundError
        The file does not exist.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise DataFormatError(f"{str(path)!r} is not a readable torch checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") not in READABLE_FORMATS:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise DataFormatError(
            f"{str(path)!r} must be a checkpoint of format {' or '.join(READABLE_FORMATS)}; "
            f"got {got!r}"
        )
    try:
        config = DeepSCMConfig.from_dict(payload["config"])
        model = DeepSCM(config)
        model.load_state_dict(payload["state_dict"])
        props = PropertyScaler(**payload["properties"])
        img = dict(payload["images"])
        img["shape"] = tuple(img["shape"])
        images = ImageScaler(**img)
    except (KeyError, TypeError, RuntimeError, ConfigurationError) as exc:
        raise DataFormatError(f"checkpoint {str(path)!r} is inconsistent: {exc}") from exc
    model.eval().to(device)
    return Checkpoint(
        model=model,
        properties=props,
        images=images,
        metadata=dict(payload.get("metadata", {})),
        version=hashlib.sha256(data).hexdigest(),
        path=path,
    )
