"""The container image's Dockerfile and .dockerignore (no Docker engine needed)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def stages(ins):
    """The instructions of each FROM stage, keyed by stage name."""
    result, current = {}, None
    for word, rest in ins:
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            current = m.group(2) or f"stage{len(result)}"
            result[current] = [(word, rest)]
        elif current is not None:
            result[current].append((word, rest))
    return result


INS = instructions((ROOT / "Dockerfile").read_text())
STAGES = stages(INS)
FINAL = list(STAGES.values())[-1]


def test_multi_stage_and_the_runtime_copies_only_the_built_environment():
    assert len(STAGES) >= 2, STAGES.keys()
    assert "builder" in STAGES
    copies = [rest for word, rest in FINAL if word == "COPY"]
    assert copies
    assert all(c.startswith("--from=builder") for c in copies), copies
    builder_runs = " ".join(rest for word, rest in STAGES["builder"] if word == "RUN")
    assert "[serve,production,ml" in builder_runs
    assert "download.pytorch.org/whl/cpu" in builder_runs  # CPU torch, no CUDA libraries


def test_base_image_is_pinned_to_a_patch_release():
    args = dict(rest.split("=", 1) for word, rest in INS if word == "ARG" and "=" in rest)
    for word, rest in INS:
        if word != "FROM":
            continue
        image = rest.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        _name, _, tag = image.partition(":")
        assert "@sha256:" in image or re.match(r"\d+\.\d+\.\d+", tag), image
        assert tag != "latest"


def test_runs_as_a_non_root_user():
    users = [rest for word, rest in FINAL if word == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit()
    assert int(user) >= 1000


def test_healthcheck_asks_the_grpc_health_service():
    checks = [rest for word, rest in FINAL if word == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "acie.serve.healthcheck" in checks[0]
    assert (ROOT / "src/acie/serve/healthcheck.py").exists()
    cmd = [rest for word, rest in FINAL if word == "CMD"][-1]
    assert '"acie", "serve"' in cmd
    exposed = " ".join(rest for word, rest in FINAL if word == "EXPOSE").split()
    assert {"8000", "50051"} <= set(exposed)


def test_no_secrets_in_the_image_definition():
    text = (ROOT / "Dockerfile").read_text()
    assert "BEGIN" not in text
    assert "PRIVATE KEY" not in text
    for word, rest in INS:
        if word in {"ENV", "ARG"}:
            for name in re.findall(r"([A-Z_]+)=", rest):
                assert not re.search(r"SECRET|PASSWORD|TOKEN|_KEY$|API_KEY", name), (word, name)


def test_dockerignore_admits_only_what_the_build_copies():
    lines = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "**"  # everything excluded by default: no .venv, .git, out/, keys
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = set()
    for word, rest in STAGES["builder"]:
        if word == "COPY" and not rest.startswith("--from"):
            copied.update(p.rstrip("/").removeprefix("./") for p in rest.split()[:-1])
    assert copied <= allowed, copied - allowed
    for path in allowed:
        assert (ROOT / path).exists(), path


def test_the_shipped_model_is_package_data():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["*"]
    assert "*.pt" in patterns
    assert (ROOT / "src/acie/deepscm/data/default.pt").stat().st_size > 0
    assert "otel" in cfg["project"]["optional-dependencies"]
