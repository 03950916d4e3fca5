"""The posterior-mean counterfactual and its evaluation row (acie.deepscm.evaluation_posterior)."""

import numpy as np
import pytest
import torch

from acie.deepscm import evaluation_metrics as em
from acie.deepscm import load_default_model
from acie.deepscm.evaluation_posterior import (
    branch_particles,
    midpoint_particles,
    posterior_mean_images,
)
from acie.deepscm.evaluation_tasks import (
    EvaluationContext,
    intervention_metrics,
    run_counterfactuals,
    shifted_values,
)
from acie.errors import InputValidationError
from acie.galaxy.simulator import GalaxySimulator

SHIFT = float(np.log10(2.0))
NODE = "log_stellar_mass"


@pytest.fixture(scope="module")
def setup():
    engine = load_default_model()
    sim = GalaxySimulator(image_size=engine.image_shape[1], bands=("g", "r", "i"))
    batch = sim.sample(6, seed=12345)
    return engine, sim, batch


def test_one_particle_is_the_point_counterfactual(setup):
    engine, _, batch = setup
    x = np.asarray(batch.images, np.float32)
    _, fact, _, _ = run_counterfactuals(engine, x, {}, 4)
    point, _, _, _ = run_counterfactuals(
        engine, x, {NODE: shifted_values(fact[NODE], NODE, SHIFT)}, 4
    )
    for branch_only in (False, True):
        mean = posterior_mean_images(
            engine, x, NODE, SHIFT, 1, seed=3, batch_size=4, branch_only=branch_only
        )
        assert np.allclose(mean, point, rtol=1e-5, atol=1e-3 * float(np.std(point)))


def test_branch_particles_draw_only_the_branch(setup):
    engine, _, batch = setup
    model, ckpt = engine.checkpoint.model, engine.checkpoint
    xt = ckpt.images.forward(torch.from_numpy(np.asarray(batch.images, np.float32)))
    n, p = xt.shape[0], 5
    ab = branch_particles(model, xt, p, torch.Generator().manual_seed(0))
    first = model.abduct(xt)
    for name in ("s", "z", "residual", "x"):
        got = getattr(ab, name).reshape((p, n, *getattr(first, name).shape[1:]))
        assert torch.equal(got, getattr(first, name).expand_as(got))
    draws = ab.draw.reshape(p, n, -1)
    assert torch.isnan(draws[0]).all()  # particle 0 is the point answer: it keeps its branch
    mixture = torch.isfinite(draws[1]).any(dim=0)
    assert mixture.any()  # the shipped model has a mixture node (log_sfr)
    assert torch.isfinite(draws[1:, :, mixture]).all()
    assert not torch.equal(
        draws[1:, :, mixture], draws[:1, :, mixture].expand_as(draws[1:, :, mixture])
    )


def test_mean_equals_direct_particle_average(setup):
    engine, _, batch = setup
    x = np.asarray(batch.images, np.float32)
    p, seed = 4, 11
    mean = posterior_mean_images(engine, x, NODE, SHIFT, p, seed=seed, batch_size=6)
    # direct: every particle's counterfactual, each shifted from its own abducted M*
    ckpt = engine.checkpoint
    model, props = ckpt.model, ckpt.properties
    from acie.deepscm.particles import sample_abduction

    clean, _ = engine.watermark.remove(x)  # as the engine does before abduction
    xt = ckpt.images.forward(torch.from_numpy(np.asarray(clean, np.float32)))
    ab = sample_abduction(model, xt, p, torch.Generator().manual_seed(seed))
    imgs = []
    for k in range(p):
        rows = slice(k * len(x), (k + 1) * len(x))
        own = props.decode(ab.s[rows].numpy().astype(np.float64))[NODE]
        sub = type(ab)(
            **{
                f: (None if getattr(ab, f) is None else getattr(ab, f)[rows])
                for f in ab.__dataclass_fields__
            }
        )
        do = {NODE: torch.as_tensor(props.to_standard(NODE, shifted_values(own, NODE, SHIFT)))}
        do = {NODE: do[NODE].to(ab.s.dtype)}
        imgs.append(ckpt.images.inverse(model.predict(sub, model.act(sub, do))).double().numpy())
    assert np.allclose(mean, np.mean(imgs, axis=0), rtol=1e-5, atol=1e-6)


def test_evaluation_row_equals_direct_computation(setup):
    engine, sim, batch = setup
    x = np.asarray(batch.images, np.float32)
    _, fact, _, _ = run_counterfactuals(engine, x, {}, 6)
    ctx = EvaluationContext(
        simulator=sim,
        batch=batch,
        factual=fact,
        clean_factual=sim.render(batch.properties, batch.nuisances, add_noise=False),
        predictor=None,
        batch_size=6,
        n_examples=1,
        tolerance=0.05,
        seed=5,
        posterior_particles=3,
    )
    m, _ = intervention_metrics(engine, ctx, NODE, SHIFT)
    truth = np.asarray(batch.properties[NODE], np.float64)
    xt = sim.counterfactual(batch, {NODE: shifted_values(truth, NODE, SHIFT)}).images
    mean = posterior_mean_images(engine, x, NODE, SHIFT, 3, seed=5, batch_size=6, midpoint=True)
    err = np.abs(em.flux_delta(x, mean, 1) - em.flux_delta(x, np.asarray(xt, np.float32), 1))
    assert m.summaries["dlog_flux_error_posterior_mean"] == em.summary(err, seed=5)
    assert m.summaries["dlog_flux_error_posterior_mean_p95"] == em.summary(err, "p95", seed=5)
    assert m.details["posterior_mean"] == {"n_particles": 3, "draws": "midpoint"}
    off = EvaluationContext(**{**ctx.__dict__, "posterior_particles": 0})
    m0, _ = intervention_metrics(engine, off, NODE, SHIFT)
    assert "dlog_flux_error_posterior_mean" not in m0.summaries


def test_refuses_bad_arguments(setup):
    engine, _, batch = setup
    x = np.asarray(batch.images[:1], np.float32)
    with pytest.raises(InputValidationError):
        posterior_mean_images(engine, x, NODE, SHIFT, 0)
    with pytest.raises(InputValidationError):
        posterior_mean_images(engine, x, NODE, SHIFT, 2, batch_size=0)
    with pytest.raises(InputValidationError):
        posterior_mean_images(engine, x, "not_a_node", SHIFT, 2)


def test_midpoint_particles_are_the_midpoint_rule_of_the_draw(setup):
    engine, _, batch = setup
    model, ckpt = engine.checkpoint.model, engine.checkpoint
    xt = ckpt.images.forward(torch.from_numpy(np.asarray(batch.images, np.float32)))
    n, p = xt.shape[0], 4
    ab = midpoint_particles(model, xt, p)
    first = model.abduct(xt)
    mech = model.mechanisms
    i = mech.index["log_sfr"]
    pa = first.s[:, [mech.index[q] for q in mech.parents["log_sfr"]]]
    lo, hi = mech.mechanism("log_sfr").draw_interval(pa, first.component[:, i])
    draws = ab.draw.reshape(p, n, -1)[:, :, i]
    for j in range(p):
        assert torch.allclose(draws[j], lo + (hi - lo) * (j + 0.5) / p)
    assert torch.equal(ab.component.reshape(p, n, -1), first.component.expand(p, n, -1))
    assert torch.equal(ab.s.reshape(p, n, -1), first.s.expand(p, n, -1))
    # the posterior mean with midpoint draws is the mean of those particles' counterfactuals
    x = np.asarray(batch.images, np.float32)
    mean = posterior_mean_images(engine, x, NODE, SHIFT, p, batch_size=6, midpoint=True)
    clean, _ = engine.watermark.remove(x)
    xt = ckpt.images.forward(torch.from_numpy(np.asarray(clean, np.float32)))
    ab = midpoint_particles(model, xt, p)
    own = ckpt.properties.decode(ab.s.numpy().astype(np.float64))[NODE]
    target = ckpt.properties.to_standard(NODE, shifted_values(own, NODE, SHIFT))
    do = {NODE: torch.as_tensor(target, dtype=ab.s.dtype)}
    imgs = ckpt.images.inverse(model.predict(ab, model.act(ab, do))).double().numpy()
    assert np.allclose(mean, imgs.reshape(p, n, *imgs.shape[1:]).mean(axis=0), rtol=1e-5, atol=1e-6)


def test_cli_reports_the_posterior_mean_rows(tmp_path):
    """`acie model evaluate --posterior-particles N` as typed: the rows are in report.json
    and in REPORT.md beside the point answer's."""
    import json

    from typer.testing import CliRunner

    from acie.cli.main import app

    out = tmp_path / "report"
    args = ["model", "evaluate", "--n", "4", "--seed", "3", "--no-speed"]
    res = CliRunner().invoke(app, [*args, "--posterior-particles", "2", "--report", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "report.json").read_text())
    mstar = next(m for m in doc["models"][0]["interventions"] if m["node"] == NODE)
    assert "dlog_flux_error_posterior_mean_p95" in mstar["summaries"]
    assert mstar["details"]["posterior_mean"] == {"n_particles": 2, "draws": "midpoint"}
    md = (out / "REPORT.md").read_text()
    assert "| |dlog flux| error, posterior mean over particles, p95 [dex] |" in md
