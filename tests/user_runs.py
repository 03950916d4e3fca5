"""Run what users run, the way they run it: doc code blocks and example scripts.

Used by ``tests/test_docs.py`` and ``tests/test_examples.py``.

* **Python blocks** run with the project's Python in a fresh, empty working directory.
* **Shell blocks and examples** run with ``bash`` (``python examples/x.py`` for an
  example) in a *mirror* of the project folder: a fresh directory holding a symbolic
  link to every top-level entry of the repository (``examples``, ``.venv``, ``src`` …)
  except ``.git`` and ``out``. Commands that name ``examples/…`` or ``.venv/bin/acie``
  work as they do in the project folder, and the mirror shows what a command left in the
  user's working directory.
* Every run gets ``.venv/bin`` first on ``PATH``, ``ACIE_DATA_DIR`` in a temporary folder,
  ``MPLBACKEND=Agg``, and its own process group, killed afterwards (so ``acie serve &``
  never outlives its block).
* **Output hygiene**: after the run, the working directory may have gained only ``out/``,
  and ``git status`` of the repository may show no new file.
* **Live servers**: the default ports of the commands (REST 8000, gRPC 50051, ops report
  9108) are replaced in the script by free ports, which are also exported as
  ``HTTP_PORT`` and ``GRPC_PORT`` (the settings ``acie serve`` reads). With
  ``server=True`` an ``acie serve`` is started on those ports first and waited for.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
ALLOWED_OUTPUT = "out"  # the one folder a command may create in the working directory
DEFAULT_PORTS = {8000: "HTTP_PORT", 50051: "GRPC_PORT", 9108: None}
_NOT_MIRRORED = {".git", ALLOWED_OUTPUT}
NESTED = "ACIE_RUNNING_USER_CODE"  # set in every run: a doc block must not run the suite


@dataclass
class Run:
    """The result of one run: exit status, output, and what it left behind."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    stray: list[str] = field(default_factory=list)  # new entries in the working directory
    new_in_repo: list[str] = field(default_factory=list)  # new files in `git status`
    cwd: Path | None = None

    def report(self) -> str:
        """A readable account for an assertion message."""
        return (
            f"$ {self.command}\n(exit status {self.returncode}, {self.seconds:.1f} s)\n"
            f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-6000:]}"
        )

    def check(self) -> None:
        """Fail (``AssertionError``) unless the run succeeded and left nothing behind."""
        assert self.returncode == 0, self.report()
        assert not self.stray, (
            f"left {self.stray} in the working directory; write outputs under "
            f"{ALLOWED_OUTPUT}/ (or a temporary folder)\n" + self.report()
        )
        assert not self.new_in_repo, (
            f"created {self.new_in_repo} in the repository\n" + self.report()
        )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git_new_files() -> set[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line[3:] for line in out.splitlines() if line.startswith("??")}


@contextlib.contextmanager
def mirror(tmp: Path) -> Iterator[Path]:
    """A working directory that looks like the project folder (see the module docstring)."""
    cwd = tmp / "project"
    cwd.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in _NOT_MIRRORED:
            (cwd / entry.name).symlink_to(entry)
    yield cwd


def base_env(data_dir: Path) -> dict[str, str]:
    """The environment of every run (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("COV_CORE_SOURCE", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ACIE_DATA_DIR"] = str(data_dir)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_DRY_RUN"] = "1"  # the mirror links the real .venv: a block may not change it
    env[NESTED] = "1"
    for name in ("ACIE_SETTINGS_FILE", "COLUMNS", "LINES"):  # tables are 80 wide, as in a pipe
        env.pop(name, None)
    return env


def substitute_ports(script: str, env: dict[str, str]) -> str:
    """Replace the commands' default ports by free ones (exported as HTTP_PORT, GRPC_PORT)."""
    for default, variable in DEFAULT_PORTS.items():
        if not re.search(rf"(?<![\d.]){default}(?!\d)", script) and variable is None:
            continue
        port = free_port()
        if variable:
            env[variable] = str(port)
        script = re.sub(rf"(?<![\d.]){default}(?!\d)", str(port), script)
    return script


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # anyone left in the group?
            except ProcessLookupError:
                return
            time.sleep(0.1)


def wait_for_health(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; ``TimeoutError`` (with the server's exit) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before {url}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def acie_server(cwd: Path, env: dict[str, str], timeout: float = 180) -> Iterator[None]:
    """``acie serve`` on ``env``'s HTTP_PORT/GRPC_PORT, healthy on entry, stopped on exit."""
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "acie"), "serve"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                wait_for_health(f"http://127.0.0.1:{env['HTTP_PORT']}/healthz", timeout, proc)
            except (TimeoutError, RuntimeError) as exc:
                log.seek(0)
                raise AssertionError(
                    f"acie serve did not start: {exc}\n{log.read()[-4000:]}"
                ) from None
            yield
        finally:
            _kill_group(proc)
            proc.wait(timeout=10)


def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    display: str,
    stdin: str | None = None,
) -> Run:
    """Run ``argv`` in its own process group; record output and what it left behind."""
    before_cwd = {p.name for p in cwd.iterdir()}
    before_repo = _git_new_files()
    start = time.monotonic()
    # files, not pipes: a background job (`acie serve &`) keeps a pipe open after its
    # shell has exited, and reading a pipe to its end would wait for the job
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out_f,
            stderr=err_f,
            text=True,
            start_new_session=True,
        )
        note = ""
        try:
            if stdin is not None:
                assert proc.stdin is not None
                proc.stdin.write(stdin)
                proc.stdin.close()
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            note, code = f"\n[timed out after {timeout:.0f} s]", -1
        finally:
            _kill_group(proc)  # background jobs (`acie serve &`) die with their block
            proc.wait(timeout=10)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read() + note
    seconds = time.monotonic() - start
    stray = sorted({p.name for p in cwd.iterdir()} - before_cwd - {ALLOWED_OUTPUT})
    new = sorted(_git_new_files() - before_repo)
    return Run(display, code, out, err, seconds, stray, new, cwd)


def run_python(code: str, *, tmp: Path, name: str, timeout: float) -> Run:
    """Run Python source in a fresh empty working directory with the project's Python."""
    scripts, cwd, data = tmp / "scripts", tmp / "cwd", tmp / "data"
    for d in (scripts, cwd, data):
        d.mkdir()
    script = scripts / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.py"
    script.write_text(code)
    return run(
        [PYTHON, str(script)],
        cwd=cwd,
        env=base_env(data),
        timeout=timeout,
        display=f"python {name}",
    )


def run_bash(script: str, *, tmp: Path, name: str, timeout: float, server: bool = False) -> Run:
    """Run a shell script with ``bash -e -o pipefail`` in a mirror of the project folder."""
    data = tmp / "data"
    data.mkdir()
    env = base_env(data)
    script = substitute_ports(script, env)
    if server and "HTTP_PORT" not in env:
        env["HTTP_PORT"], env["GRPC_PORT"] = str(free_port()), str(free_port())
    with mirror(tmp) as cwd:
        ctx = acie_server(cwd, env) if server else contextlib.nullcontext()
        with ctx:
            return run(
                ["bash", "-e", "-o", "pipefail", "-s"],
                cwd=cwd,
                env=env,
                timeout=timeout,
                display=f"bash <<'{name}'\n{script}",
                stdin=script,
            )
