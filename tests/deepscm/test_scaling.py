import numpy as np
import pytest
import torch

from acie.deepscm.scaling import ImageScaler, PropertyScaler
from acie.errors import NonPhysicalValueError, ShapeError


def _scaler():
    rng = np.random.default_rng(0)
    vals = {"log_m": rng.normal(10, 0.5, 100), "sigma": rng.lognormal(4, 0.3, 100)}
    return PropertyScaler.fit(vals, names=["log_m", "sigma"], positive=["sigma"]), vals


def test_property_round_trip_and_standardisation():
    sc, vals = _scaler()
    z = sc.encode(vals)
    # standardised on the fitting set: mean 0, sd 1 (float32 rounding, 1e-5)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)
    back = sc.decode(z.astype(np.float64))
    np.testing.assert_allclose(back["sigma"], vals["sigma"], rtol=1e-5)
    t = sc.decode_torch(torch.from_numpy(z).double())
    np.testing.assert_allclose(t["sigma"].numpy(), vals["sigma"], rtol=1e-5)


def test_positive_property_refuses_non_physical_values():
    sc, _ = _scaler()
    with pytest.raises(NonPhysicalValueError, match=r"'sigma'.*positive.*-3"):
        sc.to_standard("sigma", np.array([10.0, -3.0]))
    with pytest.raises(NonPhysicalValueError, match="finite"):
        sc.to_standard("log_m", np.array([np.nan]))


def test_image_scaler_round_trip_numpy_and_torch():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((8, 2, 16, 16)) * [[[[0.01]], [[0.02]]]]).astype(np.float32)
    x[:, :, 8, 8] += 5.0  # bright core
    sc = ImageScaler.fit(x)
    # the softening is the border noise sigma (MAD estimate: ~3 % error for 1024 pixels)
    np.testing.assert_allclose(sc.softening, [0.01, 0.02], rtol=0.1)
    np.testing.assert_allclose(sc.inverse(sc.forward(x)), x, rtol=1e-4, atol=1e-6)
    xt = torch.from_numpy(x)
    torch.testing.assert_close(sc.inverse(sc.forward(xt)), xt, rtol=1e-4, atol=1e-6)
    with pytest.raises(ShapeError):
        ImageScaler.fit(x[0])
