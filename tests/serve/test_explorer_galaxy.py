"""Galaxy detail and galaxy counterfactuals of the explorer, through the app as ``acie serve`` builds it.

The image is checked against the galaxy simulator's own draw of the sample (rendered in
the tiny model's camera: one band, 16-pixel stamps), the counterfactual against the
engine called directly on the same image, the ranges against
:data:`acie.galaxy.properties.RANGES`. Adversarial: no credentials, wrong role, bad ids,
unknown names, out-of-range values, cookie POSTs without the CSRF header.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from acie.wire.tensors import decode_b64

from .conftest import LOOSE_TOLERANCE

PASSWORD = "correct horse battery"
CAMERA = {"image_size": 16, "bands": ("g",)}  # the tiny model's (1, 16, 16), no metadata


def _tensor(d: dict) -> np.ndarray:
    return decode_b64(d["shape"], d["dtype"], d["data"])


@pytest.fixture
def browser(server):
    """An httpx client signed in as a researcher with the session cookies."""
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    engine = create_engine_for(server.runtime.settings.database_url)
    add_user(engine, "gail", PASSWORD)
    add_user(engine, "colin", PASSWORD, role="collaborator")
    engine.dispose()
    with httpx.Client(base_url=server.http_url, timeout=60) as c:
        r = c.post("/v1/session/login", json={"username": "gail", "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = c.cookies["acie_csrf"]
        yield c


def test_galaxy_detail_is_the_simulators_galaxy_and_reproducible(browser, server):
    from acie.analysis.samples import sample_population
    from acie.galaxy.properties import RANGES, UNITS
    from acie.galaxy.simulator import GalaxySimulator

    r = browser.get("/v1/explorer/galaxy", params={"catalogue": "cluster_sim_a", "id": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    again = browser.get("/v1/explorer/galaxy", params={"catalogue": "cluster_sim_a", "id": 7})
    assert again.json()["image"] == body["image"]  # the same pixels on every call

    # the simulator's own draw of the sample, rendered in the model's camera
    sim, batch = sample_population("cluster_sim_a")
    camera = GalaxySimulator(**{**sim.config(), **CAMERA})
    truth = camera.counterfactual(batch[[7]], {}).images[0]
    img = _tensor(body["image"])
    assert img.shape == (1, 16, 16)
    np.testing.assert_array_equal(img, truth)
    assert body["bands"] == ["g"]
    assert body["model_version"] == server.runtime.model_version
    for name, value in batch.properties.items():
        assert body["properties"][name] == pytest.approx(float(value[7]), rel=1e-12)
        assert body["units"][name] == UNITS[name]
    assert body["properties"]["redshift"] == pytest.approx(float(batch.nuisances["redshift"][7]))
    sliders = {s["name"]: s for s in body["intervenable"]}
    assert set(sliders) == set(server.runtime.model.property_names)
    for name, s in sliders.items():
        assert (s["low"], s["high"]) == (RANGES[name].low, RANGES[name].high)
        assert s["value"] == pytest.approx(body["properties"][name])
    assert "log_sfr" in sliders["log_stellar_mass"]["descendants"]
    assert sliders["velocity_dispersion"]["descendants"] == []


def test_galaxy_counterfactual_matches_the_engine_and_has_an_uncertainty_map(
    browser, server, tiny_engine
):
    from acie.analysis.catalogue_galaxies import render_galaxies

    ivs = {"log_stellar_mass": 10.7}
    r = browser.post(
        "/v1/explorer/galaxy/counterfactual",
        json={
            "catalogue": "sim_500",
            "id": 42,
            "interventions": ivs,
            "physics_tolerance": LOOSE_TOLERANCE,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    image, cf = _tensor(body["image"]), _tensor(body["counterfactual"])
    diff, unc = _tensor(body["difference"]), _tensor(body["uncertainty"])
    assert image.shape == cf.shape == diff.shape == unc.shape == (1, 16, 16)
    np.testing.assert_array_equal(image, render_galaxies("sim_500", [42], render=CAMERA)[0])
    np.testing.assert_allclose(diff, cf - image, rtol=0, atol=1e-6)
    # the engine on the same image gives the same counterfactual (batch rows independent)
    direct = tiny_engine.counterfactual(image, ivs, physics_tolerance=LOOSE_TOLERANCE)
    np.testing.assert_allclose(cf, direct.images, rtol=1e-4, atol=1e-4 * np.abs(cf).max())
    assert body["counterfactual_properties"]["log_stellar_mass"] == pytest.approx(10.7, abs=1e-6)
    assert body["confidence"] == pytest.approx(float(direct.confidence[0]), abs=1e-5)
    assert body["violation_score"] == pytest.approx(float(direct.violation_score[0]), rel=1e-4)
    assert body["model_version"] == server.runtime.model_version
    # the map: the engine's own particles (same seed), finite, >= 0, not all zero
    particles = tiny_engine.counterfactual(
        image[None], ivs, physics_tolerance=LOOSE_TOLERANCE, n_particles=8
    ).uncertainty
    np.testing.assert_allclose(unc, particles.image_std[0], rtol=1e-4, atol=1e-6)
    assert np.all(np.isfinite(unc))
    assert np.all(unc >= 0)
    assert unc.max() > 0
    assert body["n_particles"] == 8
    assert body["particles_accepted"] == int(particles.accepted[0])
    assert "particles" in body["uncertainty_method"]
    q = body["intervals"]["log_gas_mass"]
    assert q["p2.5"] <= q["p16"] <= q["p50"] <= q["p84"] <= q["p97.5"]


def test_galaxy_routes_refuse_hostile_and_unauthorised_requests(browser, server, token):
    url = server.http_url
    cf = {
        "catalogue": "sim_500",
        "id": 1,
        "interventions": {"log_stellar_mass": 10.5},
        "physics_tolerance": LOOSE_TOLERANCE,
    }
    with httpx.Client(base_url=url, timeout=60) as anon:
        assert (
            anon.get("/v1/explorer/galaxy", params={"catalogue": "sim_500", "id": 1}).status_code
            == 401
        )
        assert anon.post("/v1/explorer/galaxy/counterfactual", json=cf).status_code == 401
        bad = anon.get(
            "/v1/explorer/galaxy",
            params={"catalogue": "sim_500", "id": 1},
            headers={"Authorization": "Bearer not-a-token"},
        )
        assert bad.status_code == 401
        collab = {
            "Authorization": f"Bearer {token(sub='carl', role='collaborator', scopes=('inference:read',))}"
        }
        assert (
            anon.get(
                "/v1/explorer/galaxy", params={"catalogue": "sim_500", "id": 1}, headers=collab
            ).status_code
            == 200
        )
        r = anon.post("/v1/explorer/galaxy/counterfactual", json=cf, headers=collab)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "PERMISSION_DENIED"

    # a signed-in collaborator (cookie) may look but not ask
    with httpx.Client(base_url=url, timeout=60) as c:
        assert (
            c.post(
                "/v1/session/login", json={"username": "colin", "password": PASSWORD}
            ).status_code
            == 200
        )
        c.headers["X-CSRF-Token"] = c.cookies["acie_csrf"]
        assert c.post("/v1/explorer/galaxy/counterfactual", json=cf).status_code == 403

    # CSRF: the cookie alone is not enough for a POST
    no_csrf = browser.post(
        "/v1/explorer/galaxy/counterfactual", json=cf, headers={"X-CSRF-Token": "forged"}
    )
    assert no_csrf.status_code == 403, no_csrf.text
    browser.headers.pop("X-CSRF-Token")
    assert browser.post("/v1/explorer/galaxy/counterfactual", json=cf).status_code == 403
    browser.headers["X-CSRF-Token"] = browser.cookies["acie_csrf"]

    cases = [
        ({"catalogue": "sim_500", "id": 500}, 404, "NOT_FOUND"),
        ({"catalogue": "sim_500", "id": -1}, 400, "INVALID_ARGUMENT"),
        ({"catalogue": "sim_500", "id": "1; drop"}, 400, "INVALID_ARGUMENT"),
        ({"catalogue": "nowhere", "id": 1}, 400, "INVALID_ARGUMENT"),
        ({"catalogue": "sim_2000000", "id": 1}, 400, "INVALID_ARGUMENT"),
        ({"catalogue": "x" * 65, "id": 1}, 400, "INVALID_ARGUMENT"),
    ]
    for params, status, code in cases:
        r = browser.get("/v1/explorer/galaxy", params=params)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (params, r.text)
    posts = [
        ({**cf, "id": 10**6}, 404),
        ({**cf, "interventions": {"dark_energy": 1.0}}, 400),
        ({**cf, "interventions": {"log_stellar_mass": 20.0}}, 400),  # outside RANGES
        ({**cf, "interventions": {"sersic_n": -1.0}}, 400),  # not physical
        ({**cf, "interventions": {"log_stellar_mass": "NaN"}}, 400),
        ({**cf, "physics_tolerance": 0}, 400),
        ({**cf, "extra": 1}, 400),
        ({**cf, "interventions": {f"p{i}": 1.0 for i in range(17)}}, 400),
        ({**cf, "n_particles": 1000}, 400),
        ({**cf, "n_particles": 1}, 400),
    ]
    for body, status in posts:
        r = browser.post("/v1/explorer/galaxy/counterfactual", json=body)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()["error"]) >= {"code", "message", "trace_id"}


def test_a_physics_violation_is_refused_with_422(browser):
    r = browser.post(
        "/v1/explorer/galaxy/counterfactual",
        json={
            "catalogue": "sim_500",
            "id": 3,
            "interventions": {"log_stellar_mass": 12.4},
            "physics_tolerance": 1e-12,
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "FAILED_PRECONDITION"


def test_catalogue_images_are_the_simulators_own_draw():
    from acie.analysis.catalogue_galaxies import model_camera, render_galaxies
    from acie.errors import NotFoundError, ShapeError
    from acie.galaxy.simulator import GalaxySimulator

    drawn = GalaxySimulator().sample(50, seed=0, render=True).images
    rows = [0, 7, 49, 7]
    np.testing.assert_array_equal(render_galaxies("sim_50", rows), drawn[rows])
    with pytest.raises(NotFoundError):
        render_galaxies("sim_50", [50])
    # a model's camera: its training simulator, else its (C, H, W) in g, r, i order
    assert model_camera({"simulator": {"image_size": 64, "bands": ["g", "r", "i"]}}, (3, 64, 64))[
        "bands"
    ] == ("g", "r", "i")
    assert model_camera({}, (2, 32, 32)) == {"image_size": 32, "bands": ("g", "r")}
    for shape in ((4, 16, 16), (1, 16, 8)):
        with pytest.raises(ShapeError):
            model_camera({}, shape)
