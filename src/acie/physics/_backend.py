"""Array helpers that work on numpy arrays and torch tensors alike (torch imported lazily)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_torch(*xs: Any) -> bool:
    """Whether any argument is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and any(isinstance(x, torch.Tensor) for x in xs)


class _Numpy:
    log10 = staticmethod(np.log10)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    exp = staticmethod(np.exp)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)

    @staticmethod
    def relu(x):
        return np.maximum(x, 0.0)

    @staticmethod
    def logaddexp(a, b):
        return np.logaddexp(a, b)

    @staticmethod
    def asarray(x, like=None):  # noqa: ARG004 - _Torch.asarray's signature; numpy needs no dtype/device template
        return np.asarray(x, dtype=np.float64)


class _Torch:
    def __init__(self) -> None:
        import torch

        self.t = torch
        self.log10 = torch.log10
        self.log = torch.log
        self.log1p = torch.log1p
        self.exp = torch.exp
        self.sqrt = torch.sqrt
        self.abs = torch.abs
        self.relu = torch.relu
        self.logaddexp = torch.logaddexp

    def asarray(self, x, like=None):
        if isinstance(x, self.t.Tensor):
            return x
        dtype = like.dtype if like is not None else self.t.float64
        device = like.device if like is not None else None
        return self.t.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)


def namespace(*xs: Any):
    """The array namespace for the arguments: torch if any is a tensor, else numpy."""
    return _Torch() if is_torch(*xs) else _Numpy()
