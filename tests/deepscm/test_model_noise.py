"""Pixel-noise mechanisms, the FiLM decoder and checkpoint format 2 of the deep SCM."""

import io
import math

import numpy as np
import pytest
import torch
from scipy import stats

from acie.deepscm.checkpoint import load_checkpoint, save_checkpoint
from acie.deepscm.model import DeepSCM, DeepSCMConfig
from acie.deepscm.pixel_noise import PoissonSkyNoise
from acie.deepscm.scaling import ImageScaler, PropertyScaler
from acie.errors import ConfigurationError, DataFormatError

PARENTS = {"m": [], "sfr": ["m"]}
SKY, GAIN = 0.02, 50.0  # nanomaggies per pixel, electrons per nanomaggy (as a simulator)
STRETCH = {"softening": [SKY, 1.5 * SKY], "mean": [0.3, 0.2], "std": [1.7, 1.4]}


def _true_noise() -> PoissonSkyNoise:
    noise = PoissonSkyNoise(**STRETCH)
    with torch.no_grad():
        noise.log_sky.fill_(math.log(SKY))
        noise.log_k.fill_(math.log(1.0 / GAIN))
    return noise.double()


def _images(seed: int, flux: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise-free Gaussian blob of total ``flux``, its noisy image and the noise draw."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    blob = torch.exp(-((yy - 7.5) ** 2 + (xx - 7.5) ** 2) / 8.0).double()
    clean = (flux * blob / blob.sum()).expand(3, 2, 16, 16).clone()
    n = torch.randn(clean.shape, generator=g, dtype=torch.float64)
    noisy = clean + torch.sqrt(SKY**2 + clean.clamp(min=0) / GAIN) * n
    return clean, noisy, n


@torch.no_grad()
def test_poisson_noise_counterfactual_matches_the_simulators_noise_model():
    """x' = I' + sqrt(sky^2 + I'/g) n with the same draw n: the exact counterfactual."""
    noise = _true_noise()
    clean, noisy, n = _images(0, flux=40.0)
    brighter = 2.0 * clean
    truth = brighter + torch.sqrt(SKY**2 + brighter / GAIN) * n
    eps = noise.abduct(noise.to_stretched(noisy), noise.to_stretched(clean))
    assert torch.allclose(eps, n, atol=1e-6)  # float32 sky and gain parameters
    cf = noise.to_linear(noise.generate(noise.to_stretched(brighter), eps))
    assert torch.allclose(cf, truth, rtol=1e-6, atol=1e-6 * SKY)
    # the core noise grows by sqrt((sky^2 + 2I/g) / (sky^2 + I/g)), not by the stretch
    core = clean[0, 0] > 0.5 * clean[0, 0].max()
    ratio = ((cf - brighter)[0, 0][core].std() / (noisy - clean)[0, 0][core].std()).item()
    assert 1.0 < ratio < math.sqrt(2.0)


@torch.no_grad()
def test_poisson_log_prob_is_the_linear_density_times_the_stretch_jacobian():
    noise = _true_noise()
    clean, noisy, _ = _images(1, flux=10.0)
    x_t, mu_t = noise.to_stretched(noisy), noise.to_stretched(clean)
    got = noise.log_prob(x_t, mu_t).numpy()
    sd = np.sqrt(SKY**2 + np.maximum(clean.numpy(), 0) / GAIN)
    lin = stats.norm.logpdf(noisy.numpy(), loc=clean.numpy(), scale=sd)
    h = 1e-6  # numerical Jacobian of the inverse stretch, pixel by pixel
    jac = (noise.to_linear(x_t + h) - noise.to_linear(x_t - h)).numpy() / (2 * h)
    want = (lin + np.log(jac)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-7)


@pytest.mark.parametrize(
    ("decoder", "pixel_noise"), [("film", "per-pixel"), ("film", "poisson"), ("v1", "poisson")]
)
def test_every_noise_model_composes_exactly_and_round_trips_a_checkpoint(
    decoder, pixel_noise, tmp_path
):
    torch.manual_seed(0)
    cfg = DeepSCMConfig(
        parents=PARENTS,
        image_shape=(2, 16, 16),
        width=4,
        latent_dim=3,
        mixtures={"sfr": 2},
        decoder=decoder,
        pixel_noise=pixel_noise,
        image_stretch=STRETCH,
    )
    model = DeepSCM(cfg).eval()
    for name, p in model.named_parameters():  # move off the identity initialisation
        if not name.startswith("noise."):
            torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(4, 2, 16, 16)
    ab = model.abduct(x)
    composition = float((model.predict(ab, model.act(ab, {})) - x).abs().max())
    assert composition < 2e-4
    s_cf = model.act(ab, {"m": torch.tensor(3.0)})
    x_cf = model.predict(ab, s_cf)
    assert float((x_cf - x).abs().max()) > 10 * composition + 1e-6  # the change gets through
    # the pixel-noise scale is recomputed when an abduction lacks it (engine row subsets)
    bare = type(ab)(x=ab.x, s=ab.s, s_logvar=ab.s_logvar, z=ab.z, u=ab.u, residual=ab.residual)
    assert torch.allclose(model.predict(bare, s_cf), x_cf, atol=1e-5)
    props = PropertyScaler(names=["m", "sfr"], log=[False, False], mean=[0, 0], std=[1, 1])
    imgs = ImageScaler(shape=(2, 16, 16), **STRETCH)
    save_checkpoint(tmp_path / "m.pt", model=model, properties=props, images=imgs)
    again = load_checkpoint(tmp_path / "m.pt").model
    assert torch.equal(again.predict(again.abduct(x), s_cf), x_cf)
    terms = model.elbo_terms(x, ab.s)
    assert torch.isfinite(terms.elbo).all()


def test_format_1_checkpoints_still_load_as_the_format_1_architecture(tmp_path):
    torch.manual_seed(0)
    model = DeepSCM(DeepSCMConfig(parents=PARENTS, image_shape=(1, 16, 16), width=4, latent_dim=3))
    cfg = model.config.to_dict()
    for new in ("mixtures", "decoder", "pixel_noise", "image_stretch"):
        cfg.pop(new)
    payload = {
        "format": "acie-deepscm-checkpoint/1",
        "config": cfg,
        "state_dict": model.state_dict(),
        "properties": {"names": ["m", "sfr"], "log": [False, False], "mean": [0, 0], "std": [1, 1]},
        "images": {"softening": [1.0], "mean": [0.0], "std": [1.0], "shape": [1, 16, 16]},
        "metadata": {},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    (tmp_path / "v1.pt").write_bytes(buf.getvalue())
    ck = load_checkpoint(tmp_path / "v1.pt")
    assert ck.model.config.pixel_noise == "per-band"
    x = torch.randn(2, 1, 16, 16)
    assert torch.equal(ck.model.abduct(x).z, model.eval().abduct(x).z)


def test_inconsistent_architectures_are_typed_errors(tmp_path):
    base = {"parents": PARENTS, "image_shape": (1, 16, 16), "width": 4, "latent_dim": 3}
    with pytest.raises(ConfigurationError, match="pixel_noise"):
        DeepSCM(DeepSCMConfig(**base, pixel_noise="laplace"))
    with pytest.raises(ConfigurationError, match="'film' for per-pixel"):
        DeepSCM(DeepSCMConfig(**base, pixel_noise="per-pixel"))
    with pytest.raises(ConfigurationError, match="softening, mean and std"):
        DeepSCM(DeepSCMConfig(**base, decoder="film", pixel_noise="poisson"))
    cfg = DeepSCMConfig(**base).to_dict() | {"pixel_noise": "poisson"}
    buf = io.BytesIO()
    torch.save({"format": "acie-deepscm-checkpoint/2", "config": cfg, "state_dict": {}}, buf)
    (tmp_path / "bad.pt").write_bytes(buf.getvalue())
    with pytest.raises(DataFormatError, match="inconsistent"):
        load_checkpoint(tmp_path / "bad.pt")


@torch.no_grad()
def test_residual_moments_recover_the_sky_and_gain_of_simulated_noise():
    noise = PoissonSkyNoise(**STRETCH).double()
    g = torch.Generator().manual_seed(5)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    amp = 20.0 * torch.rand(200, 1, 1, 1, generator=g, dtype=torch.float64)
    blob = amp * torch.exp(-((yy - 15.5) ** 2 + (xx - 15.5) ** 2) / 30.0).double()
    clean = blob.expand(200, 2, 32, 32).clone()
    sky = torch.tensor([SKY, 1.5 * SKY], dtype=torch.float64).view(1, 2, 1, 1)
    noisy = clean + torch.sqrt(sky**2 + clean / GAIN) * torch.randn(
        clean.shape, generator=g, dtype=torch.float64
    )
    noise.fit_moments(noise.to_stretched(noisy), noise.to_stretched(clean))
    np.testing.assert_allclose(noise.log_sky.exp().numpy(), [SKY, 1.5 * SKY], rtol=0.05)
    np.testing.assert_allclose(noise.log_k.exp().numpy(), [1 / GAIN] * 2, rtol=0.1)


def test_calibrated_noise_is_fixed_and_bad_instruments_are_typed_errors():
    noise = PoissonSkyNoise(**STRETCH)
    noise.calibrate([SKY, 2 * SKY], GAIN)
    assert not noise.log_sky.requires_grad
    assert not noise.log_k.requires_grad
    assert torch.allclose(
        noise.sigma(torch.zeros(1, 2, 1, 1)).flatten(), torch.tensor([SKY, 2 * SKY])
    )
    for sky, gain in (([SKY], GAIN), ([SKY, -1.0], GAIN), ([SKY, SKY], 0.0)):
        with pytest.raises(ConfigurationError, match="instrument noise"):
            PoissonSkyNoise(**STRETCH).calibrate(sky, gain)
