"""kNN regression R^2, exact neighbours and recall: closed-form cases and sklearn as the reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score as sk_r2
from sklearn.neighbors import NearestNeighbors

from acie.embedding.quality import knn_indices, knn_r2, r2_score, recall_at_k
from acie.errors import InputValidationError, ShapeError, UnknownNameError


def test_r2_closed_form() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    # ss_res = 1, ss_tot = 5
    assert r2_score(y, np.array([1.0, 2.0, 3.0, 5.0])) == pytest.approx(0.8, abs=1e-15)
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(4, y.mean())) == pytest.approx(0.0, abs=1e-15)


def test_r2_matches_sklearn_per_column() -> None:
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    want = sk_r2(t, p, multioutput="raw_values")
    np.testing.assert_allclose(r2_score(t, p), want, rtol=1e-12)


def test_knn_r2_closed_form_on_a_grid() -> None:
    """References y_i = x_i = i; queries at i + 1/4 with k = 2 predict i + 1/2 exactly."""
    n = 100
    ref_x = np.arange(n, dtype=float)[:, None]
    q_x = (np.arange(n - 1) + 0.25)[:, None]
    res = knn_r2(ref_x, ref_x.copy(), q_x, q_x.copy(), k=2, n_boot=50)
    y = q_x[:, 0]
    want = 1.0 - len(y) * 0.25**2 / ((y - y.mean()) ** 2).sum()
    np.testing.assert_allclose(res.predictions[:, 0], np.arange(n - 1) + 0.5)
    assert res.r2[0] == pytest.approx(want, abs=1e-12)
    assert res.se[0] > 0


def test_knn_indices_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    ref, q = rng.normal(size=(300, 8)), rng.normal(size=(40, 8))
    got = knn_indices(ref, q, 10)
    want = NearestNeighbors(n_neighbors=10).fit(ref).kneighbors(q, return_distance=False)
    np.testing.assert_array_equal(got, want)
    got_c = knn_indices(ref, q, 5, metric="cosine")
    want_c = (
        NearestNeighbors(n_neighbors=5, metric="cosine")
        .fit(ref)
        .kneighbors(q, return_distance=False)
    )
    np.testing.assert_array_equal(got_c, want_c)


def test_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(200, 4)), rng.normal(size=(200, 2))
    a = knn_r2(x[:150], y[:150], x[150:], y[150:], k=5, seed=3)
    b = knn_r2(x[:150], y[:150], x[150:], y[150:], k=5, seed=3)
    np.testing.assert_array_equal(a.se, b.se)


def test_recall_at_k() -> None:
    truth = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    assert recall_at_k(truth[:, ::-1], truth) == 1.0
    assert recall_at_k(np.array([[0, 1, 9, 9], [4, 9, 9, 9]]), truth) == pytest.approx(3 / 8)


def test_typed_errors() -> None:
    with pytest.raises(ShapeError, match="equal shapes"):
        r2_score(np.zeros(3), np.zeros(4))
    with pytest.raises(InputValidationError, match="constant"):
        r2_score(np.ones(3), np.zeros(3))
    with pytest.raises(InputValidationError, match="k"):
        knn_indices(np.zeros((3, 2)), np.zeros((1, 2)), 4)
    with pytest.raises(UnknownNameError):
        knn_indices(np.zeros((3, 2)), np.zeros((1, 2)), 1, metric="manhattan")
    with pytest.raises(ShapeError):
        knn_r2(np.zeros((5, 2)), np.zeros((4, 1)), np.zeros((2, 2)), np.zeros((2, 1)))
