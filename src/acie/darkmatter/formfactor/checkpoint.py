"""The checkpoint folder of a form-factor run: settings key, bands and k-pair blocks.

A folder holds ``checkpoint.json`` (material, settings, format version), the DFT bands
once (``bands.npz``) and one file per block of k-pairs (``block_NNNNN.npz``: binned
Σ|M|², per-q counts and the seconds the block took). Every file is written atomically
(temporary file + rename), so an interrupted run leaves only whole files and resumes where
it stopped; a folder made with other settings is refused. Blocks run as tasks (on local
processes or Dask workers sharing the folder) save their own files, so several workers
write one checkpoint without locks: each block is one file, and a rerun of a block whose
worker died replaces it whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from acie._files import atomic_output, write_text
from acie.darkmatter.formfactor.dft import BandStructure
from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.errors import ConflictError, expected_got

__all__ = ["Checkpoint"]

_CHECKPOINT_VERSION = 1


def _atomic_savez(path: Path, **arrays) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _atomic_text(path: Path, text: str) -> None:
    write_text(path, text)


class Checkpoint:
    """A checkpoint folder, or a no-op when ``folder`` is ``None``.

    Parameters
    ----------
    folder : path-like or None
        Created if missing.
    material : str
    settings : FormFactorSettings

    Raises
    ------
    ConflictError
        If the folder holds a checkpoint made with other settings.
    """

    def __init__(
        self, folder: str | os.PathLike | None, material: str, settings: FormFactorSettings
    ):
        self.folder = Path(folder) if folder is not None else None
        if self.folder is None:
            return
        key = {"material": material, "settings": settings.as_dict(), "version": _CHECKPOINT_VERSION}
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file = self.folder / "checkpoint.json"
        if key_file.exists():
            old = json.loads(key_file.read_text())
            if old != key:
                raise ConflictError(
                    expected_got(f"checkpoint in {str(self.folder)!r}", f"settings {key}", old)
                    + "; use another --workdir or delete it"
                )
        else:
            _atomic_text(key_file, json.dumps(key, sort_keys=True))

    @property
    def _bands_file(self) -> Path | None:
        return self.folder / "bands.npz" if self.folder is not None else None

    def _block_file(self, index: int) -> Path | None:
        return self.folder / f"block_{index:05d}.npz" if self.folder is not None else None

    def load_bands(self) -> BandStructure | None:
        """The saved bands, or ``None``."""
        f = self._bands_file
        if f is None or not f.exists():
            return None
        with np.load(f) as z:
            return BandStructure(
                kpts=z["kpts"],
                energies=z["energies"],
                coeffs=z["coeffs"],
                n_occ=int(z["n_occ"]),
                dft_gap=float(z["dft_gap"]),
                scissor_shift=float(z["scissor_shift"]),
                info=json.loads(str(z["info_json"])),
            )

    def save_bands(self, b: BandStructure) -> None:
        """Save the bands unless they are saved already."""
        f = self._bands_file
        if f is None or f.exists():
            return
        _atomic_savez(
            f,
            kpts=b.kpts,
            energies=b.energies,
            coeffs=b.coeffs,
            n_occ=np.array(b.n_occ),
            dft_gap=np.array(b.dft_gap),
            scissor_shift=np.array(b.scissor_shift),
            info_json=np.array(json.dumps(b.info)),
        )

    def load_block(self, index: int) -> tuple[np.ndarray, np.ndarray, float] | None:
        """``(hist, counts, seconds)`` of a finished block, or ``None``."""
        f = self._block_file(index)
        if f is None or not f.exists():
            return None
        with np.load(f) as z:
            return z["hist"], z["counts"], float(z["seconds"])

    def save_block(self, index: int, hist: np.ndarray, counts: np.ndarray, seconds: float) -> None:
        """Save one finished block."""
        f = self._block_file(index)
        if f is not None:
            _atomic_savez(f, hist=hist, counts=counts, seconds=np.array(seconds))
