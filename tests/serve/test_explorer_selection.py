"""Selection counterfactuals of the explorer: one job per selection, through ``acie serve``'s app.

The job is followed over the job WebSocket with the session cookie, its result checked
for consistency (counts add up, the intervened property moves by exactly log10 2, the
histograms count the galaxies used); the summary statistics are checked against
scipy's one-sample t interval. Adversarial: no credentials, wrong role, missing CSRF,
bad or oversized id lists, unknown properties, non-positive factors, other users' jobs.
"""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from .conftest import LOOSE_TOLERANCE

PASSWORD = "correct horse battery"
URL = "/v1/explorer/selection/counterfactual"


@pytest.fixture
def browser(server):
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    engine = create_engine_for(server.runtime.settings.database_url)
    add_user(engine, "sara", PASSWORD)
    engine.dispose()
    with httpx.Client(base_url=server.http_url, timeout=60) as c:
        r = c.post("/v1/session/login", json={"username": "sara", "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = c.cookies["acie_csrf"]
        yield c


def _follow(server, client, job_id: str) -> list[dict]:
    url = server.http_url.replace("http", "ws") + f"/v1/jobs/{job_id}/progress"
    cookie = f"acie_access={client.cookies['acie_access']}"
    origin = server.http_url
    messages = []
    with connect(url, additional_headers={"Cookie": cookie}, origin=origin, open_timeout=10) as ws:
        while True:
            msg = json.loads(ws.recv(timeout=120))
            messages.append(msg)
            if msg.get("final"):
                return messages


def test_selection_counterfactual_job_end_to_end(browser, server):
    ids = np.arange(0, 300, 3, dtype="<u4")  # 100 galaxies of cluster_sim_b, as the map's ids
    body = {
        "catalogue": "cluster_sim_b",
        "ids_b64": base64.b64encode(ids.tobytes()).decode(),
        "intervention": {"property": "log_stellar_mass", "factor": 2.0},
        "sample_size": 40,
        "seed": 3,
        "bins": 12,
        "gallery": 3,
        "physics_tolerance": LOOSE_TOLERANCE,
    }
    r = browser.post(URL, json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "QUEUED"
    assert job["owner"] == "sara"

    states = [m["state"] for m in _follow(server, browser, job["job_id"]) if "state" in m]
    assert states[:1] == ["QUEUED"]
    assert states[-1] == "COMPLETE", states
    assert "PROCESSING" in states
    assert "PHYSICS_CHECK" in states

    view = browser.get(f"/v1/explorer/selection/{job['job_id']}").json()
    res = view["result"]
    assert view["job"]["state"] == "COMPLETE"
    assert res["n_selected"] == 100
    assert res["n_sampled"] == 40
    assert res["n_used"] + res["n_out_of_range"] + res["n_refused"] == 40
    assert res["n_used"] >= 2
    assert res["model_version"] == server.runtime.model_version
    used = np.asarray(res["ids_used"])
    assert set(used.tolist()) <= set(ids.tolist())
    # the intervened node moves by exactly log10(2) from the abducted value
    shift = res["mean_shift"]["log_stellar_mass"]
    assert shift["mean"] == pytest.approx(np.log10(2.0), abs=1e-4)
    assert shift["se"] == pytest.approx(0.0, abs=1e-4)
    assert shift["n"] == res["n_used"]
    for name, h in res["histograms"].items():
        assert len(h["edges"]) == 13, name
        assert sum(h["before"]) == sum(h["after"]) == res["n_used"], name
    assert len(res["gallery"]) == min(3, res["n_used"])
    for g in res["gallery"]:
        assert g["before"]["shape"] == g["after"]["shape"] == [1, 8, 8]
        assert g["id"] in used
    # the same selection and seed draw the same sample: the same galaxies again
    again = browser.post(URL, json={**body, "gallery": 0}).json()
    _follow(server, browser, again["job_id"])
    res2 = browser.get(f"/v1/explorer/selection/{again['job_id']}").json()["result"]
    assert res2["ids_used"] == res["ids_used"]
    # the generic job views keep working for this kind of job
    generic = browser.get(f"/v1/jobs/{job['job_id']}")
    assert generic.status_code == 200, generic.text
    assert generic.json()["state"] == "COMPLETE"


def test_mean_shifts_agree_with_scipy_and_apply_the_finite_population_correction():
    from scipy import stats

    from acie.analysis.selection_counterfactual import mean_shifts, property_histograms

    rng = np.random.default_rng(7)
    before = {"a": rng.normal(size=50)}
    after = {"a": before["a"] + 0.3 + 0.1 * rng.normal(size=50)}
    out = mean_shifts(before, after)["a"]
    d = after["a"] - before["a"]
    ci = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert out["mean"] == pytest.approx(d.mean(), rel=1e-12)
    assert out["ci95"] == pytest.approx([ci.low, ci.high], rel=1e-10)
    assert out["se"] == pytest.approx(stats.sem(d), rel=1e-12)
    fpc = mean_shifts(before, after, population=200)["a"]
    assert fpc["se"] == pytest.approx(stats.sem(d) * np.sqrt(150 / 199), rel=1e-12)
    assert mean_shifts(before, after, population=50)["a"]["se"] == 0.0  # the whole selection
    h = property_histograms(before, after, 10)["a"]
    assert sum(h["before"]) == sum(h["after"]) == 50
    np.testing.assert_array_equal(np.histogram(before["a"], h["edges"])[0], h["before"])


def test_selection_refusals(browser, server, token):
    base = {
        "catalogue": "cluster_sim_b",
        "ids": [1, 2, 3],
        "intervention": {"property": "log_stellar_mass", "shift": 0.3},
    }
    with httpx.Client(base_url=server.http_url, timeout=60) as anon:
        assert anon.post(URL, json=base).status_code == 401
        collab = token(sub="carl", role="collaborator", scopes=("inference:read",))
        r = anon.post(URL, json=base, headers={"Authorization": f"Bearer {collab}"})
        assert r.status_code == 403, r.text
    # CSRF: a cookie POST without the header, or with another value
    assert browser.post(URL, json=base, headers={"X-CSRF-Token": "x"}).status_code == 403

    cases = [
        ({**base, "ids": None}, 400),  # neither form
        ({**base, "ids_b64": "AAAAAA=="}, 400),  # both forms
        ({**base, "ids": []}, 400),
        ({**base, "ids": [300]}, 404),  # outside the 300 galaxies
        ({**base, "ids": [-1]}, 400),
        ({**base, "ids": list(range(10_001))}, 400),  # over the JSON list cap
        ({**base, "ids": None, "ids_b64": "not base64!"}, 400),
        ({**base, "ids": None, "ids_b64": base64.b64encode(b"\x01\x02\x03").decode()}, 400),
        ({**base, "catalogue": "elsewhere"}, 400),
        ({**base, "intervention": {"property": "dark_energy", "shift": 1}}, 400),
        ({**base, "intervention": {"property": "log_stellar_mass", "factor": 0}}, 400),
        ({**base, "intervention": {"property": "log_stellar_mass", "factor": -2}}, 400),
        ({**base, "intervention": {"property": "log_stellar_mass"}}, 400),
        ({**base, "intervention": {"property": "log_stellar_mass", "shift": 1, "value": 9}}, 400),
        ({**base, "sample_size": 5000}, 400),
        ({**base, "bins": 10**6}, 400),
        ({**base, "gallery": 1000}, 400),
    ]
    for body, status in cases:
        r = browser.post(URL, json=body)
        assert r.status_code == status, (str(body)[:200], r.text[:300])
        assert set(r.json()["error"]) >= {"code", "message", "trace_id"}

    # over a million ids as base64: refused before any decoding
    huge = base64.b64encode(np.zeros(1_000_001, dtype="<u4").tobytes()).decode()
    r = browser.post(URL, json={**base, "ids": None, "ids_b64": huge})
    assert r.status_code in (400, 413), r.text[:300]
    # a body over MAX_REQUEST_BYTES: 413 before parsing
    r = browser.post(
        URL,
        content=b'{"catalogue": "' + b"x" * (9 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413

    # another researcher cannot read sara's job; a non-selection id is not a selection
    r = browser.post(URL, json={**base, "physics_tolerance": LOOSE_TOLERANCE})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    other = token(sub="otto")
    with httpx.Client(base_url=server.http_url, timeout=60) as c:
        r = c.get(f"/v1/explorer/selection/{job_id}", headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 403, r.text
    assert browser.get("/v1/explorer/selection/not-a-uuid").status_code == 404
    _follow(server, browser, job_id)


def test_job_socket_refuses_a_cookie_from_another_origin(browser, server):
    from websockets.exceptions import ConnectionClosed

    r = browser.post(
        URL,
        json={
            "catalogue": "cluster_sim_c",
            "ids": [4, 5],
            "intervention": {"property": "log_sfr", "shift": -0.5},
            "physics_tolerance": LOOSE_TOLERANCE,
        },
    )
    assert r.status_code == 202, r.text
    url = server.http_url.replace("http", "ws") + f"/v1/jobs/{r.json()['job_id']}/progress"
    cookie = f"acie_access={browser.cookies['acie_access']}"
    for headers, origin, code in (
        ({"Cookie": cookie}, "http://evil.example", 4403),  # cross-site WebSocket hijacking
        ({"Cookie": "acie_access=forged"}, server.http_url, 4401),
    ):
        with (
            connect(url, additional_headers=headers, origin=origin, open_timeout=10) as ws,
            pytest.raises(ConnectionClosed) as closed,
        ):
            ws.recv(timeout=30)
        assert closed.value.rcvd.code == code
    _follow(server, browser, r.json()["job_id"])
