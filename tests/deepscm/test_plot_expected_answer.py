"""``scripts/plot_expected_answer.py`` as typed: a figure and its JSON summary."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plot_expected_answer.py"


def test_script_writes_the_figure_and_summary(tmp_path):
    out = tmp_path / "fig" / "ea.png"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--n", "12", "--batch", "6", "--draws", "4"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = json.loads(out.with_suffix(".json").read_text())
    assert s["n"] == 12
    assert set(s["answers"]) == {"point", "expected, 4 draws"}
    for a in s["answers"].values():
        assert a["median"]["n"] + a["refused"] == 12
        assert 0 <= a["median"]["value"] <= a["p95"]["value"] < 1.0
    assert "point: 12/12" in run.stdout  # progress is shown
