"""Running a form-factor calculation: stages, resume, parallel k-pair blocks, progress.

:func:`compute_form_factor` drives :mod:`~acie.darkmatter.formfactor.dft` and
:mod:`~acie.darkmatter.formfactor.transitions`. With a ``workdir`` the bands and every
finished block of k-pairs are kept in a :class:`~acie.darkmatter.formfactor.checkpoint.Checkpoint`,
so an interrupted run resumes where it stopped. Blocks are summed in a fixed order, so
the output does not depend on the number of workers. With ``map_tasks`` (e.g. an
:class:`acie.compute.executor.Executor` on a Dask cluster) every block is one task that
builds its cell, computes its k-pairs and writes its own checkpoint file atomically, so
blocks finished by a worker that later dies are kept and a rerun resumes from them. Progress and up-front time estimates
come from :mod:`~acie.darkmatter.formfactor.progress` and
:mod:`~acie.darkmatter.formfactor.estimate`.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any

import astropy.units as u
import numpy as np

from acie.darkmatter.formfactor import dft, transitions
from acie.darkmatter.formfactor.checkpoint import Checkpoint
from acie.darkmatter.formfactor.dft import BandStructure
from acie.darkmatter.formfactor.estimate import estimate_run
from acie.darkmatter.formfactor.io import write_acie
from acie.darkmatter.formfactor.progress import Progress
from acie.darkmatter.formfactor.settings import FormFactorSettings
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.materials import Material, get_material
from acie.darkmatter.units import ALPHA, AMU_EV, BOHR, ME_EV
from acie.errors import InputValidationError, expected_got

__all__ = ["compute_form_factor", "software_versions"]


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


@lru_cache(maxsize=2)
def _task_cell(material: str, settings: FormFactorSettings):
    return dft.build_cell(material, settings)


def _block_task(
    item: tuple[int, list[tuple[int, int]]],
    *,
    material: str,
    settings: FormFactorSettings,
    bands: BandStructure,
    gvecs: np.ndarray,
    workdir: str | None,
    threads: int,
) -> tuple[int, np.ndarray, np.ndarray, float]:
    """One block of k-pairs as a self-contained task; saves its own checkpoint file."""
    from pyscf import lib

    index, pairs = item
    checkpoint = Checkpoint(workdir, material, settings) if workdir is not None else None
    if checkpoint is not None and (done := checkpoint.load_block(index)) is not None:
        return (index, *done)  # a retried task whose block a dead worker already wrote
    before = lib.num_threads()
    lib.num_threads(threads)
    try:
        t0 = time.perf_counter()
        hist, counts = transitions.histogram_pairs(
            _task_cell(material, settings), bands, settings, pairs, gvecs
        )
        seconds = time.perf_counter() - t0
    finally:
        lib.num_threads(before)
    if checkpoint is not None:
        checkpoint.save_block(index, hist, counts, seconds)
    return index, hist, counts, seconds


def compute_form_factor(
    material: str | Material,
    settings: FormFactorSettings | None = None,
    *,
    workdir: str | os.PathLike | None = None,
    n_workers: int = 1,
    progress: bool | Progress = True,
    max_blocks: int | None = None,
    bands: BandStructure | None = None,
    output: str | os.PathLike | None = None,
    map_tasks: Callable[..., Iterable[Any]] | None = None,
):
    """Compute the crystal form factor of ``material``.

    Four stages, each announced on stderr with its estimated time when ``progress`` is on:
    structure (cell, k-points, G-vectors), SCF (live per cycle), k-pair blocks (bar with
    ETA), normalisation (and writing ``output``).

    Parameters
    ----------
    material : str or Material
    settings : FormFactorSettings, optional
        Defaults to ``FormFactorSettings()``.
    workdir : path-like, optional
        Checkpoint folder; reuse it to resume. Without it nothing is written there.
    n_workers : int
        Processes over k-pair blocks (1 = in this process).
    progress : bool or Progress
        Report stages, estimates and live progress on stderr (or on a given reporter).
    max_blocks : int, optional
        Stop after this many new blocks (for staged runs); then returns ``None``.
    bands : BandStructure, optional
        Bands from an earlier :func:`~acie.darkmatter.formfactor.dft.run_dft` with the same
        DFT settings (skips the DFT).
    output : path-like, optional
        Also write the table there (ACIE format v1, atomically) as the last stage.
    map_tasks : callable, optional
        ``map_tasks(fn, items, **common)`` yielding results in item order (an
        :class:`acie.compute.executor.Executor`): runs the blocks as tasks (one PySCF
        thread each) instead of ``n_workers``; with a ``workdir`` each task writes its block.

    Returns
    -------
    FormFactorTable or None
        ``None`` only when ``max_blocks`` stopped the run before the end.

    Raises
    ------
    ConflictError
        If ``workdir`` holds a checkpoint made with other settings.
    """
    from pyscf import lib

    mat = get_material(material)
    settings = settings or FormFactorSettings()
    if int(n_workers) < 1:
        raise InputValidationError(expected_got("n_workers", "an integer >= 1", n_workers))
    if bands is not None and bands.kpts.shape[0] != int(np.prod(settings.kmesh)):
        raise InputValidationError(
            expected_got(
                "bands", f"{int(np.prod(settings.kmesh))} k-points (kmesh)", bands.kpts.shape[0]
            )
        )
    prog = progress if isinstance(progress, Progress) else Progress(enabled=bool(progress))
    t_start = time.perf_counter()
    checkpoint = Checkpoint(workdir, mat.name, settings)
    with prog.stage(f"structure: {mat.name} primitive cell, k-points, G-vectors"):
        cell = dft.build_cell(mat, settings)
        kpts = cell.make_kpts(list(settings.kmesh), wrap_around=True, with_gamma_point=True)
        gvecs = transitions.g_vectors(cell, settings.q_max, _k_extent(kpts))
        pairs = transitions.k_pairs(len(kpts))
        blocks = [
            pairs[i : i + settings.pairs_per_block]
            for i in range(0, len(pairs), settings.pairs_per_block)
        ]
        done = {i: r for i in range(len(blocks)) if (r := checkpoint.load_block(i)) is not None}
        todo = [i for i in range(len(blocks)) if i not in done]
        if max_blocks is not None:
            todo = todo[:max_blocks]
        if bands is None:
            bands = checkpoint.load_bands()
        n_images = len(cell.get_lattice_Ls())
        prog.note(
            f"{mat.name} ({mat.structure}, a = {mat.lattice_constant:g} Å), {settings.basis} "
            f"({cell.nao} AOs), {settings.pseudo or 'all-electron'}, {settings.xc}; FFT mesh "
            f"{'×'.join(map(str, cell.mesh))}; {len(kpts)} k-points, {len(pairs)} k-pairs in "
            f"{len(blocks)} blocks ({len(done)} done), {len(gvecs)} G-vectors"
            + _hybrid_text(settings)
        )
        est = estimate_run(
            n_k=len(kpts),
            n_ao=int(cell.nao),
            n_grid=int(np.prod(cell.mesh)),
            n_images=n_images,
            n_q_vectors=_count_q(kpts, gvecs, settings.q_max, [blocks[i] for i in todo]),
            n_workers=min(int(n_workers), max(1, len(todo))),
            threads=lib.num_threads(),
            run_scf=bands is None,
            n_exchange_pairs=len(kpts) * settings.exchange_partners,
        )
        prog.note(est.summary())
    if bands is None:
        with (
            prog.stage(f"SCF: PySCF KRKS ({settings.xc}) on {len(kpts)} k-points", est.scf_s),
            prog.scf(settings.conv_tol) as monitor,
        ):
            bands = dft.run_dft(mat, settings, cell=cell, monitor=monitor)
    else:
        prog.skip("SCF", "bands from the checkpoint or the caller, not recomputed")
    checkpoint.save_bands(bands)
    # the same G-vectors as above unless the caller's bands have other k-points
    gvecs = transitions.g_vectors(cell, settings.q_max, _k_extent(bands.kpts))
    results = {i: (h, c) for i, (h, c, _) in done.items()}
    block_seconds = sum(sec for _, _, sec in done.values())
    with prog.stage(
        f"k-pair blocks: {len(todo)} of {len(blocks)} to compute, {n_workers} worker(s)",
        est.pairs_s,
    ):
        bar = prog.bar(total=len(blocks), initial=len(done), desc="k-pair blocks", unit="block")

        def _store(i: int, h: np.ndarray, c: np.ndarray, sec: float, save: bool = True) -> None:
            nonlocal block_seconds
            results[i] = (h, c)
            block_seconds += sec
            if save:
                checkpoint.save_block(i, h, c, sec)
            bar.update(1)

        with prog.heartbeat(bar):
            if map_tasks is not None:
                folder = str(checkpoint.folder) if checkpoint.folder is not None else None
                for r in map_tasks(
                    _block_task,
                    [(i, blocks[i]) for i in todo],
                    material=mat.name,
                    settings=settings,
                    bands=bands,
                    gvecs=gvecs,
                    workdir=folder,
                    threads=1,
                ):
                    index, hist, counts, seconds = r
                    _store(index, hist, counts, seconds, save=False)
            elif n_workers == 1 or len(todo) <= 1:
                _init_worker(mat.name, settings, bands, gvecs, threads=lib.num_threads())
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
        prog.skip("normalise", f"stopped after {len(todo)} new blocks (max_blocks)")
        return None
    title = "sum blocks, normalise" + (f", write {output}" if output is not None else "")
    with prog.stage(title, est.finish_s):
        table = _table(mat, settings, cell, bands, blocks, results)
        timings = table.metadata["timings"]
        timings["k_pair_seconds"] = block_seconds
        timings["n_workers"] = int(n_workers)
        timings["wall_seconds_this_run"] = time.perf_counter() - t_start
        if output is not None:
            write_acie(table, output)
    return table


def _hybrid_text(settings: FormFactorSettings) -> str:
    if not settings.hybrid_fraction:
        return ""
    return (
        f"; then a one-shot hybrid ({settings.hybrid_fraction:g} exact exchange on the "
        f"{settings.xc} ground state, {settings.exchange_partners} exchange partners per "
        "k-point)"
    )


def _k_extent(kpts: np.ndarray) -> float:
    return 2 * float(np.max(np.linalg.norm(kpts, axis=1))) if len(kpts) > 1 else 0.0


def _count_q(kpts: np.ndarray, gvecs: np.ndarray, q_max: float, blocks) -> int:
    """q-vectors with |q| < q_max over the given blocks of k-pairs (for the estimate)."""
    return int(
        sum(
            np.count_nonzero(np.linalg.norm(kpts[j] - kpts[i] + gvecs, axis=1) < q_max)
            for block in blocks
            for i, j in block
        )
    )


def _table(mat, settings, cell, bands, blocks, results):
    """Sum the blocks in a fixed order (deterministic), normalise, attach provenance."""
    hist = np.zeros((settings.n_q, settings.n_E))
    counts = np.zeros(settings.n_q)
    for i in range(len(blocks)):
        hist += results[i][0]
        counts += results[i][1]
    n_k = len(bands.kpts)
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
        "timings": {k: bands.info[k] for k in ("dft_seconds", "hybrid_seconds") if k in bands.info},
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
