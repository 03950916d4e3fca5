"""Regression tests of issue 21: distinct roles, non-numeric columns, two-valued
treatments and categorical covariates in estimate_effect."""

import numpy as np
import pandas as pd
import pytest

from acie.causal import estimate_effect
from acie.errors import InputValidationError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    shift = pd.Series(colour).map({"red": 1.0, "green": 0.0, "blue": -1.0}).to_numpy()
    t = (rng.normal(size=n) + x + shift > 0).astype(float)
    y = 0.5 * t + x + 2.0 * shift + rng.normal(size=n)
    return pd.DataFrame(
        {"t": t, "y": y, "x": x, "colour": colour, "smoker": np.where(t == 1, "yes", "no")}
    )


def test_treatment_equal_to_outcome_is_refused(frame):
    with pytest.raises(InputValidationError, match="distinct columns"):
        estimate_effect(frame, treatment="x", outcome="x")


def test_covariate_equal_to_treatment_is_refused(frame):
    with pytest.raises(InputValidationError, match="'t' in more than one role"):
        estimate_effect(frame, treatment="t", outcome="y", covariates=["t"])


def test_repeated_covariate_is_refused(frame):
    with pytest.raises(InputValidationError, match="distinct columns"):
        estimate_effect(frame, treatment="t", outcome="y", covariates=["x", "x"])


def test_yes_no_treatment_is_mapped_and_said(frame):
    r = estimate_effect(frame, treatment="smoker", outcome="y", covariates=["x", "colour"])
    assert r.treatment_kind == "binary"
    assert "'yes' -> 1, 'no' -> 0" in r.details["encoding"][0]
    ref = estimate_effect(frame, treatment="t", outcome="y", covariates=["x", "colour"])
    assert r.estimate == pytest.approx(ref.estimate, rel=1e-12)


def test_categorical_covariate_is_one_hot_encoded(frame):
    r = estimate_effect(frame, treatment="t", outcome="y", covariates=["x", "colour"])
    assert any("one-hot" in note for note in r.details["encoding"])
    assert abs(r.estimate - 0.5) < 4 * r.std_error  # colour is a confounder: adjusted
    naive = estimate_effect(frame, treatment="t", outcome="y", covariates=["x"])
    assert abs(naive.estimate - 0.5) > 4 * naive.std_error


def test_non_numeric_outcome_is_refused(frame):
    with pytest.raises(InputValidationError, match="outcome 'colour'"):
        estimate_effect(frame, treatment="t", outcome="colour")


def test_zero_two_treatment_is_not_silently_continuous(frame):
    f = frame.assign(dose=2 * frame["t"])
    with pytest.raises(InputValidationError, match="the two values 0 and 2"):
        estimate_effect(f, treatment="dose", outcome="y", covariates=["x", "colour"])
    binary = estimate_effect(
        f, treatment="dose", outcome="y", covariates=["x", "colour"], treatment_type="binary"
    )
    assert binary.treatment_kind == "binary"
    assert "2 -> 1" in binary.details["encoding"][0]
    slope = estimate_effect(
        f,
        treatment="dose",
        outcome="y",
        covariates=["x", "colour"],
        treatment_type="continuous",
        method="regression",
        n_bootstrap=20,
    )
    assert slope.treatment_kind == "continuous"
    assert slope.estimate == pytest.approx(binary.estimate / 2, rel=0.2)


def test_many_labels_treatment_and_missing_values_are_refused(frame):
    with pytest.raises(InputValidationError, match="3 labels"):
        estimate_effect(frame, treatment="colour", outcome="y")
    f = frame.copy()
    f.loc[3, "x"] = np.nan
    with pytest.raises(InputValidationError, match="NaN in x"):
        estimate_effect(f, treatment="t", outcome="y", covariates=["x"])
