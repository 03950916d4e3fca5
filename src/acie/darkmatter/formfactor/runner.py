"""Running a form-factor calculation: checkpoints, resume, parallel k-pair blocks, progress.

:func:`compute_form_factor` drives :mod:`acie.darkmatter.formfactor`. With a ``workdir`` it
writes the DFT bands once (``bands.npz``) and one file per block of k-pairs
(``block_NNNNN.npz``), each atomically (temporary file + rename), so an interrupted run
resumes where it stopped; files from different settings are refused. Blocks are summed in
a fixed order, so the output does not depend on the number of workers.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import astropy.units as u
import numpy as np

from acie.darkmatter.formfactor import dft, transitions
from acie.darkmatter.formfactor.dft import BandStructure
from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.darkmatter.materials import Material, get_material
from acie.darkmatter.units import ALPHA, AMU_EV, BOHR, ME_EV
from acie.errors import ConflictError, InputValidationError, expected_got

__all__ = ["compute_form_factor", "software_versions"]

_CHECKPOINT_VERSION = 1


def software_versions() -> dict[str, str]:
    """Versions of the software that produced a table."""
    import h5py
    import pyscf
    import scipy

    from acie import __version__

    return {
        "acie": __version__,
        "pyscf": pyscf.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "h5py": h5py.__version__,
        "python": platform.python_version(),
    }


def _atomic_savez(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bands_to_arrays(b: BandStructure) -> dict:
    return {
        "kpts": b.kpts,
        "energies": b.energies,
        "coeffs": b.coeffs,
        "n_occ": np.array(b.n_occ),
        "dft_gap": np.array(b.dft_gap),
        "scissor_shift": np.array(b.scissor_shift),
        "info_json": np.array(json.dumps(b.info)),
    }


def _bands_from_file(path: Path) -> BandStructure:
    with np.load(path) as z:
        return BandStructure(
            kpts=z["kpts"],
            energies=z["energies"],
            coeffs=z["coeffs"],
            n_occ=int(z["n_occ"]),
            dft_gap=float(z["dft_gap"]),
            scissor_shift=float(z["scissor_shift"]),
            info=json.loads(str(z["info_json"])),
        )


# worker state (one per process; set by the initialiser)
_WORKER: dict = {}


def _init_worker(
    material: str,
    settings: FormFactorSettings,
    bands: BandStructure,
    gvecs: np.ndarray,
    threads: int,
) -> None:
    from pyscf import lib

    lib.num_threads(threads)
    _WORKER.update(
        cell=dft.build_cell(material, settings), settings=settings, bands=bands, gvecs=gvecs
    )


def _run_block(
    index: int, pairs: list[tuple[int, int]]
) -> tuple[int, np.ndarray, np.ndarray, float]:
    t0 = time.perf_counter()
    hist, counts = transitions.histogram_pairs(
        _WORKER["cell"], _WORKER["bands"], _WORKER["settings"], pairs, _WORKER["gvecs"]
    )
    return index, hist, counts, time.perf_counter() - t0


def compute_form_factor(
    material: str | Material,
    settings: FormFactorSettings | None = None,
    *,
    workdir: str | os.PathLike | None = None,
    n_workers: int = 1,
    progress: bool = True,
    max_blocks: int | None = None,
    bands: BandStructure | None = None,
):
    """Compute the crystal form factor of ``material``.

    Parameters
    ----------
    material : str or Material
    settings : FormFactorSettings, optional
        Defaults to ``FormFactorSettings()``.
    workdir : path-like, optional
        Checkpoint folder; reuse it to resume. Without it nothing is written.
    n_workers : int
        Processes over k-pair blocks (1 = in this process).
    progress : bool
        Show a tqdm progress bar.
    max_blocks : int, optional
        Stop after this many new blocks (for staged runs); then returns ``None``.
    bands : BandStructure, optional
        Bands from an earlier :func:`~acie.darkmatter.formfactor.dft.run_dft` with the same
        DFT settings (skips the DFT).

    Returns
    -------
    FormFactorTable or None
        ``None`` only when ``max_blocks`` stopped the run before the end.

    Raises
    ------
    ConflictError
        If ``workdir`` holds a checkpoint made with other settings.
    """
    from tqdm.auto import tqdm

    from acie.darkmatter.formfactor.table import FormFactorTable

    mat = get_material(material)
    settings = settings or FormFactorSettings()
    if int(n_workers) < 1:
        raise InputValidationError(expected_got("n_workers", "an integer >= 1", n_workers))
    t_start = time.perf_counter()
    cell = dft.build_cell(mat, settings)
    wd = Path(workdir) if workdir is not None else None
    key = {"material": mat.name, "settings": settings.as_dict(), "version": _CHECKPOINT_VERSION}
    if wd is not None:
        wd.mkdir(parents=True, exist_ok=True)
        key_file = wd / "checkpoint.json"
        if key_file.exists():
            old = json.loads(key_file.read_text())
            if old != key:
                raise ConflictError(
                    expected_got(f"checkpoint in {str(wd)!r}", f"settings {key}", old)
                    + "; use another --workdir or delete it"
                )
        else:
            _atomic_text(key_file, json.dumps(key, sort_keys=True))
    bands_file = wd / "bands.npz" if wd is not None else None
    if bands is not None:
        if bands.kpts.shape[0] != int(np.prod(settings.kmesh)):
            raise InputValidationError(
                expected_got(
                    "bands", f"{int(np.prod(settings.kmesh))} k-points (kmesh)", bands.kpts.shape[0]
                )
            )
    elif bands_file is not None and bands_file.exists():
        bands = _bands_from_file(bands_file)
    else:
        bands = dft.run_dft(mat, settings, cell=cell)
    if bands_file is not None and not bands_file.exists():
        _atomic_savez(bands_file, **_bands_to_arrays(bands))
    n_k = len(bands.kpts)
    k_extent = 2 * float(np.max(np.linalg.norm(bands.kpts, axis=1))) if n_k > 1 else 0.0
    gvecs = transitions.g_vectors(cell, settings.q_max, k_extent)
    pairs = transitions.k_pairs(n_k)
    blocks = [
        pairs[i : i + settings.pairs_per_block]
        for i in range(0, len(pairs), settings.pairs_per_block)
    ]
    hist = np.zeros((settings.n_q, settings.n_E))
    counts = np.zeros(settings.n_q)
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    block_seconds = 0.0
    todo = []
    for i in range(len(blocks)):
        f = wd / f"block_{i:05d}.npz" if wd is not None else None
        if f is not None and f.exists():
            with np.load(f) as z:
                results[i] = (z["hist"], z["counts"])
                block_seconds += float(z["seconds"])
        else:
            todo.append(i)
    if max_blocks is not None:
        todo = todo[:max_blocks]
    bar = tqdm(
        total=len(blocks),
        initial=len(results),
        desc=f"{mat.name} k-pair blocks",
        disable=not progress,
        unit="block",
    )

    def _store(i: int, h: np.ndarray, c: np.ndarray, sec: float) -> None:
        nonlocal block_seconds
        results[i] = (h, c)
        block_seconds += sec
        if wd is not None:
            _atomic_savez(wd / f"block_{i:05d}.npz", hist=h, counts=c, seconds=np.array(sec))
        bar.update(1)

    if n_workers == 1 or len(todo) <= 1:
        _init_worker(mat.name, settings, bands, gvecs, threads=_threads_default())
        _WORKER["cell"] = cell
        for i in todo:
            _store(*_run_block(i, blocks[i]))
        _WORKER.clear()
    else:
        with ProcessPoolExecutor(
            max_workers=int(n_workers),
            initializer=_init_worker,
            initargs=(mat.name, settings, bands, gvecs, 1),
        ) as pool:
            futures = [pool.submit(_run_block, i, blocks[i]) for i in todo]
            for fut in futures:
                _store(*fut.result())
    bar.close()
    if len(results) < len(blocks):
        return None
    for i in range(len(blocks)):  # fixed order: deterministic sums
        hist += results[i][0]
        counts += results[i][1]
    f2 = transitions.normalise_histogram(
        hist, n_k=n_k, cell_volume_bohr3=float(cell.vol), settings=settings
    )
    val, cond = dft.band_window(bands, settings)
    # Bessel bound: per initial band, Σ_f |M|² <= 1; mean over (k, q-vector) per q bin.
    with np.errstate(invalid="ignore", divide="ignore"):
        per_band = np.where(
            counts > 0, hist.sum(axis=1) / np.maximum(counts, 1) / (val.stop - val.start), np.nan
        )
    metadata = {
        "settings": {
            **settings.as_dict(),
            "material": mat.name,
            "lattice_constant_A": mat.lattice_constant,
            "kpts_bohr_inv": bands.kpts.tolist(),
            "valence_bands": [val.start, val.stop],
            "conduction_bands": [cond.start, cond.stop],
            "n_ao": int(cell.nao),
            "n_electrons": int(cell.nelectron),
            "dft_gap_eV": bands.dft_gap,
            "scissor_shift_eV": bands.scissor_shift,
            "e_tot_hartree": bands.info.get("e_tot_hartree"),
            "mesh": bands.info.get("mesh"),
            "q_unit": "bohr^-1 = alpha m_e (bins start at 0)",
            "energy_unit": "eV (bins start at 0)",
            "normalisation": "QCDark eq. (13), alpha=1/137, m_e=0.51099895 MeV",
        },
        "software": software_versions(),
        "timings": {
            "dft_seconds": bands.info.get("dft_seconds"),
            "k_pair_seconds": block_seconds,
            "wall_seconds_this_run": time.perf_counter() - t_start,
            "n_workers": int(n_workers),
        },
        "diagnostics": {
            "completeness_per_band": [None if not np.isfinite(x) else float(x) for x in per_band]
        },
        "provenance": {
            "producer": "acie.darkmatter.formfactor (PySCF periodic KS-DFT)",
            "references": {
                "normalisation": "Dreyer et al., PRD 109, 115008 (2024), arXiv:2306.14944"
            },
        },
    }
    q_kev = (np.arange(settings.n_q) + 0.5) * settings.dq * ALPHA * ME_EV / 1e3
    energy = (np.arange(settings.n_E) + 0.5) * settings.dE
    return FormFactorTable(
        material=mat.name,
        q=q_kev * u.keV,
        energy=energy * u.eV,
        f2=f2,
        band_gap=mat.band_gap * u.eV,
        cell_volume=float(cell.vol) * BOHR**3,
        cell_mass=mat.cell_mass * AMU_EV * u.eV,
        scissor_applied=settings.scissor,
        metadata=metadata,
    )


def _threads_default() -> int:
    from pyscf import lib

    return lib.num_threads()
