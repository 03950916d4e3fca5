"""The CI policy (``tests/ci_policy.py``): under ``CI=true`` only ``gpu`` tests may skip.

Each case runs a tiny test file in a separate pytest process that loads the plugin with
``-p ci_policy``, once with ``CI=true`` and once without, and reads the outcomes from a
JUnit XML report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ci_policy import in_ci

TESTS = Path(__file__).resolve().parent

SAMPLE = """
import pytest

def test_skips():
    pytest.skip("the widget server is down")

@pytest.mark.skipif(True, reason="no widget library")
def test_skipif():
    pass

@pytest.fixture
def needs_widget():
    pytest.importorskip("acie_no_such_module_widget")

def test_fixture_skips(needs_widget):
    pass

@pytest.mark.gpu
def test_gpu_skips():
    pytest.skip("needs CUDA")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfails():
    assert False

def test_passes():
    pass
"""

MODULE_SKIP = """
import pytest

pytest.importorskip("acie_no_such_module_gadget")

def test_never_collected():
    pass
"""


def _run(tmp_path: Path, source: str, ci: str | None) -> tuple[int, str, dict[str, str]]:
    """Run ``source`` as a test file; exit status, output and ``{test name: outcome}``."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    gpu: needs CUDA\naddopts = -p no:cacheprovider\n"
    )
    (tmp_path / "test_sample.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    if ci is not None:
        env["CI"] = ci
    xml = tmp_path / "report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ci_policy", "-p", "no:xdist", "-rA",
         f"--junitxml={xml}", "test_sample.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in {"failure", "error", "skipped"}]
        outcomes[case.get("name") or case.get("classname", "")] = kinds[0] if kinds else "passed"
    return proc.returncode, proc.stdout + proc.stderr, outcomes


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), (" yes ", True), ("", False), ("0", False),
     ("false", False), ("no", False), (None, False)],
)  # fmt: skip
def test_in_ci_reads_the_ci_variable(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_under_ci_every_skip_fails_except_gpu(tmp_path):
    rc, out, outcomes = _run(tmp_path, SAMPLE, "true")
    assert rc == 1, out
    assert outcomes["test_skips"] == "failure"
    # a skipif marker and a fixture skip in setup: reported as a setup error
    assert outcomes["test_skipif"] == "error"
    assert outcomes["test_fixture_skips"] == "error"
    assert outcomes["test_gpu_skips"] == "skipped"
    assert outcomes["test_xfails"] == "skipped"  # JUnit writes an xfail as skipped
    assert outcomes["test_passes"] == "passed"
    # the message names the skip's reason and says what to do
    assert "skipped under CI=true: the widget server is down" in out
    assert "skipped under CI=true: no widget library" in out
    assert "acie_no_such_module_widget" in out
    assert "mark it `gpu`" in out
    assert "1 xfailed" in out


def test_outside_ci_skips_are_skips(tmp_path):
    rc, out, outcomes = _run(tmp_path, SAMPLE, "false")
    assert rc == 0, out
    skipped = {"test_skips", "test_skipif", "test_fixture_skips", "test_gpu_skips"}
    assert {name for name, kind in outcomes.items() if kind == "skipped"} >= skipped
    assert "4 skipped" in out
    assert "1 xfailed" in out
    assert "1 passed" in out


def test_under_ci_a_module_that_skips_is_a_collection_error(tmp_path):
    rc, out, _ = _run(tmp_path, MODULE_SKIP, "true")
    assert rc == 2, out  # interrupted: errors during collection
    assert "skipped under CI=true" in out
    assert "acie_no_such_module_gadget" in out


def test_outside_ci_a_module_may_skip(tmp_path):
    rc, out, _ = _run(tmp_path, MODULE_SKIP, None)
    assert rc == 5, out  # no tests ran
    assert "1 skipped" in out
