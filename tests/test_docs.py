"""Every code block of README.md and docs/*.md runs, and its printed numbers are checked.

The conventions (which blocks run and how, ``no-test`` and ``test:`` comments, expected
output in a ``text output`` block) are in ``tests/doc_blocks.py``; how a block is run
(fresh directory, project mirror, free ports, output hygiene) in ``tests/user_runs.py``.
Running blocks is marked ``slow``: each starts a Python or a shell and imports the
stack (2-60 s); the checks of the conventions themselves are fast.

README blocks have no ``text output`` blocks (the Tour shows code only); their printed
numbers are checked by ``README_CHECKS`` below, keyed by a line of the block.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable

import pytest
import user_runs
from doc_blocks import (
    OPTIONS,
    RUN_LANGS,
    Block,
    DocFormatError,
    doc_files,
    output_mismatch,
    parse,
)


def _all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in parse(f)]


BLOCKS = _all_blocks()
RUNNABLE = [b for b in BLOCKS if b.runs_as and b.no_test is None]


def _floats(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"[-+]?\d+\.\d*(?:[eE][-+]?\d+)?", text)]


def _check_causal(out: str) -> None:
    from acie.causal import galaxy_interventional_means

    lines = out.strip().splitlines()
    exact = galaxy_interventional_means(11.0)["colour_gr"]
    assert float(lines[0]) == pytest.approx(exact, abs=0.005)  # Monte Carlo, 10^5 draws
    assert lines[1].split() == [
        "log_halo_mass", "merger", "log_stellar_mass", "log_sfr", "abs_mag_r", "colour_gr"
    ]  # fmt: skip
    m = re.fullmatch(r"\['log_halo_mass'\] AIPW \(EIF\): ATE = ([\d.]+) ± ([\d.]+) .*", lines[-1])
    assert m, lines[-1]
    assert abs(float(m[1]) - 0.5) < 3 * float(m[2])  # the merger boost of the model: 0.5 dex


def _check_galaxy(out: str) -> None:
    lines = out.strip().splitlines()
    d_sigma = _floats(lines[0])
    assert len(d_sigma) == 4, lines[0]
    assert all(x > 0 for x in d_sigma), lines[0]  # more stars: a larger σ
    scores = _floats(" ".join(lines[1:]))
    assert len(scores) == 4, lines[1:]
    assert all(s >= 0 for s in scores), lines[1:]


def _check_deepscm(out: str) -> None:
    assert out.startswith("(4, 3, 64, 64) ")
    assert out.strip().endswith("[ True  True  True  True]"), "the watermark is detected"


def _check_privacy(out: str) -> None:
    assert _floats(out) == pytest.approx([4.6], abs=1e-6)


def _check_platform(out: str) -> None:
    assert "COMPLETE {'y': 9}" in out


# a line of the README block -> a check of its stdout
README_CHECKS: dict[str, Callable[[str], None]] = {
    "scm = galaxy_scm()": _check_causal,
    "print(violation_score(cf.physics_inputs()))": _check_galaxy,
    "engine = load_default_model()": _check_deepscm,
    "pk, sk = generate_keypair(2048)": _check_privacy,
    'queue.submit("req-1"': _check_platform,
}


def _readme_check(block: Block) -> Callable[[str], None] | None:
    if block.path.name != "README.md":
        return None
    found = [check for key, check in README_CHECKS.items() if key in block.code]
    return found[0] if found else None


# --- the conventions (fast) ---


def test_every_doc_parses():
    problems = []
    for f in doc_files():
        try:
            parse(f)
        except DocFormatError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_every_block_says_what_it_is():
    untagged = [b.name for b in BLOCKS if not b.lang]
    assert not untagged, (
        "blocks without an info string (say ```text, ```python, ```bash ...): "
        + ", ".join(untagged)
    )


def test_no_test_comments_give_a_reason_and_stay_few():
    skipped = [(b.name, b.no_test) for b in BLOCKS if b.no_test is not None]
    assert all(reason and len(reason.split()) >= 3 for _, reason in skipped), skipped
    assert all(b.runs_as for b in BLOCKS if b.no_test is not None), (
        "no-test on a block that never runs"
    )
    assert len(skipped) <= 6, f"{len(skipped)} blocks are not run: {skipped}"


def test_test_options_are_known():
    unknown = [(b.name, k) for b in BLOCKS for k in b.options if k not in OPTIONS]
    assert not unknown, unknown
    for b in BLOCKS:
        if "continues" in b.options:
            b.script()  # raises DocFormatError without an earlier block


def test_python_blocks_are_python():
    bad = []
    for b in RUNNABLE:
        if b.runs_as == "python":
            try:
                ast.parse(b.script())
            except SyntaxError as exc:
                bad.append(f"{b.name}: {exc}")
    assert not bad, "\n".join(bad)


def test_every_readme_check_finds_its_block():
    readme = [b for b in BLOCKS if b.path.name == "README.md" and b.runs_as]
    missing = [key for key in README_CHECKS if not any(key in b.code for b in readme)]
    assert not missing, f"README_CHECKS keys that match no README block (update them): {missing}"


# --- the matcher and the parser on samples (fast) ---


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ("0.537", "0.5371", True),
        ("0.537", "0.539", False),
        ("[0.1 -0.2]", "[ 0.1  -0.2 ]", True),  # whitespace is ignored
        ("count 9", "count 10", False),  # integers match exactly
        ("1.23e-39", "1.2304e-39", True),
        ("1.23e-39", "1.30e-39", False),
        ("first\n...\nlast 2.0", "first\nanything\nat all\nlast 2.0", True),
        ("a ... c", "a c", True),
        ("a b", "a b c", False),  # nothing may follow
        ("nan", "nan", True),
        ("3.0", "three", False),
    ],
)
def test_output_matching(expected, actual, ok):
    assert (output_mismatch(expected, actual) is None) is ok


def test_output_matching_rtol():
    assert output_mismatch("100.0", "104.0", rtol=0.05) is None
    assert output_mismatch("100.0", "106.0", rtol=0.05) is not None


def test_parser_reads_comments_options_and_output(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Intro\n\n<!-- no-test: needs a GPU cluster -->\n```bash\nnvidia-smi\n```\n\n"
        "<!-- test: server timeout=60 -->\n```sh\ncurl x\n```\n"
        "```python\nprint(1.5)\n```\n\n```text output rtol=0.1\n1.6\n```\n"
        "<!-- test: continues -->\n```py\nprint(2)\n```\n"
        "  ```json\n  {}\n  ```\n"
    )
    b = parse(doc)
    assert [x.lang for x in b] == ["bash", "sh", "python", "text", "py", "json"]
    assert b[0].no_test == "needs a GPU cluster"
    assert b[0].runs_as == "bash"
    assert b[1].options == {"server": "", "timeout": "60"}
    assert b[1].timeout == 60
    assert b[2].expected == "1.6\n"
    assert b[2].rtol == 0.1
    assert b[2].name == "doc.md:12"
    assert b[4].script() == "print(1.5)\n\nprint(2)\n"
    assert b[5].code == "{}\n"
    assert set(RUN_LANGS.values()) == {"python", "bash"}


def test_parser_refuses_an_orphan_output_block(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("```python\nprint(1)\n```\nsome prose\n```text output\n1\n```\n")
    with pytest.raises(DocFormatError, match="must directly follow"):
        parse(doc)


# --- running the blocks (slow) ---


def _check_output(block: Block, stdout: str) -> None:
    if block.expected is not None:
        why = output_mismatch(block.expected, stdout, block.rtol)
        assert why is None, (
            f"{block.name}: {why}\n--- expected ---\n{block.expected}\n--- got ---\n{stdout}"
        )
    check = _readme_check(block)
    if check is not None:
        check(stdout)


@pytest.mark.slow
@pytest.mark.parametrize(
    "block",
    [pytest.param(b, id=b.name, marks=pytest.mark.timeout(b.timeout + 60)) for b in RUNNABLE],
)
def test_doc_block_runs(block: Block, tmp_path):
    assert not os.environ.get(user_runs.NESTED), "a doc block ran the test suite"
    if block.runs_as == "python":
        result = user_runs.run_python(
            block.script(), tmp=tmp_path, name=block.name, timeout=block.timeout
        )
    else:
        result = user_runs.run_bash(
            block.script(),
            tmp=tmp_path,
            name=block.name,
            timeout=block.timeout,
            server="server" in block.options,
        )
    result.check()
    _check_output(block, result.stdout)
