"""Output files: atomic, and one mode (``0o666`` less the umask) whichever writer made them.

``acie._files.atomic_output`` is the one writer of user-facing files; the tests below
check it directly and through the writers that use it (plots, tables, datasets, model
files), under two umasks, so a writer that creates ``0o600`` files (as
``tempfile.mkstemp`` does) or forces ``0o644`` fails here.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from acie._files import atomic_output, write_bytes, write_text, write_versioned

UMASKS = [0o022, 0o027]


@pytest.fixture(params=UMASKS, ids=lambda m: f"umask{m:03o}")
def umask(request) -> Iterator[int]:
    """Run the test under the given process umask (restored afterwards)."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _no_temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_output_gets_the_mode_of_a_normally_created_file(tmp_path, umask):
    with open(tmp_path / "normal.txt", "w") as fh:
        fh.write("x")
    path = write_text(tmp_path / "out.txt", "hello")
    assert path.read_text() == "hello"
    assert _mode(path) == 0o666 & ~umask == _mode(tmp_path / "normal.txt")
    assert _mode(write_bytes(tmp_path / "b.bin", b"\x00\x01")) == 0o666 & ~umask
    assert _no_temporaries(tmp_path) == []


def _fail_halfway(target: Path) -> None:
    with atomic_output(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("writer failed")


def test_atomic_output_replaces_only_on_success(tmp_path):
    target = write_text(tmp_path / "table.csv", "old\n")
    with pytest.raises(RuntimeError, match="writer failed"):
        _fail_halfway(target)
    assert target.read_text() == "old\n"
    assert _no_temporaries(tmp_path) == []


def test_atomic_output_creates_folders_and_keeps_the_name_ending(tmp_path):
    target = tmp_path / "out" / "figures" / "cf.csv.gz"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.endswith(".cf.csv.gz")
        assert tmp.name.startswith(".")
        assert tmp.exists()
        assert tmp.stat().st_size == 0
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"


def test_a_private_file_replaced_by_atomic_output_is_no_longer_private(tmp_path, umask):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_bytes(target, b"new")
    assert _mode(target) == 0o666 & ~umask


def _galaxy_plot(path: Path) -> None:
    from typer.testing import CliRunner

    from acie.cli.main import app

    result = CliRunner().invoke(
        app, ["galaxy", "sample", "--n", "2", "--image-size", "16", "--plot", str(path)]
    )
    assert result.exit_code == 0, result.output


def _galaxy_dataset(path: Path) -> None:
    from acie.galaxy.dataset import write_dataset
    from acie.galaxy.simulator import GalaxySimulator

    write_dataset(path, GalaxySimulator(image_size=16, seed=0), 3, seed=0, progress=False)


def _catalogue(path: Path) -> None:
    import pandas as pd

    from acie.analysis.catalogue import save_catalogue

    save_catalogue(pd.DataFrame({"mass": [10.0, 11.0]}), path)


def _figure(save: Callable[..., Path]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        try:
            save(fig, path)
        finally:
            plt.close(fig)

    return write


def _analysis_figure(path: Path) -> None:
    from acie.analysis.plots import save_figure

    _figure(save_figure)(path)


def _darkmatter_figure(path: Path) -> None:
    from acie.darkmatter.plots import save_figure

    _figure(save_figure)(path)


def _npz(path: Path) -> None:
    from acie.deepscm.reporting import save_npz_atomic

    save_npz_atomic(path, a=np.arange(3))


def _formfactor_table(path: Path) -> None:
    from acie.darkmatter.formfactor.io import write_acie
    from acie.darkmatter.formfactor.shipped import shipped_table

    write_acie(shipped_table("Si"), path)


def _excitons(path: Path) -> None:
    from acie.darkmatter.excitons import write_example_excitons
    from acie.darkmatter.formfactor.shipped import shipped_table

    write_example_excitons(shipped_table("Si"), path)


def _checkpoint(path: Path) -> None:
    from acie.deepscm.checkpoint import load_checkpoint, save_checkpoint
    from acie.deepscm.engine import default_model_path

    ckpt = load_checkpoint(default_model_path())
    save_checkpoint(path, model=ckpt.model, properties=ckpt.properties, images=ckpt.images)


WRITERS = {
    "darkmatter.formfactor.io.write_acie": (_formfactor_table, "si.h5"),
    "darkmatter.excitons.write_example_excitons": (_excitons, "si_excitons.h5"),
    "deepscm.checkpoint.save_checkpoint": (_checkpoint, "model.pt"),
    "acie galaxy sample --plot": (_galaxy_plot, "cf.png"),
    "galaxy.dataset.write_dataset": (_galaxy_dataset, "galaxies.h5"),
    "analysis.catalogue.save_catalogue": (_catalogue, "cat.csv"),
    "analysis.plots.save_figure": (_analysis_figure, "fig.pdf"),
    "darkmatter.plots.save_figure": (_darkmatter_figure, "reach.png"),
    "deepscm.reporting.save_npz_atomic": (_npz, "arrays.npz"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_output_writer_uses_the_umask_mode(tmp_path, umask, writer):
    write, name = WRITERS[writer]
    path = tmp_path / "out" / name
    path.parent.mkdir()
    write(path)
    assert path.stat().st_size > 0
    assert oct(_mode(path)) == oct(0o666 & ~umask), f"{writer} wrote {oct(_mode(path))}"
    assert _no_temporaries(path.parent) == []


def test_write_versioned_returns_the_sha256_of_the_bytes_on_disk(tmp_path):
    import hashlib

    path = tmp_path / "m.pt"
    version = write_versioned(path, b"weights")
    assert path.read_bytes() == b"weights"
    assert version == hashlib.sha256(b"weights").hexdigest()


def test_write_versioned_leaves_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    path.write_bytes(b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_versioned(path, b"new")
    assert path.read_bytes() == b"old"
    assert _no_temporaries(path.parent) == []
