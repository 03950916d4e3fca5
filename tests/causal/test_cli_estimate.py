"""`acie causal estimate` (issue 21): refusal without an adjustment set, graph checks,
encodings, estimands, IV, front-door and mediation, JSON output and diagnostics."""

import json

import numpy as np
import pandas as pd
import pytest

from acie.cli.main import main


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["acie", "causal", "estimate", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture
def confounded(tmp_path):
    rng = np.random.default_rng(0)
    n = 1500
    x = rng.normal(size=n)
    t = (x + rng.normal(size=n) > 0).astype(int)
    m = 0.8 * t + rng.normal(size=n)
    y = 0.5 * t + x + rng.normal(size=n)
    d = pd.DataFrame(
        {
            "x": x,
            "t": t,
            "y": y,
            "m": m,
            "group": rng.choice(["a", "b", "c"], n),
            "arm": np.where(t == 1, "yes", "no"),
            "dose": 2 * t,
            "c": x + rng.normal(size=n),  # continuous treatment, confounded by x
        }
    )
    d["yc"] = 1.9 * d["c"] + 2.0 * x + rng.normal(size=n)
    path = tmp_path / "d.csv"
    d.to_csv(path, index=False)
    return str(path)


def _one_line_error(code: int, err: str, text: str) -> None:
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert text in err


def test_no_adjustment_set_is_refused(monkeypatch, capsys, confounded):
    code, _, err = run(monkeypatch, capsys, confounded, "--treatment", "t", "--outcome", "y")
    _one_line_error(code, err, "--no-adjustment")
    code, out, _ = run(
        monkeypatch, capsys, confounded, "--treatment", "t", "--outcome", "y", "--no-adjustment"
    )
    assert code == 0
    assert "assumes no confounding" in out


def test_any_valid_adjustment_set_is_accepted_and_invalid_ones_refused(
    monkeypatch, capsys, confounded
):
    graph = ["--edge", "x->t", "--edge", "x->y", "--edge", "t->y", "--edge", "t->m"]
    base = [confounded, "--treatment", "t", "--outcome", "y", *graph, "--json"]
    code, out, _ = run(monkeypatch, capsys, *base)
    assert code == 0
    assert json.loads(out)["covariates"] == ["x"]
    code, out, err = run(monkeypatch, capsys, *base, "--covariate", "x", "--covariate", "m")
    _one_line_error(code, err, "backdoor criterion")  # m is a descendant of t
    code, out, _ = run(monkeypatch, capsys, *base, "--covariate", "x", "--method", "aipw")
    assert code == 0
    r = json.loads(out)["estimates"][0]
    assert abs(r["estimate"] - 0.5) < 4 * r["std_error"]
    # a valid set that is not the minimal one: {x, group} with group -> y
    code, out, err = run(
        monkeypatch, capsys, *base, "--edge", "group->y", "--covariate", "x", "--covariate", "group"
    )
    assert code == 0, err
    assert json.loads(out)["covariates"] == ["x", "group"]


def test_graph_nodes_missing_from_the_data_are_named(monkeypatch, capsys, confounded):
    graph = ["--edge", "u->t", "--edge", "u->y", "--edge", "x->t", "--edge", "t->y"]
    args = [confounded, "--treatment", "t", "--outcome", "y", *graph]
    code, _, err = run(monkeypatch, capsys, *args)
    _one_line_error(code, err, "no column for u")
    code, _, err = run(monkeypatch, capsys, *args, "--latent", "u")
    _one_line_error(code, err, "not identifiable by backdoor adjustment")


def test_distinct_roles(monkeypatch, capsys, confounded):
    code, _, err = run(
        monkeypatch, capsys, confounded, "--treatment", "x", "--outcome", "x", "--no-adjustment"
    )
    _one_line_error(code, err, "distinct columns")
    code, _, err = run(
        monkeypatch, capsys, confounded, "--treatment", "t", "--outcome", "y", "--covariate", "t"
    )
    _one_line_error(code, err, "distinct columns")


def test_non_numeric_and_two_valued_treatments(monkeypatch, capsys, confounded):
    base = ["--outcome", "y", "--covariate", "x", "--covariate", "group", "--method", "ipw"]
    code, _, err = run(
        monkeypatch, capsys, confounded, "--treatment", "group", "--outcome", "y", "--no-adjustment"
    )
    _one_line_error(code, err, "3 labels")
    code, out, _ = run(monkeypatch, capsys, confounded, "--treatment", "arm", *base)
    assert code == 0
    assert "encoding: treatment 'arm': 'yes' -> 1, 'no' -> 0" in out
    assert "one-hot encoded" in out
    code, _, err = run(monkeypatch, capsys, confounded, "--treatment", "dose", *base)
    _one_line_error(code, err, "the two values 0 and 2")
    code, out, _ = run(
        monkeypatch, capsys, confounded, "--treatment", "dose", *base, "--treatment-type", "binary"
    )
    assert code == 0
    assert "2 -> 1" in out
    code, _, err = run(
        monkeypatch, capsys, confounded, "--treatment", "t", "--outcome", "arm", "--no-adjustment"
    )
    _one_line_error(code, err, "outcome 'arm'")


def test_all_methods_show_the_weight_diagnostics(monkeypatch, capsys, confounded):
    code, out, _ = run(
        monkeypatch, capsys, confounded, "--treatment", "c", "--outcome", "yc", "--covariate", "x"
    )
    assert code == 0
    assert "IPW (entropy balancing, MSM slope)" in out
    assert "weights: effective sample size" in out
    code, out, _ = run(
        monkeypatch,
        capsys,
        confounded,
        "--treatment",
        "c",
        "--outcome",
        "yc",
        "--covariate",
        "x",
        "--json",
    )
    ests = {e["method"]: e for e in json.loads(out)["estimates"]}
    for e in ests.values():
        assert abs(e["estimate"] - 1.9) < 4 * e["std_error"]


def test_estimand_att_json(monkeypatch, capsys, confounded):
    code, out, _ = run(
        monkeypatch,
        capsys,
        confounded,
        "--treatment",
        "t",
        "--outcome",
        "y",
        "--covariate",
        "x",
        "--estimand",
        "att",
        "--json",
    )
    assert code == 0
    assert {e["estimand"] for e in json.loads(out)["estimates"]} == {"ATT"}
    code, _, err = run(
        monkeypatch,
        capsys,
        confounded,
        "--treatment",
        "c",
        "--outcome",
        "yc",
        "--covariate",
        "x",
        "--estimand",
        "att",
    )
    _one_line_error(code, err, "binary treatment for the ATT")


def test_iv_frontdoor_and_mediation(monkeypatch, capsys, confounded, tmp_path):
    causaldata = pytest.importorskip("causaldata")
    card = tmp_path / "card.csv"
    causaldata.close_college.load_pandas().data.dropna().to_csv(card, index=False)
    code, out, _ = run(
        monkeypatch,
        capsys,
        str(card),
        "--treatment",
        "educ",
        "--outcome",
        "lwage",
        "--method",
        "iv",
        "--instrument",
        "nearc4",
        *[a for c in ("exper", "black", "south", "married", "smsa") for a in ("--covariate", c)],
    )
    assert code == 0
    assert "2SLS" in out
    assert "first stage: F = " in out
    code, _, err = run(
        monkeypatch,
        capsys,
        str(card),
        "--treatment",
        "educ",
        "--outcome",
        "lwage",
        "--method",
        "iv",
    )
    _one_line_error(code, err, "--instrument")
    fd = ["--treatment", "t", "--outcome", "y", "--method", "frontdoor", "--mediator", "m"]
    code, _, err = run(
        monkeypatch,
        capsys,
        confounded,
        *fd,
        "--edge",
        "t->m",
        "--edge",
        "m->y",
        "--edge",
        "x->t",
        "--edge",
        "x->y",
        "--edge",
        "t->y",
    )
    _one_line_error(code, err, "front-door criterion")
    code, out, _ = run(monkeypatch, capsys, confounded, *fd, "--json")
    assert code == 0
    assert json.loads(out)["estimates"][0]["method"] == "front-door adjustment"
    code, out, _ = run(
        monkeypatch,
        capsys,
        confounded,
        "--treatment",
        "t",
        "--outcome",
        "y",
        "--covariate",
        "x",
        "--method",
        "mediation",
        "--mediator",
        "m",
        "--json",
    )
    assert code == 0
    med = json.loads(out)["mediation"]
    # y does not depend on m: the indirect effect is 0 and the direct one 0.5
    assert med["nie_ci"][0] < 0 < med["nie_ci"][1]
    assert med["nde_ci"][0] < 0.5 < med["nde_ci"][1]
