"""Paillier keys, encryption, decryption and ciphertext arithmetic."""

from __future__ import annotations

import json
import os
import stat

import gmpy2
import phe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acie.errors import (
    CryptoError,
    DataFormatError,
    EncodingOverflowError,
    InputValidationError,
    IntegrityError,
    KeyMismatchError,
)
from acie.privacy._crt import factor_group_order
from acie.privacy.paillier import (
    PaillierCiphertext,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)

small_ints = st.integers(min_value=-(2**64), max_value=2**64)


def test_keygen_properties(keys512):
    pk, sk = keys512
    assert pk.bits == 512
    assert pk.n == sk.p * sk.q
    assert sk.p != sk.q
    assert gmpy2.is_prime(sk.p)
    assert gmpy2.is_prime(sk.q)
    assert sk.p.bit_length() == sk.q.bit_length() == 256
    assert abs(sk.p - sk.q).bit_length() > 256 - 100  # far apart
    assert gmpy2.gcd(pk.n, (sk.p - 1) * (sk.q - 1)) == 1
    assert pk.g == pk.n + 1
    # p - 1 fully factored by trial division + a prime cofactor: the CRT tables apply
    assert factor_group_order(sk.p) is not None
    assert factor_group_order(sk.q) is not None
    assert sk.prepare()._encryptor.pside.table is not None


def test_keygen_rejects_bad_sizes():
    with pytest.raises(InputValidationError, match="even number of bits"):
        generate_keypair(255)
    with pytest.raises(InputValidationError):
        generate_keypair(128)
    with pytest.raises(InputValidationError, match="integer"):
        generate_keypair(2048.0)


def test_2048_bit_key_round_trip_and_phe_agrees():
    pk, sk = generate_keypair(2048)
    assert pk.bits == 2048
    m = -(2**300) + 12345
    c_holder, c_public = sk.encrypt(m), pk.encrypt(m)
    assert sk.decrypt(c_holder) == m
    assert sk.decrypt(c_public) == m
    psk = phe.PaillierPrivateKey(phe.PaillierPublicKey(int(pk.n)), int(sk.p), int(sk.q))
    # phe decrypts our key-holder ciphertext (independent implementation)
    assert psk.decrypt(phe.EncryptedNumber(psk.public_key, int(c_holder.value))) == m
    assert sk.decrypt(c_holder + c_public) == 2 * m


@given(a=small_ints, b=small_ints, k=st.integers(min_value=-(2**40), max_value=2**40))
@settings(max_examples=30, deadline=None)
def test_homomorphic_laws(keys512, a, b, k):
    pk, sk = keys512
    ca, cb = sk.encrypt(a), pk.encrypt(b)
    assert sk.decrypt(ca + cb) == a + b
    assert sk.decrypt(ca + b) == a + b
    assert sk.decrypt(b + ca) == a + b
    assert sk.decrypt(ca - cb) == a - b
    assert sk.decrypt(ca * k) == a * k
    assert sk.decrypt(k * ca) == a * k
    assert sk.decrypt(-ca) == -a
    assert sk.decrypt(b - ca) == b - a
    assert sk.decrypt((ca + cb) * k) == sk.decrypt(ca * k + cb * k)  # distributive


def test_edges_of_plaintext_space(keys512):
    pk, sk = keys512
    top = int(pk.max_int)
    for m in (0, 1, -1, top, -top):
        assert sk.decrypt(sk.encrypt(m)) == m
        assert sk.decrypt(pk.encrypt(m)) == m
    with pytest.raises(EncodingOverflowError, match="max_int"):
        pk.encrypt(top + 1)
    with pytest.raises(EncodingOverflowError):
        sk.encrypt(-top - 1)
    # top + top lands in the overflow band (max_int, n - max_int): detected, not wrapped
    with pytest.raises(EncodingOverflowError, match="overflow"):
        sk.decrypt(sk.encrypt(top) + sk.encrypt(top))
    with pytest.raises(EncodingOverflowError, match="overflow"):
        sk.decrypt_many([sk.encrypt(top) * 2])
    assert sk.decrypt_raw(sk.encrypt(-1)) == int(pk.n) - 1


def test_decrypt_many_and_bounded(keys512):
    _, sk = keys512
    ms = [0, 5, -7, 2**60, -(2**60)]
    cts = [sk.encrypt(m) for m in ms]
    assert sk.decrypt_many(cts) == ms
    assert sk.decrypt_bounded(cts, 2**60) == ms
    with pytest.raises(EncodingOverflowError, match="bound"):
        sk.decrypt_bounded(cts, 2**59)
    assert sk.decrypt_many([]) == []
    # a bound too wide for mod-p decryption falls back to full CRT and still checks it
    wide = int(sk.p)
    big = [sk.encrypt(wide), sk.encrypt(-wide)]
    assert sk.decrypt_bounded(big, wide) == [wide, -wide]
    with pytest.raises(EncodingOverflowError, match="bound"):
        sk.decrypt_bounded(big, wide - 1)
    with pytest.raises(InputValidationError, match="non-negative"):
        sk.decrypt_bounded(cts, -1)


def test_key_holder_randomness_is_a_uniform_nth_residue(keys512):
    pk, sk = keys512
    p, q = sk.p, sk.q
    lam = (p - 1) * (q - 1)
    residues = [sk.random_nth_residue() for _ in range(400)]
    assert len(set(residues)) == 400
    for r in residues[:20]:
        assert gmpy2.powmod(r, lam, pk.nsquare) == 1
        assert r != 1
    # r^n mod p is uniform on Z_p^*, so half are quadratic residues mod p (and mod q).
    # A generator mistake (table base a square) would give 100 %. Binomial(400, 1/2):
    # sigma = 10; tolerance 5 sigma.
    for prime in (p, q):
        squares = sum(gmpy2.legendre(r % prime, prime) == 1 for r in residues)
        assert abs(squares - 200) <= 50


def test_foreign_key_uses_fallback_and_still_works():
    ppk, psk = phe.generate_paillier_keypair(n_length=512)
    pk = PaillierPublicKey(n=ppk.n)
    sk = PaillierPrivateKey(public_key=pk, p=psk.p, q=psk.q)
    for m in (-3, 0, 10**20):
        c = sk.encrypt(m)
        assert psk.decrypt(phe.EncryptedNumber(ppk, int(c.value))) == m
    r = sk.random_nth_residue()
    assert gmpy2.powmod(r, (sk.p - 1) * (sk.q - 1), pk.nsquare) == 1


def test_phe_ciphertexts_decrypt_with_our_key(keys512):
    pk, sk = keys512
    ppk = phe.PaillierPublicKey(int(pk.n))
    for m in (-(2**100), -1, 0, 1, 2**100):
        assert sk.decrypt(PaillierCiphertext(pk, ppk.encrypt(m).ciphertext())) == m


def test_rerandomize_changes_ciphertext_not_plaintext(keys512):
    pk, sk = keys512
    c = sk.encrypt(99)
    d = c.rerandomize()
    assert d != c
    assert sk.decrypt(d) == 99
    assert c * 0 == PaillierCiphertext(pk, 1)  # deterministic: why outputs are re-randomised
    assert sk.decrypt((c * 0).rerandomize()) == 0


def test_type_and_key_errors(keys512, other_keys512):
    pk, sk = keys512
    _, sk2 = other_keys512
    c = sk.encrypt(1)
    with pytest.raises(InputValidationError, match="integer"):
        pk.encrypt(1.5)
    with pytest.raises(InputValidationError, match="integer"):
        pk.encrypt(True)
    with pytest.raises(TypeError):
        c + 1.5
    with pytest.raises(TypeError):
        c * 0.5
    with pytest.raises(KeyMismatchError):
        c + sk2.encrypt(1)
    with pytest.raises(KeyMismatchError, match="cannot be decrypted"):
        sk2.decrypt(c)
    with pytest.raises(InputValidationError, match=r"\(0, n²\)"):
        PaillierCiphertext(pk, 0)
    with pytest.raises(InputValidationError, match=r"\(0, n²\)"):
        PaillierCiphertext(pk, pk.nsquare)
    with pytest.raises(InputValidationError, match="odd integer"):
        PaillierPublicKey(n=2**600)
    with pytest.raises(InputValidationError, match="16384 bits"):
        PaillierPublicKey(n=2**20000 + 1)


def test_json_round_trip(keys512):
    pk, sk = keys512
    assert PaillierPublicKey.from_json(pk.to_json()) == pk
    sk2 = PaillierPrivateKey.from_json(sk.to_json())
    assert sk2 == sk
    assert sk2.decrypt(sk.encrypt(-5)) == -5
    assert PaillierPublicKey.from_json(sk.to_json()) == pk  # public part of a private key
    assert str(int(sk.p)) not in repr(sk)
    assert str(int(sk.q)) not in repr(sk)


def test_files_permissions_and_atomicity(keys512, tmp_path):
    pk, sk = keys512
    sk.save(tmp_path / "k.key.json")
    pk.save(tmp_path / "k.pub.json")
    assert stat.S_IMODE(os.stat(tmp_path / "k.key.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "k.pub.json").st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "k.key.json",
        "k.pub.json",
    ]  # no temp files left
    assert PaillierPrivateKey.load(tmp_path / "k.key.json") == sk
    assert PaillierPublicKey.load(tmp_path / "k.pub.json") == pk
    assert PaillierPublicKey.load(tmp_path / "k.key.json") == pk
    # overwriting keeps 0600 and replaces the content
    sk.save(tmp_path / "k.key.json")
    assert stat.S_IMODE(os.stat(tmp_path / "k.key.json").st_mode) == 0o600
    with pytest.raises(InputValidationError, match="folder must exist"):
        sk.save(tmp_path / "missing" / "k.json")


def test_bad_keys_are_refused(keys512, other_keys512, tmp_path):
    pk, sk = keys512
    _, sk2 = other_keys512
    data = sk.to_dict()
    with pytest.raises(KeyMismatchError, match="p·q"):
        PaillierPrivateKey.from_dict({**data, "p": str(int(sk2.p))})
    with pytest.raises(IntegrityError, match="fingerprint"):
        PaillierPublicKey.from_dict({**pk.to_dict(), "fingerprint": "0" * 64})
    with pytest.raises(DataFormatError, match="kind"):
        PaillierPublicKey.from_dict({**pk.to_dict(), "kind": "rsa"})
    with pytest.raises(DataFormatError, match="decimal"):
        PaillierPublicKey.from_dict({**pk.to_dict(), "n": "0x1234"})
    with pytest.raises(DataFormatError, match="g = n"):
        PaillierPublicKey.from_dict({**pk.to_dict(), "g": "2"})
    with pytest.raises(DataFormatError, match="kind"):
        PaillierPrivateKey.from_dict(pk.to_dict())
    # composite "primes" with the right product
    n = int(pk.n)
    with pytest.raises(CryptoError, match="primes"):
        PaillierPrivateKey(public_key=pk, p=1, q=n)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        PaillierPublicKey.load(bad)
    bad.write_text(json.dumps([1, 2]))
    bad.chmod(0o600)  # a private key file readable by others is refused before parsing
    with pytest.raises(DataFormatError, match="JSON object"):
        PaillierPrivateKey.load(bad)
    with pytest.raises(DataFormatError, match="cannot be read"):
        PaillierPublicKey.load(tmp_path / "absent.json")


@given(
    field=st.sampled_from(["kind", "n", "g", "bits", "fingerprint"]),
    value=st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.lists(st.integers(), max_size=2),
)
@settings(max_examples=100, deadline=None)
def test_public_key_from_dict_fuzz_only_typed_errors(keys512, field, value):
    """Any JSON value in any field gives a typed ACIE error or the key, nothing else."""
    pk, _ = keys512
    try:
        key = PaillierPublicKey.from_dict({**pk.to_dict(), field: value})
    except (DataFormatError, InputValidationError, IntegrityError):
        return
    assert key == pk or field == "n"
