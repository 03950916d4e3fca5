"""`acie causal identify | refute | sensitivity | evalue`, run as typed (through main())."""

import json

import numpy as np
import pandas as pd
import pytest

from acie.cli.main import main


def run(monkeypatch, capsys, *args):
    """Run ``acie causal ARGS`` as the console script does; return (exit code, out, err)."""
    monkeypatch.setattr("sys.argv", ["acie", "causal", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def confounded_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 1000
    x = rng.normal(size=n)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(float)
    y = 0.5 * t + x + rng.normal(size=n)
    group = np.where(rng.uniform(size=n) < 0.5, "north", "south")
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": x, "t": t, "y": y, "group": group}).to_csv(path, index=False)
    return path


def test_identify_frontdoor_and_bow_arc(monkeypatch, capsys):
    code, out, _ = run(
        monkeypatch,
        capsys,
        "identify",
        "--edge", "X->M", "--edge", "M->Y", "--confounded", "X<->Y",
        "--treatment", "X", "--outcome", "Y", "--json",
    )  # fmt: skip
    assert code == 0
    res = json.loads(out)
    assert res["identifiable"] is True
    assert res["estimand"] == "sum_{M} P(M | X) [sum_{X} P(X) P(Y | M, X)]"
    code, out, _ = run(
        monkeypatch, capsys, "identify", "--edge", "X->Y", "--confounded", "X<->Y",
        "--treatment", "X", "--outcome", "Y",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("P(Y | do(X)) is not identifiable")


def test_identify_errors_are_one_line(monkeypatch, capsys):
    code, _, err = run(
        monkeypatch, capsys, "identify", "--edge", "X->Y", "--edge", "Y->X",
        "--treatment", "X", "--outcome", "Y",
    )  # fmt: skip
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    code, _, err = run(
        monkeypatch, capsys, "identify", "--edge", "X=>Y", "--treatment", "X", "--outcome", "Y"
    )
    assert code == 2
    assert "'A->B'" in err


def test_refute_json(monkeypatch, capsys, confounded_csv):
    code, out, err = run(
        monkeypatch, capsys, "refute", confounded_csv, "--treatment", "t", "--outcome", "y",
        "--covariate", "x", "--simulations", "10", "--json",
    )  # fmt: skip
    assert code == 0, err
    rep = json.loads(out)
    assert [r["refuter"] for r in rep["refutations"]] == [
        "placebo_treatment", "random_common_cause", "data_subset", "dummy_outcome", "bootstrap",
    ]  # fmt: skip
    assert rep["passed"] is True
    code, out, _ = run(
        monkeypatch, capsys, "refute", confounded_csv, "--treatment", "t", "--outcome", "y",
        "--covariate", "x", "--refuter", "placebo_treatment", "--simulations", "5",
    )  # fmt: skip
    assert code == 0
    assert "PASS placebo_treatment" in out


def test_refute_refuses_without_an_adjustment_set(monkeypatch, capsys, confounded_csv):
    code, _, err = run(
        monkeypatch, capsys, "refute", confounded_csv, "--treatment", "t", "--outcome", "y"
    )
    assert code == 2
    assert "--no-adjustment" in err
    code, _, err = run(
        monkeypatch, capsys, "refute", confounded_csv, "--treatment", "t", "--outcome", "y",
        "--covariate", "x", "--refuter", "nope",
    )  # fmt: skip
    assert code == 2
    assert "refuter" in err


def test_sensitivity_with_plot_and_categorical_covariate(
    monkeypatch, capsys, confounded_csv, tmp_path
):
    plot = tmp_path / "out" / "contour.png"
    code, out, err = run(
        monkeypatch, capsys, "sensitivity", confounded_csv, "--treatment", "t", "--outcome", "y",
        "--covariate", "x", "--covariate", "group", "--benchmark", "x", "--kd", "0.5",
        "--plot", plot, "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["dof"] == 1000 - 4  # intercept, t, x, one dummy for group
    assert 0 < res["rv_q_alpha"] < res["rv_q"] < 1
    assert res["bounds"][0]["covariate"] == "x"
    assert plot.stat().st_size > 10_000
    code, _, err = run(
        monkeypatch, capsys, "sensitivity", confounded_csv, "--treatment", "t", "--outcome", "y",
        "--covariate", "x", "--benchmark", "group",
    )  # fmt: skip
    assert code == 2
    assert "--benchmark" in err


def test_evalue_published_example(monkeypatch, capsys):
    # VanderWeele & Ding (2017): RR 3.9 (1.8, 8.7) -> 7.26 and 3.0
    code, out, _ = run(
        monkeypatch, capsys, "evalue", "--estimate", "3.9", "--ci-low", "1.8", "--ci-high", "8.7"
    )
    assert code == 0
    assert "E-value of the estimate: 7.263" in out
    assert "E-value of the confidence limit: 3.000" in out
    code, out, _ = run(monkeypatch, capsys, "evalue", "--estimate", "4", "--scale", "or",
                       "--common", "--json")  # fmt: skip
    assert json.loads(out)["estimate_rr"] == pytest.approx(2.0)
    code, _, err = run(monkeypatch, capsys, "evalue", "--estimate", "-1")
    assert code == 2
    assert err.startswith("error: estimate")
