import subprocess
import sys

import pytest
from typer.testing import CliRunner

from acie import __version__
from acie.cli.main import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize(
    "group", ["dm", "causal", "galaxy", "model", "keys", "auth", "ops", "admin", "serve"]
)
def test_every_group_has_help(group):
    result = runner.invoke(app, [group, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "acie", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"acie {__version__}"
