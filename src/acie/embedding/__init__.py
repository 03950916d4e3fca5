"""acie.embedding: contrastive galaxy embeddings for vector search (PyTorch).

The public API (torch is imported on first use, not by ``import acie.embedding``)::

    load_default_embedder  embedder.py   the shipped embedder (data/default.pt)
    Embedder               embedder.py   images (n, C, H, W) [nanomaggies/px] -> (n, dim) float32
    load_embedder          embedder.py   an embedder file, versioned by its SHA-256
    EMBEDDER_NAME          embedder.py   its name in the model registry
    TrainConfig            training.py   settings of the seeded contrastive training
    train_contrastive      training.py   SimCLR NT-Xent training on simulated views
    nt_xent                training.py   the contrastive loss
    knn_r2, recall_at_k    quality.py    kNN regression R^2 and index recall

Typical use::

    emb = load_default_embedder()
    vectors = emb.embed(images)          # (n, emb.dim) float32
    registry_version = emb.version       # SHA-256 of the weights file
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names __getattr__ loads, for type checkers and IDEs
    from acie.embedding.embedder import (
        Embedder,
        load_default_embedder,
        load_embedder,
    )
    from acie.embedding.quality import knn_r2, recall_at_k
    from acie.embedding.training import TrainConfig, nt_xent, train_contrastive

__all__ = [
    "EMBEDDER_NAME",
    "Embedder",
    "TrainConfig",
    "knn_r2",
    "load_default_embedder",
    "load_embedder",
    "nt_xent",
    "recall_at_k",
    "train_contrastive",
]

#: the model-registry name of galaxy embedders (the version is the file's SHA-256)
EMBEDDER_NAME = "galaxy-embedder"

_WHERE = {
    "Embedder": "embedder",
    "load_default_embedder": "embedder",
    "load_embedder": "embedder",
    "TrainConfig": "training",
    "nt_xent": "training",
    "train_contrastive": "training",
    "knn_r2": "quality",
    "recall_at_k": "quality",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use (torch loads then)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'acie.embedding' has no attribute {name!r}")
    return getattr(import_module(f"acie.embedding.{_WHERE[name]}"), name)
