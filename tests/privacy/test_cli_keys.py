"""`acie keys` commands."""

from __future__ import annotations

import json
import os
import stat

from typer.testing import CliRunner

from acie.cli.main import app
from acie.errors import ConflictError
from acie.privacy.aead import Keyring
from acie.privacy.paillier import PaillierPrivateKey, PaillierPublicKey

runner = CliRunner()


def test_paillier_export_inspect(tmp_path):
    res = runner.invoke(
        app,
        ["keys", "paillier", "--out", str(tmp_path), "--name", "lab", "--bits", "512", "--json"],
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    priv, pub = tmp_path / "lab.key.json", tmp_path / "lab.pub.json"
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    sk = PaillierPrivateKey.load(priv)
    assert PaillierPublicKey.load(pub) == sk.public_key
    assert info["fingerprint"] == sk.fingerprint
    assert info["bits"] == 512
    res = runner.invoke(
        app, ["keys", "export-public", str(priv), "--out", str(tmp_path / "x.pub.json")]
    )
    assert res.exit_code == 0, res.output
    assert PaillierPublicKey.load(tmp_path / "x.pub.json") == sk.public_key
    res = runner.invoke(app, ["keys", "inspect", str(priv), "--json"])
    assert json.loads(res.output) == {
        "kind": "private",
        "bits": 512,
        "fingerprint": sk.fingerprint,
        "mode": "0o600",
    }
    assert str(int(sk.p)) not in res.output
    res = runner.invoke(
        app, ["keys", "paillier", "--out", str(tmp_path), "--name", "lab", "--bits", "512"]
    )
    assert isinstance(res.exception, ConflictError)


def test_aes_key(tmp_path):
    res = runner.invoke(app, ["keys", "aes", "--key-id", "tel-1", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    ring = Keyring.from_base64(info["spec"])
    assert ring.current == "tel-1"
    assert info["bits"] == 256
    out = tmp_path / "aes.key"
    res = runner.invoke(app, ["keys", "aes", "--out", str(out)])
    assert res.exit_code == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert Keyring.from_base64(out.read_text().strip()).current in res.output
    assert out.read_text().split(":")[1].strip() not in res.output
