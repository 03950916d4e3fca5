"""acie.deepscm: deep structural causal model of galaxy images (PyTorch).

The public API (torch is imported on first use, not by ``import acie.deepscm``)::

    load_default_model     engine.py       the shipped trained model (data/default.pt)
    CounterfactualEngine   engine.py       abduction - action - prediction - physics check
    CounterfactualResult   engine.py       images, properties, violation score, confidence
    DeepSCM, DeepSCMConfig model.py        mechanisms + encoder + decoder, causal ELBO
    PropertyMechanisms     mechanisms.py   conditional Gaussian / sinh-arcsinh flow / two-component
                                           mixture (log SFR: star-forming vs quenched) per node
    TrainConfig, train     training.py     seeded training with checkpoints
    load_checkpoint        checkpoint.py   SHA-256-versioned checkpoint files
    Watermark              watermark.py    frequency-domain mark and detector
    evaluate               evaluation.py   metrics against the simulator's exact counterfactuals
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names __getattr__ loads, for type checkers and IDEs
    from acie.deepscm.checkpoint import load_checkpoint
    from acie.deepscm.engine import CounterfactualEngine, CounterfactualResult, load_default_model
    from acie.deepscm.evaluation import evaluate
    from acie.deepscm.mechanisms import PropertyMechanisms
    from acie.deepscm.model import DeepSCM, DeepSCMConfig
    from acie.deepscm.training import TrainConfig, train
    from acie.deepscm.watermark import Watermark

__all__ = [
    "CounterfactualEngine",
    "CounterfactualResult",
    "DeepSCM",
    "DeepSCMConfig",
    "PropertyMechanisms",
    "TrainConfig",
    "Watermark",
    "evaluate",
    "load_checkpoint",
    "load_default_model",
    "train",
]

_WHERE = {
    "CounterfactualEngine": "engine",
    "CounterfactualResult": "engine",
    "load_default_model": "engine",
    "DeepSCM": "model",
    "DeepSCMConfig": "model",
    "PropertyMechanisms": "mechanisms",
    "TrainConfig": "training",
    "train": "training",
    "load_checkpoint": "checkpoint",
    "Watermark": "watermark",
    "evaluate": "evaluation",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use (torch loads then)."""
    if name in _WHERE:
        return getattr(import_module(f"acie.deepscm.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'acie.deepscm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
