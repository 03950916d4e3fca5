"""Micro-batching: a shared model call gives each request what a call of its own would."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from acie.errors import InputValidationError
from acie.serve.inference import InferenceCore
from acie.serve.metrics import ServiceMetrics

LOOSE = 1e9


@pytest.fixture
def core(tiny_engine):
    c = InferenceCore(
        model=tiny_engine,
        metrics=ServiceMetrics(),
        max_concurrency=1,
        physics_tolerance=LOOSE,
        physics_steps=0,
    )
    yield c
    c.close(wait=False)


def _block(core, make_obs):
    """Occupy the single worker so that what is submitted next queues up."""
    release, started = threading.Event(), threading.Event()

    def stage(s):
        if s == "PROCESSING":
            started.set()
            release.wait(10)

    call = core.validate(request_id="block", observation=make_obs(1), interventions={"age": 5.0})
    fut = core.submit("blocker", call, on_stage=stage)
    assert started.wait(10)
    return release, fut


def test_queued_compatible_requests_share_one_call_with_the_same_answers(
    core, make_obs, tiny_engine
):
    release, blocker = _block(core, make_obs)
    sizes, values = [1, 2, 1, 3], [9.5, 10.0, 10.5, 11.0]
    calls = [
        core.validate(
            request_id=f"r{i}",
            observation=make_obs(n, seed=10 + i),
            interventions={"log_stellar_mass": v},
        )
        for i, (n, v) in enumerate(zip(sizes, values, strict=True))
    ]
    futures = [core.submit("alice", c) for c in calls]
    batches_before = core._pool.batches
    release.set()
    blocker.result(10)
    results = [f.result(10) for f in futures]
    assert core._pool.batches == batches_before + 1  # the four queued requests: one call
    for call, res, n, v in zip(calls, results, sizes, values, strict=True):
        alone = tiny_engine.counterfactual(
            call.observation, {"log_stellar_mass": v}, physics_tolerance=LOOSE, physics_steps=0
        )
        assert res.images.shape == (n, 1, 16, 16)
        # same network, different batch size: equal up to float32 round-off of the
        # convolutions (relative 1e-4 of the pixel scale is ~100 float32 ulps)
        scale = np.abs(alone.images).max()
        np.testing.assert_allclose(res.images, alone.images, rtol=0, atol=1e-4 * scale)
        np.testing.assert_allclose(res.counterfactual_properties["log_stellar_mass"], v)
        np.testing.assert_allclose(res.confidence, alone.confidence, atol=1e-5)
        np.testing.assert_allclose(res.violation_score, alone.violation_score, rtol=1e-4)
    assert core.pending == 0


def test_a_failing_request_does_not_fail_its_batch(core, make_obs):
    release, blocker = _block(core, make_obs)
    good = [
        core.submit(
            "a",
            core.validate(
                request_id=f"g{i}",
                observation=make_obs(1),
                interventions={"log_stellar_mass": 10.0},
            ),
        )
        for i in range(2)
    ]
    # 20 dex is outside the calibrated range: the model refuses that request only
    bad = core.submit(
        "a",
        core.validate(
            request_id="bad", observation=make_obs(1), interventions={"log_stellar_mass": 20.0}
        ),
    )
    release.set()
    blocker.result(10)
    for f in good:
        assert f.result(10).images.shape == (1, 1, 16, 16)
    with pytest.raises(InputValidationError, match="log_stellar_mass"):
        bad.result(10)


def test_incompatible_requests_are_not_mixed(core, make_obs):
    release, blocker = _block(core, make_obs)
    a = core.submit(
        "a",
        core.validate(
            request_id="a", observation=make_obs(1), interventions={"log_stellar_mass": 10.0}
        ),
    )
    b = core.submit(
        "a", core.validate(request_id="b", observation=make_obs(1), interventions={"age": 3.0})
    )
    c = core.submit(
        "a",
        core.validate(
            request_id="c",
            observation=make_obs(1),
            interventions={"log_stellar_mass": 10.0},
            physics_tolerance=1e8,
        ),
    )
    before = core._pool.batches
    release.set()
    blocker.result(10)
    for f in (a, b, c):
        f.result(10)
    assert core._pool.batches == before + 3


def test_request_timed_out_while_queued_is_dropped(core, make_obs):
    release, blocker = _block(core, make_obs)
    call = core.validate(request_id="late", observation=make_obs(1), interventions={})
    with pytest.raises(TimeoutError, match="late"):
        core.infer("a", call, timeout_s=0.05)
    before = core._pool.batched_requests
    release.set()
    blocker.result(10)
    core.close(wait=True)
    assert core._pool.batched_requests == before  # never ran
    assert core.pending == 0
