"""ACIEr, the R package (``r/ACIEr``), run from pytest: testthat, R CMD check, ```r doc blocks.

* ``test_testthat_local_and_served``: the package's testthat suite (``test_local``, from
  the sources) with an ``acie serve`` of its own on free ports and a token minted by
  ``acie auth token``: samples, sensitivity analyses equal to ``acie.analysis``'s
  (1e-12 relative), lme4 against ``acie.analysis``'s mixed model (1e-4 relative),
  counterfactuals over gRPC, jobs over REST, engine errors as R conditions. No
  ``ACIE_PYTHON``: the package finds the project's virtualenv from the working directory.
  A testthat failure, error or skip fails this test.
* ``test_r_doc_blocks`` (slow, as the other doc blocks): every ```r block of README.md and docs/*.md, run by ``Rscript``
  in a mirror of the project (``tests/user_runs.py``) with ACIEr installed from the
  sources; the default ports 50051 and 8000 in a block are replaced by this server's.
* ``test_r_cmd_check_is_clean`` (also marked slow: about 40 s of CPU, 2-3 min on a busy
  machine): ``R CMD build`` and ``R CMD check --no-manual`` have no ERROR or WARNING;
  examples, tests and the vignette run against the engine (``ACIE_PYTHON``).

R comes from Debian's packages (``make setup-r``, which ``make test`` runs); without R
these tests skip (and so fail under ``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import user_runs
from doc_blocks import doc_files, parse

pytestmark = pytest.mark.r

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "r" / "ACIEr"
RSCRIPT = shutil.which("Rscript")
R = shutil.which("R")
PYTHON = str(REPO / ".venv" / "bin" / "python")


def _need_r() -> None:
    if RSCRIPT is None or R is None:
        pytest.skip("R is not installed (make setup-r installs it from Debian's packages)")


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float):
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``acie serve`` (the shipped model) on free ports; its environment, with a token."""
    _need_r()
    tmp = tmp_path_factory.mktemp("acier-server")
    env = user_runs.base_env(tmp / "data")
    env.pop("ACIE_PYTHON", None)
    env["HTTP_PORT"], env["GRPC_PORT"] = str(user_runs.free_port()), str(user_runs.free_port())
    acie = str(REPO / ".venv" / "bin" / "acie")
    with (tmp / "serve.log").open("w") as log:
        proc = subprocess.Popen(  # a short drain and grace: the module ends sooner
            [acie, "serve", "--drain", "0.2", "--grace", "1"],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                user_runs.wait_for_health(f"http://127.0.0.1:{env['HTTP_PORT']}/healthz", 180, proc)
            except (TimeoutError, RuntimeError) as exc:
                raise AssertionError(f"{exc}\n{(tmp / 'serve.log').read_text()[-4000:]}") from None
            token = _run([acie, "auth", "token", "--sub", "r-tests"], cwd=tmp, env=env, timeout=60)
            assert token.returncode == 0, token.stderr
            env["ACIE_TOKEN"] = token.stdout.strip().splitlines()[-1]
            yield env
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def r_library(tmp_path_factory):
    """A library with ACIEr installed from the sources (so docs run the code under test)."""
    _need_r()
    lib = tmp_path_factory.mktemp("R-library")
    out = _run([R, "CMD", "INSTALL", "-l", str(lib), str(PACKAGE)], cwd=lib, env=None, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return lib


_TESTTHAT = """
res <- as.data.frame(testthat::test_local("r/ACIEr", stop_on_failure = FALSE,
                                          reporter = testthat::ProgressReporter$new()))
bad <- res[res$failed > 0 | res$error | res$skipped, c("file", "test")]
cat(sprintf("ACIER-TESTS %d %d\\n", nrow(res), nrow(bad)))
if (nrow(bad) > 0) print(bad)
quit(status = if (nrow(bad) > 0) 1 else 0)
"""


def test_testthat_local_and_served(server):
    env = dict(server)
    env["ACIER_TEST_HOST"] = "127.0.0.1"
    env["ACIER_TEST_GRPC_PORT"] = env["GRPC_PORT"]
    env["ACIER_TEST_HTTP_PORT"] = env["HTTP_PORT"]
    out = _run([RSCRIPT, "-e", _TESTTHAT], cwd=REPO, env=env, timeout=540)
    log = out.stdout[-8000:] + out.stderr[-8000:]
    assert out.returncode == 0, log
    m = re.search(r"ACIER-TESTS (\d+) 0", out.stdout)
    assert m, log
    assert int(m[1]) >= 10, log  # every test ran: none was skipped or lost


def _r_blocks():
    blocks = [b for f in doc_files() for b in parse(f) if b.lang == "r"]
    return [pytest.param(b, id=b.name) for b in blocks]


@pytest.mark.slow  # as tests/test_docs.py runs doc blocks: each starts R, Python and the stack
@pytest.mark.parametrize("block", _r_blocks())
def test_r_doc_blocks(block, server, r_library, tmp_path):
    code = block.code
    if "continues" in block.options:
        earlier = [b for b in parse(block.path) if b.lang == "r" and b.line < block.line]
        assert earlier, f"{block.name}: 'continues' but no earlier r block"
        code = earlier[-1].code + "\n" + code
    # the default ports of the commands are this server's
    code = re.sub(r"(?<![\d.])50051(?!\d)", server["GRPC_PORT"], code)
    code = re.sub(r"(?<![\d.])8000(?!\d)", server["HTTP_PORT"], code)
    env = dict(server)
    env["R_LIBS"] = str(r_library)
    script = tmp_path / "block.R"
    # plots a block does not save go to a null device (Rscript would write Rplots.pdf)
    script.write_text("grDevices::pdf(NULL)\n" + code)
    with user_runs.mirror(tmp_path) as cwd:
        run = user_runs.run(
            [RSCRIPT, str(script)], cwd=cwd, env=env, timeout=block.timeout, display=block.name
        )
    run.check()


@pytest.mark.slow
def test_r_cmd_check_is_clean(tmp_path):
    _need_r()
    env = user_runs.base_env(tmp_path / "data")
    env["ACIE_PYTHON"] = PYTHON  # the check runs in a temporary folder outside the project
    env["_R_CHECK_FORCE_SUGGESTS_"] = "true"
    built = _run([R, "CMD", "build", str(PACKAGE)], cwd=tmp_path, env=env, timeout=300)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    tarball = next(tmp_path.glob("ACIEr_*.tar.gz"))
    checked = _run(
        [R, "CMD", "check", "--no-manual", "--no-build-vignettes", tarball.name],
        cwd=tmp_path,
        env=env,
        timeout=500,
    )
    log = (tmp_path / "ACIEr.Rcheck" / "00check.log").read_text()
    status = re.search(r"^Status: (.*)$", checked.stdout, re.MULTILINE)
    assert status, checked.stdout[-4000:] + checked.stderr[-4000:]
    assert "ERROR" not in status[1], log[-6000:]
    assert "WARNING" not in status[1], log[-6000:]
    assert "* checking tests ... OK" in log, log[-6000:]  # testthat ran and passed
    assert re.search(r"from vignettes \.\.\. NONE\s+‘ACIEr\.Rmd’ using ‘UTF-8’\.\.\. OK", log), log[
        -6000:
    ]
