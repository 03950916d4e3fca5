"""Issue 16: the watermark key comes from configuration, never from the code."""

import numpy as np

from acie.config import Settings
from acie.deepscm.watermark import Watermark


def test_key_from_setting_or_generated_per_installation(tmp_path):
    a = Settings(ACIE_DATA_DIR=tmp_path / "a")
    b = Settings(ACIE_DATA_DIR=tmp_path / "b")
    ka = a.watermark_key()
    assert ka == Settings(ACIE_DATA_DIR=tmp_path / "a").watermark_key()  # stable
    assert (tmp_path / "a" / "watermark_key").stat().st_mode & 0o777 == 0o600
    assert ka != b.watermark_key()  # each installation its own key
    set_key = Settings(ACIE_DATA_DIR=tmp_path / "a", WATERMARK_KEY="deployment secret")
    assert set_key.watermark_key() not in (ka, b.watermark_key())
    x = np.random.default_rng(0).standard_normal((4, 1, 64, 64))
    marked = Watermark(key=ka).embed(x, 1.0)
    assert Watermark(key=ka).detect(marked).all()
    assert not Watermark(key=b.watermark_key()).detect(marked).any()


def test_default_watermark_key_is_random_not_a_constant():
    assert Watermark().key != Watermark().key
