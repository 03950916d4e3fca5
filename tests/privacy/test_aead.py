"""AES-GCM line encryption: round trips, tamper/reorder/wrong-key detection, key rotation."""

from __future__ import annotations

import base64
import json

import pytest

from acie.errors import InputValidationError, IntegrityError
from acie.privacy.aead import Keyring, LineCipher, decode_key, encode_key, generate_key, key_id_for

RECORDS = [{"t": 1.5, "rate_hz": 12.0}, {"t": 2.5, "rate_hz": 13.0}, {"t": 3.5, "rate_hz": 11.0}]


def _stream(cipher):
    return list(cipher.encrypt_lines(RECORDS))


def test_round_trip_and_format():
    cipher = LineCipher(Keyring.generate(key_id="tel-1"), stream_id="telemetry/run-7")
    lines = _stream(cipher)
    assert all("\n" not in line for line in lines)
    obj = json.loads(lines[0])
    assert obj["v"] == 1
    assert obj["kid"] == "tel-1"
    assert len(base64.urlsafe_b64decode(obj["nonce"])) == 12
    assert [json.loads(b) for b in cipher.decrypt_lines(lines)] == RECORDS
    assert cipher.decrypt_json(lines[1], 2) == RECORDS[1]
    assert cipher.decrypt_line(cipher.encrypt_line(b"\x00raw", 9), 9) == b"\x00raw"
    # fresh nonces: the same record twice at the same position gives different lines
    assert cipher.encrypt_line(RECORDS[0], 1) != cipher.encrypt_line(RECORDS[0], 1)


def test_tampered_line_names_the_line():
    cipher = LineCipher(Keyring.generate(), stream_id="s")
    lines = _stream(cipher)
    obj = json.loads(lines[1])
    ct = bytearray(base64.urlsafe_b64decode(obj["ct"]))
    ct[0] ^= 1
    obj["ct"] = base64.urlsafe_b64encode(bytes(ct)).decode()
    lines[1] = json.dumps(obj)
    with pytest.raises(IntegrityError, match="line 2 of stream 's': authentication failed") as info:
        list(cipher.decrypt_lines(lines))
    assert info.value.line == 2
    with pytest.raises(IntegrityError, match=r"line 3 .*not valid JSON"):
        list(cipher.decrypt_lines([lines[0], _stream(cipher)[1], "garbage"]))


def test_reordered_and_foreign_lines_fail():
    ring = Keyring.generate()
    cipher = LineCipher(ring, stream_id="a")
    lines = _stream(cipher)
    with pytest.raises(IntegrityError, match="line 1 "):
        list(cipher.decrypt_lines([lines[1], lines[0], lines[2]]))
    other_stream = LineCipher(ring, stream_id="b")
    with pytest.raises(IntegrityError, match="line 1 of stream 'b'"):
        other_stream.decrypt_line(lines[0], 1)


def test_wrong_key_and_unknown_key_id():
    lines = _stream(LineCipher(Keyring.generate(key_id="k1"), stream_id="s"))
    wrong = LineCipher(Keyring({"k1": generate_key()}, current="k1"), stream_id="s")
    with pytest.raises(IntegrityError, match=r"line 1 .*different key"):
        wrong.decrypt_line(lines[0], 1)
    unknown = LineCipher(Keyring.generate(key_id="k2"), stream_id="s")
    with pytest.raises(IntegrityError, match=r"line 3 .*key id 'k1' is not in the keyring"):
        unknown.decrypt_line(lines[2], 3)


def test_rotation_keeps_old_lines_readable():
    old = Keyring.generate(key_id="2024")
    old_lines = _stream(LineCipher(old, stream_id="s"))
    new = old.with_key(generate_key(), key_id="2025")
    assert new.current == "2025"
    assert set(new.ids) == {"2024", "2025"}
    cipher = LineCipher(new, stream_id="s")
    new_line = cipher.encrypt_line({"x": 1}, 4)
    assert json.loads(new_line)["kid"] == "2025"
    assert [json.loads(b) for b in cipher.decrypt_lines(old_lines)] == RECORDS
    assert cipher.decrypt_json(new_line, 4) == {"x": 1}


def test_keyring_specs_and_errors():
    key = generate_key()
    bare = Keyring.from_base64(encode_key(key))
    assert bare.ids == [key_id_for(key)]
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert decode_key(urlsafe) == key
    ring = Keyring.from_base64(f"new:{encode_key(generate_key())}, old:{encode_key(key)}")
    assert ring.current == "new"
    assert ring.ids == ["new", "old"]
    assert Keyring.from_base64(ring.to_base64()).to_base64() == ring.to_base64()
    assert Keyring.from_base64({"a": encode_key(key)}).current == "a"
    assert encode_key(key) not in repr(ring)
    with pytest.raises(InputValidationError, match="16, 24 or 32 bytes"):
        decode_key(encode_key(b"short"))
    with pytest.raises(InputValidationError, match="base64"):
        decode_key("not base64 !!")
    with pytest.raises(InputValidationError, match="key id"):
        Keyring({"bad id": key}, current="bad id")
    with pytest.raises(InputValidationError, match="not in the keyring"):
        Keyring({"a": key}, current="b")
    with pytest.raises(InputValidationError, match="128, 192 or 256"):
        generate_key(100)
    cipher = LineCipher(Keyring({"a": key}, current="a"), stream_id="s")
    with pytest.raises(InputValidationError, match="position"):
        cipher.encrypt_line({}, -1)
    with pytest.raises(InputValidationError, match="JSON-serialisable"):
        cipher.encrypt_line({"x": float("nan")}, 1)
    with pytest.raises(InputValidationError, match="stream_id"):
        LineCipher(ring, stream_id="")
