r"""Per-line AES-GCM encryption of JSONL streams, with key ids for rotation.

Each plaintext line (a JSON object or raw bytes) becomes one line of JSON::

    {"v":1,"kid":"k3f9c…","nonce":"<base64url, 12 bytes>","ct":"<base64url ciphertext+tag>"}

* AES-GCM from the ``cryptography`` package, a fresh random 96-bit nonce per line
  (``os.urandom``), 128-bit tag.
* The associated data binds the line to its stream and its position::

      b"acie.jsonl/v1\0" + stream_id + b"\0" + key_id + b"\0" + position (8 bytes, big-endian)

  so a line that is altered, moved to another position, copied into another stream,
  or decrypted with another key fails authentication, and the error names the line.
* Keys live in a :class:`Keyring` under key ids; the *current* key encrypts, every key
  in the ring decrypts, so keys can be rotated without re-encrypting old lines.
  A key id defaults to a fingerprint of the key (``"k" + 12 hex of SHA-256``).

The caller numbers the lines (``position``); the convention is the 1-based line number
in the file. Per-line authentication cannot notice lines cut off at the *end* of a
stream; a writer that needs that records the line count elsewhere (e.g. a signed trailer).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from acie.errors import CryptoError, InputValidationError, IntegrityError

__all__ = [
    "LINE_VERSION",
    "Keyring",
    "LineCipher",
    "check_not_weak",
    "decode_key",
    "encode_key",
    "generate_key",
    "key_id_for",
]

LINE_VERSION = 1
_AD_DOMAIN = b"acie.jsonl/v1\x00"
_KID_DOMAIN = b"acie.aead.kid/v1\x00"
_NONCE_BYTES = 12
_KEY_SIZES = (16, 24, 32)


def generate_key(bits: int = 256) -> bytes:
    """A fresh AES key of ``bits`` (128, 192 or 256) from the OS CSPRNG."""
    if bits not in (128, 192, 256):
        raise InputValidationError(f"AES key size must be 128, 192 or 256 bits; got {bits!r}")
    return AESGCM.generate_key(bit_length=bits)


def key_id_for(key: bytes) -> str:
    """The default key id of ``key``: ``"k"`` + the first 12 hex digits of a SHA-256 of it."""
    return "k" + hashlib.sha256(_KID_DOMAIN + bytes(key)).hexdigest()[:12]


def encode_key(key: bytes) -> str:
    """Standard base64 of a key."""
    return base64.b64encode(bytes(key)).decode("ascii")


def decode_key(text: str) -> bytes:
    """Decode a base64 (standard or URL-safe) AES key of 16, 24 or 32 bytes."""
    if not isinstance(text, str):
        raise InputValidationError(f"an AES key must be a base64 string; got {type(text).__name__}")
    raw = text.strip()
    try:
        key = base64.b64decode(
            raw.replace("-", "+").replace("_", "/") + "=" * (-len(raw) % 4), validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise InputValidationError(
            f"an AES key must be valid base64; got {len(raw)} characters that do not decode"
        ) from exc
    if len(key) not in _KEY_SIZES:
        raise InputValidationError(
            f"an AES key must decode to 16, 24 or 32 bytes; got {len(key)} bytes"
        )
    check_not_weak(key)
    return key


def check_not_weak(key: bytes, kid: str | None = None) -> None:
    """Refuse a trivially weak AES key: all zero, all one byte, or a pattern of period <= 4.

    Such keys come from placeholders and mistakes (``bytes(32)``, ``"A" * 32``), never
    from a CSPRNG (the chance is below 2^-120 for a 16-byte key).

    Raises
    ------
    CryptoError
        The key repeats a block of 1 to 4 bytes.
    """
    name = "an AES key" if kid is None else f"AES key {kid!r}"
    for period in (1, 2, 3, 4):
        if key == (key[:period] * (len(key) // period + 1))[: len(key)]:
            what = "all zero bytes" if not any(key) else f"a repeated {period}-byte pattern"
            raise CryptoError(
                f"{name} is trivially weak ({what}); expected {len(key)} random bytes "
                "(generate one with `acie keys aes`)"
            )


def _check_kid(kid: object) -> str:
    if (
        not isinstance(kid, str)
        or not kid
        or len(kid) > 64
        or not all(ch.isalnum() or ch in "-_." for ch in kid)
    ):
        raise InputValidationError(
            f"a key id must be 1-64 characters of letters, digits, '-', '_' or '.'; got {kid!r}"
        )
    return kid


class Keyring:
    """AES-GCM keys by key id; the current key encrypts, all keys decrypt.

    Parameters
    ----------
    keys : mapping of str to bytes
        Key id → raw key (16, 24 or 32 bytes).
    current : str
        Key id used for encryption.
    """

    __slots__ = ("_ciphers", "_keys", "current")

    def __init__(self, keys: Mapping[str, bytes], *, current: str) -> None:
        if not keys:
            raise InputValidationError("a keyring needs at least one key")
        checked: dict[str, bytes] = {}
        for kid, key in keys.items():
            _check_kid(kid)
            if not isinstance(key, bytes | bytearray) or len(key) not in _KEY_SIZES:
                raise InputValidationError(
                    f"key {kid!r} must be 16, 24 or 32 raw bytes; got "
                    f"{len(key) if isinstance(key, bytes | bytearray) else type(key).__name__}"
                )
            check_not_weak(bytes(key), kid)
            checked[kid] = bytes(key)
        if current not in checked:
            raise InputValidationError(
                f"current key id {current!r} is not in the keyring ({', '.join(checked)})"
            )
        self._keys = checked
        self.current = current
        self._ciphers: dict[str, AESGCM] = {}

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(ids={list(self._keys)}, current={self.current!r})"

    @classmethod
    def generate(cls, *, key_id: str | None = None, bits: int = 256) -> Keyring:
        """A keyring with one fresh key."""
        key = generate_key(bits)
        kid = key_id or key_id_for(key)
        return cls({kid: key}, current=kid)

    @classmethod
    def from_base64(cls, spec: str | Mapping[str, str], *, current: str | None = None) -> Keyring:
        """Build from base64 keys.

        ``spec`` is a mapping ``{key_id: base64}``, or a string: one bare base64 key
        (its id is :func:`key_id_for`), or ``"kid1:b64,kid2:b64"``. The current key is
        ``current`` if given, else the first listed.
        """
        keys: dict[str, bytes] = {}
        if isinstance(spec, Mapping):
            for kid, text in spec.items():
                keys[_check_kid(kid)] = decode_key(text)
        elif isinstance(spec, str):
            for part in (p.strip() for p in spec.split(",")):
                if not part:
                    continue
                if ":" in part:
                    kid, text = part.split(":", 1)
                    keys[_check_kid(kid.strip())] = decode_key(text)
                else:
                    key = decode_key(part)
                    keys[key_id_for(key)] = key
        else:
            raise InputValidationError(
                f"keyring spec must be a string or a mapping; got {type(spec).__name__}"
            )
        if not keys:
            raise InputValidationError("keyring spec holds no keys")
        return cls(keys, current=current if current is not None else next(iter(keys)))

    def to_base64(self) -> str:
        """The ``"kid:b64,…"`` spec, current key first (secret)."""
        order = [self.current, *[k for k in self._keys if k != self.current]]
        return ",".join(f"{kid}:{encode_key(self._keys[kid])}" for kid in order)

    def with_key(
        self, key: bytes, *, key_id: str | None = None, make_current: bool = True
    ) -> Keyring:
        """A new keyring with ``key`` added (rotation); old keys still decrypt."""
        kid = key_id or key_id_for(key)
        keys = {**self._keys, kid: bytes(key)}
        return Keyring(keys, current=kid if make_current else self.current)

    @property
    def ids(self) -> list[str]:
        """The ids of every key in the ring (each can decrypt)."""
        return list(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def cipher(self, kid: str) -> AESGCM:
        """The AESGCM object for ``kid`` (KeyError-free: unknown ids raise IntegrityError upstream)."""
        c = self._ciphers.get(kid)
        if c is None:
            c = self._ciphers[kid] = AESGCM(self._keys[kid])
        return c


class LineCipher:
    """Encrypt and decrypt the lines of one JSONL stream.

    Parameters
    ----------
    keyring : Keyring
    stream_id : str
        Names the stream (e.g. the telemetry file's logical name); bound into every line.
    """

    def __init__(self, keyring: Keyring, *, stream_id: str) -> None:
        if not isinstance(keyring, Keyring):
            raise InputValidationError(f"keyring must be a Keyring; got {type(keyring).__name__}")
        if not isinstance(stream_id, str) or not stream_id or "\x00" in stream_id:
            raise InputValidationError(
                f"stream_id must be a non-empty string without NUL; got {stream_id!r}"
            )
        self.keyring = keyring
        self.stream_id = stream_id

    def __repr__(self) -> str:
        return f"LineCipher(stream_id={self.stream_id!r}, keyring={self.keyring!r})"

    def associated_data(self, key_id: str, position: int) -> bytes:
        """The associated data binding a line to this stream, its key id and its position."""
        return (
            _AD_DOMAIN
            + self.stream_id.encode("utf-8")
            + b"\x00"
            + key_id.encode("ascii")
            + b"\x00"
            + position.to_bytes(8, "big")
        )

    @staticmethod
    def _position(position: object) -> int:
        if (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not 0 <= position < 1 << 64
        ):
            raise InputValidationError(
                f"position must be an integer in [0, 2^64); got {position!r}"
            )
        return position

    def encrypt_line(self, record: Any, position: int) -> str:
        """Encrypt one record for line ``position``.

        Parameters
        ----------
        record : bytes, str or JSON-serialisable object
            Bytes are encrypted as they are, str as UTF-8, anything else as compact JSON.
        position : int
            The line's position in the stream (1-based line number by convention).

        Returns
        -------
        str
            One line of JSON, without the trailing newline.
        """
        position = self._position(position)
        if isinstance(record, bytes | bytearray):
            data = bytes(record)
        elif isinstance(record, str):
            data = record.encode("utf-8")
        else:
            try:
                data = json.dumps(
                    record, separators=(",", ":"), sort_keys=True, allow_nan=False
                ).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise InputValidationError(
                    f"record for line {position} is not JSON-serialisable: {exc}"
                ) from exc
        kid = self.keyring.current
        nonce = os.urandom(_NONCE_BYTES)
        ct = self.keyring.cipher(kid).encrypt(nonce, data, self.associated_data(kid, position))
        return json.dumps(
            {
                "v": LINE_VERSION,
                "kid": kid,
                "nonce": base64.urlsafe_b64encode(nonce).decode("ascii"),
                "ct": base64.urlsafe_b64encode(ct).decode("ascii"),
            },
            separators=(",", ":"),
        )

    def _fail(self, position: int, reason: str) -> IntegrityError:
        err = IntegrityError(f"line {position} of stream {self.stream_id!r}: {reason}")
        err.line = position  # type: ignore[attr-defined]
        return err

    def decrypt_line(self, line: str | bytes, position: int) -> bytes:
        """Decrypt line ``position``; return the plaintext bytes.

        Raises
        ------
        IntegrityError
            The line is malformed, names an unknown key, or fails authentication
            (tampered, reordered, from another stream, or the wrong key); the message
            and the ``line`` attribute give the position.
        """
        position = self._position(position)
        try:
            obj = json.loads(line)
        except (TypeError, ValueError, UnicodeDecodeError):
            raise self._fail(position, "not an encrypted line (not valid JSON)") from None
        if not isinstance(obj, dict) or obj.get("v") != LINE_VERSION:
            raise self._fail(position, f"not an encrypted line of version {LINE_VERSION}")
        kid, nonce_b64, ct_b64 = obj.get("kid"), obj.get("nonce"), obj.get("ct")
        if (
            not isinstance(kid, str)
            or not isinstance(nonce_b64, str)
            or not isinstance(ct_b64, str)
        ):
            raise self._fail(position, "encrypted line lacks 'kid', 'nonce' or 'ct'")
        if kid not in self.keyring:
            raise self._fail(
                position, f"key id {kid!r} is not in the keyring ({', '.join(self.keyring.ids)})"
            )
        try:
            nonce = base64.urlsafe_b64decode(nonce_b64)
            ct = base64.urlsafe_b64decode(ct_b64)
        except (binascii.Error, ValueError):
            raise self._fail(position, "nonce or ciphertext is not valid base64") from None
        if len(nonce) != _NONCE_BYTES or len(ct) < 16:
            raise self._fail(
                position, "nonce must be 12 bytes and the ciphertext hold a 16-byte tag"
            )
        try:
            return self.keyring.cipher(kid).decrypt(nonce, ct, self.associated_data(kid, position))
        except InvalidTag:
            raise self._fail(
                position,
                f"authentication failed: the line was altered, moved from another position or stream, "
                f"or encrypted with a different key than the one named {kid!r}",
            ) from None

    def decrypt_json(self, line: str | bytes, position: int) -> Any:
        """Decrypt line ``position`` and parse it as JSON."""
        data = self.decrypt_line(line, position)
        try:
            return json.loads(data)
        except ValueError:
            raise self._fail(position, "decrypted line is not valid JSON") from None

    def encrypt_lines(self, records: Iterable[Any], *, start: int = 1) -> Iterator[str]:
        """Encrypt records as consecutive lines numbered from ``start``."""
        for offset, record in enumerate(records):
            yield self.encrypt_line(record, start + offset)

    def decrypt_lines(self, lines: Iterable[str | bytes], *, start: int = 1) -> Iterator[bytes]:
        """Decrypt consecutive lines numbered from ``start``; blank lines are refused."""
        for offset, line in enumerate(lines):
            yield self.decrypt_line(line, start + offset)
