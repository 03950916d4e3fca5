"""Key hygiene (issue 14): private key file modes, weak AES keys, weak Paillier moduli."""

from __future__ import annotations

import json
import os
import sys

import gmpy2
import pytest
from typer.testing import CliRunner

from acie.cli.main import app
from acie.errors import CryptoError
from acie.privacy.aead import Keyring, decode_key, encode_key
from acie.privacy.paillier import PaillierPrivateKey, PaillierPublicKey

runner = CliRunner()
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@posix_only
@pytest.mark.parametrize("mode", [0o666, 0o640, 0o604, 0o644])
def test_group_or_world_readable_private_key_is_refused(tmp_path, keys512, mode):
    _, sk = keys512
    path = tmp_path / "k.key.json"
    sk.save(path)
    os.chmod(path, mode)
    with pytest.raises(CryptoError, match=rf"{oct(mode)[2:]}.*chmod 600"):
        PaillierPrivateKey.load(path)
    # the explicit override loads it
    assert PaillierPrivateKey.load(path, allow_insecure_mode=True) == sk
    os.chmod(path, 0o600)
    assert PaillierPrivateKey.load(path) == sk
    os.chmod(path, 0o400)
    assert PaillierPrivateKey.load(path) == sk


@posix_only
def test_cli_refuses_and_inspect_warns(tmp_path, keys512):
    _, sk = keys512
    path = tmp_path / "k.key.json"
    sk.save(path)
    os.chmod(path, 0o666)
    res = runner.invoke(app, ["keys", "export-public", str(path), "--out", str(tmp_path / "p")])
    assert isinstance(res.exception, CryptoError)  # acie's main prints it on one line, exit 2
    assert "chmod 600" in str(res.exception)
    assert not (tmp_path / "p").exists()
    res = runner.invoke(
        app,
        ["keys", "export-public", str(path), "--out", str(tmp_path / "p"), "--allow-insecure-mode"],
    )
    assert res.exit_code == 0, res.output
    assert PaillierPublicKey.load(tmp_path / "p") == sk.public_key
    res = runner.invoke(app, ["keys", "inspect", str(path), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["mode"] == "0o666"
    assert "chmod 600" in info["warning"]
    res = runner.invoke(app, ["keys", "inspect", str(path)])
    assert "warning" in res.output.lower()
    assert "chmod 600" in res.output
    os.chmod(path, 0o600)
    res = runner.invoke(app, ["keys", "inspect", str(path), "--json"])
    assert "warning" not in json.loads(res.stdout)


@pytest.mark.parametrize(
    "key",
    [bytes(32), bytes(16), b"\xff" * 24, b"\x41" * 32, b"\x01\x02" * 16, b"abcd" * 8],
)
def test_trivially_weak_aes_keys_are_refused(key):
    with pytest.raises(CryptoError, match="weak"):
        Keyring({"k1": key}, current="k1")
    with pytest.raises(CryptoError, match="weak"):
        Keyring.from_base64(f"k1:{encode_key(key)}")
    with pytest.raises(CryptoError, match="weak"):
        decode_key(encode_key(key))


def test_random_aes_key_is_accepted():
    ring = Keyring.generate(key_id="k1")
    assert Keyring.from_base64(ring.to_base64()).ids == ["k1"]


def _prime(bits: int, seed: int) -> int:
    state = gmpy2.random_state(seed)
    return int(gmpy2.next_prime(gmpy2.mpz_urandomb(state, bits) | (1 << (bits - 1))))


@pytest.mark.parametrize("small", [3, 5, 7919, 9973])
def test_public_key_with_a_small_prime_factor_is_refused(small):
    n = small * _prime(1024 - small.bit_length() + 1, seed=small)
    assert n % 2 == 1
    with pytest.raises(CryptoError, match="small prime factor"):
        PaillierPublicKey(n=n)


def test_public_key_that_is_a_perfect_power_is_refused():
    p = _prime(512, seed=1)
    with pytest.raises(CryptoError, match="perfect power"):
        PaillierPublicKey(n=p * p)
    with pytest.raises(CryptoError, match="perfect power"):
        PaillierPublicKey(n=_prime(342, seed=2) ** 3)


def test_genuine_public_key_still_accepted(keys512):
    pk, _ = keys512
    assert PaillierPublicKey(n=int(pk.n)) == pk
