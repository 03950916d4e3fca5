"""The explorer's projection and property payloads, from the app as ``acie serve`` builds it.

The map's PCA coordinates are checked against an independent SVD of the standardised
embeddings (numpy), the ids against the sample's own rows, the properties against
:func:`acie.analysis.samples.load_sample`.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from acie.wire.typed_arrays import CONTENT_TYPE, decode_columns, encode_columns

PASSWORD = "correct horse battery"


@pytest.fixture
def session_client(server):
    """An httpx client of the live server, signed in as a researcher through the cookies."""
    from acie.store.database import create_engine_for
    from acie.store.users import add_user

    engine = create_engine_for(server.runtime.settings.database_url)
    add_user(engine, "ella", PASSWORD)
    engine.dispose()
    with httpx.Client(base_url=server.http_url, timeout=60) as c:
        r = c.post("/v1/session/login", json={"username": "ella", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def _svd_projection(x: np.ndarray) -> np.ndarray:
    z = (x - x.mean(0)) / x.std(0)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    return u[:, :2] * s[:2]


def test_projection_payload_shape_ids_and_cache(session_client, server):
    from acie.analysis.samples import load_sample
    from acie.galaxy.properties import PROPERTY_NAMES

    c = session_client
    first = c.get("/v1/explorer/projection", params={"catalogue": "cluster_sim_a", "method": "pca"})
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == CONTENT_TYPE
    assert first.headers["x-cache"] == "miss"
    assert first.headers["x-projection-method"] == "pca"
    cols, meta = decode_columns(first.content)
    assert list(cols) == ["x", "y", "id"]
    assert [a.dtype.name for a in cols.values()] == ["float32", "float32", "uint32"]
    frame = load_sample("cluster_sim_a")
    n = len(frame)
    assert cols["x"].shape == (n,)
    np.testing.assert_array_equal(cols["id"], frame["galaxy_id"].to_numpy())
    assert meta["model_version"] == server.runtime.model_version
    # 12 bytes per point after the header, each column aligned for a typed-array view
    header = 8 + int.from_bytes(first.content[4:8], "little")
    assert len(first.content) == header + 12 * n
    assert header < 1024
    # PCA axes agree with an independent SVD up to sign (float32 tolerance)
    ref = _svd_projection(frame[list(PROPERTY_NAMES)].to_numpy(dtype=np.float64))
    for k, name in enumerate(("x", "y")):
        got = cols[name].astype(np.float64)
        sign = np.sign(got @ ref[:, k])
        np.testing.assert_allclose(sign * got, ref[:, k], rtol=0, atol=2e-3 * np.abs(ref).max())

    second = c.get(
        "/v1/explorer/projection", params={"catalogue": "cluster_sim_a", "method": "pca"}
    )
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content


def test_properties_columns_and_refusals(session_client):
    from acie.analysis.samples import load_sample

    c = session_client
    r = c.get(
        "/v1/explorer/properties", params={"catalogue": "cluster_sim_b", "columns": "mass,redshift"}
    )
    assert r.status_code == 200, r.text
    cols, meta = decode_columns(r.content)
    frame = load_sample("cluster_sim_b")
    assert list(cols) == ["id", "mass", "redshift"]
    np.testing.assert_allclose(cols["mass"], frame["mass"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(cols["redshift"], frame["redshift"].to_numpy(), rtol=1e-6)
    assert meta["units"]["mass"] == "solMass"

    bad = c.get("/v1/explorer/properties", params={"catalogue": "cluster_sim_b", "columns": "x"})
    assert bad.status_code == 400
    assert "mass" in bad.json()["error"]["message"]
    unknown = c.get("/v1/explorer/projection", params={"catalogue": "nope", "method": "pca"})
    assert unknown.status_code == 400
    assert "sim_<n>" in unknown.json()["error"]["message"]
    listing = c.get("/v1/explorer/catalogues").json()
    assert "cluster_sim_a" in listing["catalogues"]
    assert "pca" in listing["methods"]


def test_explorer_needs_a_session_or_token(server, token):
    with httpx.Client(base_url=server.http_url) as c:
        r = c.get("/v1/explorer/catalogues")
        assert r.status_code == 401
        r = c.get("/v1/explorer/catalogues", headers={"Authorization": f"Bearer {token()}"})
        assert r.status_code == 200


def test_simulated_catalogue_and_cache_keys(tmp_path):
    from acie.store.projection_cache import ProjectionCache

    cache = ProjectionCache(tmp_path)
    a = cache.payload("sim_2000", "v1", "pca")
    b = cache.payload("sim_2000", "v1", "pca")
    other_model = cache.payload("sim_2000", "v2", "pca")
    assert (a.hit, b.hit, other_model.hit) == (False, True, False)
    assert cache.path_for("sim_2000", "v1", "pca") != cache.path_for("sim_2000", "v2", "pca")
    cols, meta = decode_columns(a.data)
    assert cols["x"].shape == (2000,)
    np.testing.assert_array_equal(cols["id"], np.arange(2000))
    assert len(a.data) < 12 * 2000 + 512
    assert meta["model_version"] == "v1"


def test_column_codec_round_trip_and_errors():
    from acie.errors import DataFormatError, InputValidationError

    rng = np.random.default_rng(0)
    x = rng.standard_normal(7).astype(np.float32)
    ids = np.arange(7, dtype=np.uint32)
    data = encode_columns({"x": x, "id": ids}, meta={"k": "v"})
    cols, meta = decode_columns(data)
    np.testing.assert_array_equal(cols["x"], x)
    np.testing.assert_array_equal(cols["id"], ids)
    assert meta == {"k": "v"}
    with pytest.raises(InputValidationError, match="equal length"):
        encode_columns({"x": x, "id": ids[:3]})
    with pytest.raises(InputValidationError, match="float64"):
        encode_columns({"x": x.astype(np.float64)})
    with pytest.raises(DataFormatError, match="ACOL"):
        decode_columns(b"nope" + data[4:])
    with pytest.raises(DataFormatError, match="needs bytes"):
        decode_columns(data[:-4])


def test_projection_methods():
    from acie.analysis.projection import available_methods, project, resolve_method
    from acie.errors import InputValidationError, ShapeError

    assert resolve_method("auto").value == available_methods()[0]
    with pytest.raises(InputValidationError, match="one of"):
        resolve_method("tsne")
    with pytest.raises(ShapeError, match="d >= 2"):
        project(np.zeros((10, 1)), "pca")
    with pytest.raises(InputValidationError, match="finite"):
        project(np.full((10, 3), np.nan), "pca")


@pytest.mark.slow
def test_umap_projection_keeps_neighbourhoods_and_auto_shares_its_cache(tmp_path):
    """UMAP (umap-learn) of a catalogue: neighbourhoods kept (sklearn's trustworthiness),
    and ``auto`` resolves to the same cached file as ``umap``."""
    pytest.importorskip("umap")
    from sklearn.manifold import trustworthiness

    from acie.analysis.embedding_catalogues import load_embedding_catalogue
    from acie.store.projection_cache import ProjectionCache

    cache = ProjectionCache(tmp_path)
    first = cache.payload("cluster_sim_c", "v1", "umap")
    again = cache.payload("cluster_sim_c", "v1", "auto")
    assert (first.method, first.hit, again.hit) == ("umap", False, True)
    cols, _ = decode_columns(first.data)
    emb = load_embedding_catalogue("cluster_sim_c").embeddings.astype(np.float64)
    z = (emb - emb.mean(0)) / emb.std(0)
    xy = np.column_stack([cols["x"], cols["y"]])
    assert trustworthiness(z, xy, n_neighbors=10) > 0.85
