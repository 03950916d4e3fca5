"""Blind inference end to end through the JSON forms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acie.errors import DataFormatError, KeyMismatchError
from acie.privacy.blind import BlindInferenceClient, BlindInferenceServer, blind_infer
from acie.privacy.linear import EncryptedLinearLayer


def _probe(seed=3, k=8, m=3):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(m, k)) * 0.3, rng.normal(size=m)
    return w, b, EncryptedLinearLayer(w, b, precision=EncryptedLinearLayer.max_precision(w))


def test_client_server_round_trip(keys1024):
    pk, sk = keys1024
    w, b, layer = _probe()
    x = np.random.default_rng(4).normal(size=8)
    client = BlindInferenceClient(private_key=sk, precision=24, value_bound=100.0)
    server = BlindInferenceServer(layer=layer, pool_capacity=8)
    request = json.loads(json.dumps(client.request(x)))  # over the wire
    assert "p" not in request["public_key"]
    assert "q" not in request["public_key"]
    assert server.prefill(pk) == 8
    response = json.loads(json.dumps(server.evaluate(request, public_key=pk)))
    assert server.pool(pk).taken == 3
    y = client.decrypt(response)
    tol = 2.0 ** -(layer.precision + 1) * np.abs(x).sum() + 2.0**-25 * np.abs(w).sum(axis=1).max()
    np.testing.assert_allclose(y, w @ x + b, rtol=0, atol=tol)
    np.testing.assert_allclose(
        blind_infer(x, layer=layer, private_key=sk, value_bound=100.0), y, rtol=0, atol=0
    )


def test_background_refill(keys512):
    pk, sk = keys512
    _, _, layer = _probe()
    server = BlindInferenceServer(layer=layer, pool_capacity=6, background_refill=True)
    client = BlindInferenceClient(private_key=sk)
    client.decrypt(
        server.evaluate(client.request(np.zeros(8)))
    )  # empty pool: 3 misses, refill starts
    assert server.pools.join_refill(timeout=60)
    assert server.pool(pk).available == 6
    assert server.pool(pk).misses == 3


def test_server_refuses_wrong_key_and_bad_payloads(keys1024, keys512):
    _, sk = keys1024
    pk_other, _ = keys512
    _, _, layer = _probe()
    client = BlindInferenceClient(private_key=sk)
    server = BlindInferenceServer(layer=layer)
    request = client.request(np.zeros(8))
    with pytest.raises(KeyMismatchError, match="server expects"):
        server.evaluate(request, public_key=pk_other)
    with pytest.raises(DataFormatError, match="format"):
        server.evaluate({"format": "nope"})
    with pytest.raises(DataFormatError, match="format"):
        client.decrypt({"format": "nope"})


@pytest.mark.slow
def test_example_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "blind_inference.py"
    res = subprocess.run(
        [
            sys.executable,
            str(script),
            "--bits",
            "512",
            "--galaxies",
            "2",
            "--plot",
            str(tmp_path / "probe.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "max |blind - plaintext probe|" in res.stdout
    diff = float(res.stdout.split("max |blind - plaintext probe| = ")[1].split()[0])
    assert diff < 1e-2  # weight quantisation at >= 12 bits times sum |x| (64 features, |x| < 2)
    assert (tmp_path / "probe.png").stat().st_size > 10_000
