"""The code blocks of README.md and docs/*.md, as ``tests/test_docs.py`` runs them.

Conventions for writers of the docs:

* Fenced blocks tagged ``python`` (``py``) run with the project's Python in a fresh
  empty directory; blocks tagged ``bash`` (``sh``, ``shell``) run with ``bash -e`` from
  the project folder (see ``tests/user_runs.py``). Every other block says what it is in
  its info string (``text``, ``json``, ``yaml``, ``console`` …) and is not run here; a
  block without an info string is an error. (``r`` blocks run with ``Rscript`` in
  ``tests/r/test_acier.py``, marked ``r``, against an ``acie serve`` of its own.)
* A block that is not meant to run says why, in an HTML comment on the line(s) directly
  above it: ``<!-- no-test: needs a GPU cluster -->``. Keep these few.
* Options for a block that runs, in the same place: ``<!-- test: server -->`` starts
  ``acie serve`` (free ports) before the block; ``<!-- test: continues -->`` runs the
  previous block of the same language first, in the same process; ``<!-- test:
  timeout=900 -->`` raises the time limit (seconds, default 540).
* The expected output of a block is a block tagged ``text output`` directly after it
  (blank lines between are allowed). Numbers match within ``rtol`` (default 1e-3) or one
  unit of their last printed digit, whichever is larger; integers match exactly; a
  ``...`` matches anything (several lines, too); whitespace is ignored. Set the
  tolerance in the info string: ``text output rtol=0.05``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_LANGS = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
OPTIONS = {"server", "continues", "timeout"}
DEFAULT_TIMEOUT = 540.0
DEFAULT_RTOL = 1e-3

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_COMMENT = re.compile(r"^\s*<!--\s*(?P<body>.*?)\s*-->\s*$")
_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])|[-+]?(?:nan|inf)(?!\w)"
_TOKEN = re.compile(rf"\.\.\.|{_NUMBER}|\w+|\S")


class DocFormatError(ValueError):
    """A doc's block or directive that the conventions above do not allow."""


@dataclass
class Block:
    """One fenced block of a markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    code: str
    comments: list[str] = field(default_factory=list)  # HTML comments directly above
    expected: str | None = None  # the following `text output` block
    rtol: float = DEFAULT_RTOL
    previous: Block | None = None  # the block run first, for `continues`

    @property
    def lang(self) -> str:
        """The first word of the info string, lower case ('' when there is none)."""
        return self.info.split()[0].lower() if self.info.split() else ""

    @property
    def runs_as(self) -> str | None:
        """``"python"``, ``"bash"``, or None for a block that is not run."""
        return RUN_LANGS.get(self.lang)

    @property
    def name(self) -> str:
        """``README.md:64``, for test ids and messages."""
        path = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{path.as_posix() if path != self.path else self.path.name}:{self.line}"

    @property
    def no_test(self) -> str | None:
        """The reason given in a ``no-test`` comment, else None."""
        for c in self.comments:
            if c.startswith("no-test"):
                return c.partition(":")[2].strip()
        return None

    @property
    def options(self) -> dict[str, str]:
        """The ``test:`` options (``{"server": "", "timeout": "900"}``)."""
        found: dict[str, str] = {}
        for c in self.comments:
            if c.startswith("test:"):
                for word in c.partition(":")[2].split():
                    key, _, value = word.partition("=")
                    found[key] = value
        return found

    @property
    def timeout(self) -> float:
        """Time limit of the run in seconds."""
        return float(self.options.get("timeout") or DEFAULT_TIMEOUT)

    def script(self) -> str:
        """The code to run: the previous blocks' first when this one ``continues``."""
        if "continues" in self.options:
            if self.previous is None:
                raise DocFormatError(f"{self.name}: 'continues' but no earlier {self.lang} block")
            return self.previous.script() + "\n" + self.code
        return self.code


def parse(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, with its comments and expected output."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise DocFormatError(f"{path.name}:{i + 1}: the block is never closed")
        body = [
            ln[len(indent) :] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1 : j]
        ]
        comments = []
        k = i - 1
        while k >= 0 and (not lines[k].strip() or _COMMENT.match(lines[k])):
            if lines[k].strip():
                comments.insert(0, _COMMENT.match(lines[k])["body"])
            elif comments:
                break  # a blank line above the comments ends them
            k -= 1
        blocks.append(Block(path, i + 1, info, "\n".join(body) + "\n", comments))
        i = j + 1
    _link(blocks, lines)
    return blocks


def _link(blocks: list[Block], lines: list[str]) -> None:
    """Attach each ``text output`` block to the block before it; chain ``continues``."""
    last: dict[str, Block] = {}
    for prev, block in zip([None, *blocks], blocks, strict=False):
        words = block.info.split()
        if words[:1] == ["text"] and "output" in words[1:]:
            if prev is None or prev.runs_as is None or _text_between(prev, block, lines):
                raise DocFormatError(
                    f"{block.name}: a 'text output' block must directly follow "
                    "a python or bash block"
                )
            prev.expected = block.code
            for w in words[1:]:
                if w.startswith("rtol="):
                    prev.rtol = float(w.partition("=")[2])
        if block.runs_as:
            block.previous = last.get(block.runs_as)
            last[block.runs_as] = block


def _text_between(prev: Block, block: Block, lines: list[str]) -> bool:
    """Whether anything but blank lines lies between ``prev``'s closing fence and ``block``."""
    closing = prev.line + prev.code.count("\n")  # 0-based index of prev's closing fence
    return any(ln.strip() for ln in lines[closing + 1 : block.line - 1])


def doc_files() -> list[Path]:
    """README.md and every docs/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _is_number(token: str) -> bool:
    return re.fullmatch(_NUMBER, token) is not None


def _decimals(token: str) -> int:
    mantissa = re.split("[eE]", token)[0]
    return len(mantissa.partition(".")[2]) if "." in mantissa else 0


def _number_matches(expected: str, actual: str, rtol: float) -> bool:
    if not _is_number(actual):
        return False
    e, a = float(expected), float(actual)
    if math.isnan(e) or math.isnan(a):
        return math.isnan(e) and math.isnan(a)
    if re.fullmatch(r"[-+]?\d+", expected) and re.fullmatch(r"[-+]?\d+", actual):
        return e == a
    exponent = int(re.split("[eE]", expected)[1]) if re.search("[eE]", expected) else 0
    last_digit = 10.0 ** (exponent - _decimals(expected))
    return abs(e - a) <= max(rtol * max(abs(e), abs(a)), last_digit)


def _token_matches(expected: str, actual: str, rtol: float) -> bool:
    if _is_number(expected):
        return _number_matches(expected, actual, rtol)
    return expected == actual


def output_mismatch(expected: str, actual: str, rtol: float = DEFAULT_RTOL) -> str | None:
    """None when ``actual`` matches ``expected`` (rules in the module docstring), else why not."""
    exp, act = _tokens(expected), _tokens(actual)
    reach = {0}  # positions in `act` reachable after matching a prefix of `exp`
    for n, tok in enumerate(exp):
        if tok == "...":
            reach = set(range(min(reach), len(act) + 1))
        else:
            reach = {j + 1 for j in reach if j < len(act) and _token_matches(tok, act[j], rtol)}
        if not reach:
            context = " ".join(exp[max(0, n - 8) : n + 1])
            return f"the output differs at the expected token {tok!r} (after: {context!r})"
    if len(act) not in reach:
        extra = " ".join(act[max(reach) : max(reach) + 12])
        return f"the output goes on after the expected text: {extra!r}"
    return None
