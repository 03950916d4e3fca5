import numpy as np
import pytest

from acie.deepscm.watermark import Watermark
from acie.deepscm.watermark_robustness import (
    center_crop,
    dihedral_scores,
    measure_robustness,
    place_on_grid,
    robustness_table,
)
from acie.errors import OutOfRangeError, ShapeError

KEY = 0xAC1E_5C3D


def _galaxies(n: int, seed: int, size: int = 64) -> np.ndarray:
    """Exponential discs with unit-sigma sky noise (n, 2, size, size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)[None, None]
    scale = rng.uniform(2, 8, size=(n, 1, 1, 1))
    amp = rng.uniform(5, 500, size=(n, 2, 1, 1))
    return amp * np.exp(-r / scale) + rng.standard_normal((n, 2, size, size))


def _rows(n: int = 60):
    rows = measure_robustness(
        Watermark(key=KEY),
        _galaxies(n, 3),
        1.0,
        noise_levels=(0.0, 8.0),
        scales=(0.5, 2.0),
        sky_offsets=(10.0,),
        crops=(48, 32),
        seed=1,
    )
    return {(r.edit, r.detector): r for r in rows}


def test_score_is_invariant_to_positive_flux_scale_and_sky_offset():
    wm = Watermark(key=KEY)
    m = wm.embed(_galaxies(5, 0), 1.0).astype(np.float64)
    s = wm.score(m)
    np.testing.assert_allclose(wm.score(0.37 * m), s, rtol=1e-9)
    np.testing.assert_allclose(wm.score(-m), -s, rtol=1e-9)  # a negative factor flips it
    np.testing.assert_allclose(wm.score(m + 25.0), s, rtol=1e-6)


def test_rescaling_and_sky_offset_keep_detection_without_false_positives():
    rows = _rows()
    for edit in ("scale x0.5", "scale x2", "sky +10 sigma", "noise 0 sigma"):
        assert rows[(edit, "plain")].detection_rate == 1.0, edit
        assert rows[(edit, "plain")].false_positive_rate == 0.0, edit
    # 8 sigma of extra noise: score ~ 64 * sqrt(2) * 0.3 / sqrt(65) = 3.4 < 5
    assert rows[("noise 8 sigma", "plain")].detection_rate < 0.5


def test_crop_is_lost_on_its_own_grid_and_found_on_the_original_grid():
    rows = _rows()
    for size in (48, 32):
        own = rows[(f"crop {size}x{size}", "own grid")]
        grid = rows[(f"crop {size}x{size}", "original grid")]
        assert own.detection_rate < 0.1  # a different pattern: the mark is not found
        assert abs(own.median_score) < 3
        assert grid.false_positive_rate == 0.0
        # signal ~ crop area, noise ~ sqrt(area): the score scales as the crop's side
        full = rows[("noise 0 sigma", "plain")].median_score
        assert grid.median_score == pytest.approx(full * size / 64, rel=0.15)
    assert rows[("crop 48x48", "original grid")].detection_rate == 1.0
    assert rows[("crop 32x32", "original grid")].detection_rate > 0.9  # median score ~10


def test_rotation_and_flip_need_the_dihedral_search():
    rows = _rows()
    for edit in ("rot90", "flip"):
        assert rows[(edit, "plain")].detection_rate < 0.1
        assert rows[(edit, "dihedral search")].detection_rate == 1.0
        assert rows[(edit, "dihedral search")].false_positive_rate == 0.0
    assert rows[("none", "dihedral search")].detection_rate == 1.0


def test_dihedral_search_false_positive_rate_on_noise_is_small():
    # white noise, 8 scores per image each ~N(0, 1): max over 8 above 5 has p < 2.3e-6
    s = dihedral_scores(
        Watermark(key=KEY), np.random.default_rng(0).standard_normal((300, 1, 32, 32))
    )
    assert s.shape == (300, 8)
    assert (s.max(axis=1) > 5).sum() == 0
    assert abs(s.mean()) < 5 / np.sqrt(s.size)


def test_crop_and_grid_round_trip_and_errors():
    x = _galaxies(2, 0, 64)
    c = center_crop(x, 48)
    assert c.shape == (2, 2, 48, 48)
    back = place_on_grid(c, 64, 64)
    np.testing.assert_array_equal(back[:, :, 8:56, 8:56], c)
    assert np.all(back[:, :, :8] == 0)
    with pytest.raises(ShapeError):
        center_crop(x, 65)
    with pytest.raises(ShapeError):
        place_on_grid(x, 32, 32)
    with pytest.raises(ShapeError):
        dihedral_scores(Watermark(key=KEY), np.zeros((1, 1, 8, 9)))
    with pytest.raises(OutOfRangeError, match="flux scale factor"):
        measure_robustness(Watermark(key=KEY), x, 1.0, scales=(-1.0,))


def test_table_lists_every_row_and_column():
    rows = measure_robustness(Watermark(key=KEY), _galaxies(4, 1), 1.0, crops=(32,))
    table = robustness_table({"sim": rows, "gen": rows})
    assert table.count("\n") == len(rows) + 1
    assert "crop 32x32 | original grid" in table
