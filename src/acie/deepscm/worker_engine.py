"""The deep SCM engine inside a task: loaded once per process from its checkpoint path.

Tasks that need the engine (catalogue embedding, evaluation interventions) run through a
``map_tasks(fn, items, **common)`` callable (e.g. an :class:`acie.compute.executor.Executor`)
and must not carry the torch model: they carry an :class:`EngineRef` (the checkpoint
path, ``None`` for the shipped model, the device and the expected model version) and
call :func:`engine_for`, which loads the engine the first time a process needs it and
keeps it for the process's next tasks. Each engine runs torch with one intra-op thread,
so a batch's floating-point reductions are done in the same order as in a one-thread
engine of the calling process: the results are bit-identical wherever a task runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acie.errors import ConflictError, expected_got

__all__ = ["EngineRef", "encoder_features_task", "engine_for"]


@dataclass(frozen=True)
class EngineRef:
    """What a task needs to load an engine: a few bytes instead of the model.

    Attributes
    ----------
    checkpoint : str or None
        Checkpoint path (on a file system every worker sees); ``None``: the shipped model
        of the worker's installed ``acie``, wherever it is installed.
    device : str
        Torch device (``cpu``).
    version : str or None
        Expected model version (SHA-256 of the checkpoint); a worker whose file differs
        refuses to compute instead of returning other numbers.
    """

    checkpoint: str | None
    device: str = "cpu"
    version: str | None = None

    @classmethod
    def of(cls, engine: object, *, shipped: bool = False) -> EngineRef:
        """The reference of a loaded :class:`~acie.deepscm.engine.CounterfactualEngine`.

        ``shipped=True`` refers to the shipped model by name (``checkpoint=None``).
        """
        ckpt = engine.checkpoint  # type: ignore[attr-defined]
        path = None if shipped else str(Path(ckpt.path).resolve())
        return cls(checkpoint=path, device=engine.device, version=ckpt.version)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=2)
def _load(checkpoint: str | None, device: str):
    from acie.deepscm.engine import CounterfactualEngine, default_model_path

    path = default_model_path() if checkpoint is None else Path(checkpoint)
    return CounterfactualEngine.from_checkpoint(path, device=device, warmup=False, threads=1)


def engine_for(ref: EngineRef):
    """The engine of ``ref`` in this process (loaded on first use, then cached).

    Raises
    ------
    ConflictError
        If the checkpoint found here is not the expected model version.
    """
    import torch

    engine = _load(ref.checkpoint, ref.device)
    if ref.version is not None and engine.model_version != ref.version:
        raise ConflictError(
            expected_got(
                f"model version of {ref.checkpoint or 'the shipped model'} on this worker",
                f"version {ref.version[:12]}",
                engine.model_version[:12],
            )
        )
    if torch.get_num_threads() != 1:  # another task of this process may have changed it
        torch.set_num_threads(1)
    return engine


def encoder_features_task(images: np.ndarray, *, engine: EngineRef) -> np.ndarray:
    """Encoder features (n, F) float32 of one batch of images, by the engine of ``engine``."""
    return np.asarray(engine_for(engine).encoder_features(images), dtype=np.float32)
