"""``acie embed train`` and ``acie embed study`` on tiny settings."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from acie.cli.main import app
from acie.embedding.embedder import load_embedder


def test_train_then_study(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "e.pt"
    res = runner.invoke(
        app,
        [
            "embed",
            "train",
            "--out",
            str(out),
            "--n-train",
            "24",
            "--steps",
            "2",
            "--batch",
            "8",
            "--dim",
            "4",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.output.strip().splitlines()[-1])
    emb = load_embedder(out)
    assert info["version"] == emb.version
    assert emb.dim == 4
    assert emb.metadata["objective"] == "contrastive"
    assert emb.metadata["config"]["seed"] == 0
    res = runner.invoke(
        app,
        [
            "embed",
            "study",
            "--out",
            str(tmp_path / "s"),
            "--embedder",
            str(out),
            "--n-reference",
            "30",
            "--n-query",
            "12",
            "--n-index",
            "60",
            "--k",
            "3",
            "--dims",
            "2,4,8",
            "--n-boot",
            "5",
            "--autoencoder-steps",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert set(report["representations"]) == {
        "contrastive (shipped, d = 4)",
        "contrastive (shipped, d = 4, cosine)",
        "deep SCM encoder features",
        "autoencoder bottleneck (d = 128)",
    }
    assert [e["dim"] for e in report["dimension_scan"]] == [2, 4, 8]
    assert report["index"]["n"] == 60
    assert 0.0 <= report["index"]["recall_at_10"] <= 1.0
    assert "kNN regression" in (tmp_path / "s" / "REPORT.md").read_text()


def test_unknown_objective_is_refused(tmp_path) -> None:
    res = CliRunner().invoke(
        app, ["embed", "train", "--out", str(tmp_path / "x.pt"), "--objective", "vae"]
    )
    assert res.exit_code != 0
    assert "contrastive or autoencoder" in str(res.exception)
    assert not (tmp_path / "x.pt").exists()


def test_index_build_then_admin_index_build_defaults_to_the_embedder(tmp_path, monkeypatch) -> None:
    """``acie index build`` stores the embedder's vectors; ``acie admin index-build`` finds them."""
    import numpy as np

    from acie.config import get_settings
    from acie.embedding.embedder import load_default_embedder
    from acie.galaxy.simulator import GalaxySimulator

    monkeypatch.setenv("ACIE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ACIE_DATABASE_URL", raising=False)
    monkeypatch.setenv("VECTOR_BACKEND", "auto")
    get_settings.cache_clear()
    images = GalaxySimulator().sample(3, seed=9).images
    np.save(tmp_path / "c.npy", images)
    rows = [f"g{i},{0.1 * i},{10.0 + i},{-5.0 + i},DES,DECam" for i in range(3)]
    (tmp_path / "c.csv").write_text("id,redshift,ra,dec,survey,instrument\n" + "\n".join(rows))
    runner = CliRunner()
    try:
        res = runner.invoke(
            app,
            [
                "index",
                "build",
                str(tmp_path / "c.csv"),
                "--images",
                str(tmp_path / "c.npy"),
                "--json",
            ],
        )
        assert res.exit_code == 0, res.output
        assert json.loads(res.output.strip().splitlines()[-1])["dim"] == load_default_embedder().dim
        url = f"sqlite:///{tmp_path / 'data' / 'acie.sqlite3'}"
        res = runner.invoke(app, ["admin", "index-build", "--url", url, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output.strip().splitlines()[-1])["n"] == 3
    finally:
        get_settings.cache_clear()
