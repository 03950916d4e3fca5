"""Every script in examples/ runs as the docs say (``python examples/NAME.py``).

Each runs from (a mirror of) the project folder with the project's Python, writes only
under ``out/``, and prints what ``EXAMPLES`` expects: a regular expression per line of
interest, with numbers captured and checked. A new example runs with no arguments until
it gets an entry. Examples that talk to a server get ``acie serve`` on free ports (the
clients read ``HTTP_PORT``/``GRPC_PORT`` like the server). All are ``slow``: each imports
the stack and most simulate or fit something (2-60 s).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import user_runs

EXAMPLES_DIR = user_runs.REPO / "examples"


@dataclass(frozen=True)
class Example:
    """How to run one example and what it must print and write."""

    args: tuple[str, ...] = ()
    server: bool = False
    writes: tuple[str, ...] = ()  # files under the working directory, e.g. "out/x.png"
    # (regex with groups, check of the groups) applied to stdout
    prints: tuple[tuple[str, Callable[..., bool] | None], ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 540.0


def _all_true(*groups: str) -> bool:
    return all(g == "True" for g in groups)


def _floats(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?", text)]


EXAMPLES: dict[str, Example] = {
    "galaxy_counterfactual.py": Example(
        writes=("out/galaxy_counterfactual.png",),
        prints=(
            # doubled stellar mass: +log10(2) for every galaxy
            (
                r"log_stellar_mass\s+change: \[([^\]]*)\]",
                lambda g: all(abs(x - 0.301) < 1e-3 for x in _floats(g)),
            ),
            (r"halo mass unchanged: (True)", _all_true),
            (r"physics check passed in (\d+) projection steps", lambda g: int(g) >= 0),
        ),
    ),
    "galaxy_physics.py": Example(
        prints=(
            # sigma 0.25 dex above virial: above the 0.05 dex tolerance for every galaxy
            (
                r"virial score \[dex\]: \[([^\]]*)\]",
                lambda g: len(_floats(g)) == 5 and all(0.05 < x < 0.5 for x in _floats(g)),
            ),
            (r"fixed by the causal rule: .*velocity_dispersion", None),
            (r"letting the other properties move: (converged) in \d+ steps", None),
            (
                r"refused \(score=([\d.]+) dex, tolerance=([\d.]+)\)",
                lambda s, t: float(s) > float(t),
            ),
        ),
    ),
    "causal_galaxy_dose_response.py": Example(
        writes=("out/causal_dose_response.png",),
        prints=(
            (r"adjustment set for log_stellar_mass -> colour_gr: \[.*'log_halo_mass'.*\]", None),
            # the doubly robust slope agrees with the closed form within 3 standard errors
            (
                r"slope at 10.5: ([-\d.]+) ± ([\d.]+) mag/dex \(closed form ([-\d.]+)\)",
                lambda est, se, exact: abs(float(est) - float(exact)) <= 3 * float(se) + 1e-3,
            ),
        ),
    ),
    "deepscm_double_stellar_mass.py": Example(
        writes=(
            "out/deepscm_double_stellar_mass.png",
            "out/deepscm_double_stellar_mass.pdf",
            "out/deepscm_double_stellar_mass_truth.png",
        ),
        prints=(
            (r"watermark detected: \[([^\]]*)\]", lambda g: g.split() == ["True"] * 4),
            # the intervened node is set exactly, as in the simulator's counterfactual
            (
                r"log_stellar_mass .* model cf \[([^\]]*)\]  true cf \[([^\]]*)\]",
                lambda model, true: _floats(model) == _floats(true),
            ),
        ),
    ),
    "analysis_hierarchical.py": Example(writes=("out/analysis_hierarchical.png",)),
    "analysis_response.py": Example(writes=("out/analysis_response.png",)),
    "analysis_selection.py": Example(),
    "blind_inference.py": Example(args=("--bits", "1024", "--galaxies", "4")),
    "client_grpc.py": Example(server=True),
    "client_rest.py": Example(server=True, writes=("out/client_rest.png",)),
    "dm_electron_reach.py": Example(),
    "dm_nuclear_spectrum.py": Example(),
}


def _scripts() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.py"))


def test_every_entry_names_an_example():
    names = {p.name for p in _scripts()}
    stale = sorted(set(EXAMPLES) - names)
    assert not stale, f"EXAMPLES entries for scripts that do not exist (renamed?): {stale}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            p,
            id=p.name,
            marks=pytest.mark.timeout(EXAMPLES.get(p.name, Example()).timeout + 240),
        )
        for p in _scripts()
    ],
)
def test_example_runs(script: Path, tmp_path):
    assert not os.environ.get(user_runs.NESTED), "an example ran the test suite"
    spec = EXAMPLES.get(script.name, Example())
    data = tmp_path / "data"
    data.mkdir()
    env = {**user_runs.base_env(data), **spec.env}
    with user_runs.mirror(tmp_path) as cwd:
        if spec.server:
            env["HTTP_PORT"], env["GRPC_PORT"] = (
                str(user_runs.free_port()),
                str(user_runs.free_port()),
            )
            with user_runs.acie_server(cwd, env):
                result = _run(script, spec, cwd, env)
        else:
            result = _run(script, spec, cwd, env)
    result.check()
    for rel in spec.writes:
        path = cwd / rel
        assert path.is_file(), f"{rel} not written\n" + result.report()
        assert path.stat().st_size > 0, f"{rel} is empty\n" + result.report()
    for pattern, check in spec.prints:
        m = re.search(pattern, result.stdout)
        assert m, f"output lacks /{pattern}/\n" + result.report()
        if check is not None:
            assert check(*m.groups()), f"unexpected values in {m.group(0)!r}\n" + result.report()


def _run(script: Path, spec: Example, cwd: Path, env: dict[str, str]) -> user_runs.Run:
    rel = script.relative_to(user_runs.REPO).as_posix()
    return user_runs.run(
        ["python", rel, *spec.args],
        cwd=cwd,
        env=env,
        timeout=spec.timeout,
        display=" ".join(["python", rel, *spec.args]),
    )
