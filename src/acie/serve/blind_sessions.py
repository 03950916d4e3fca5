"""Blind-inference sessions on the server: one client's rounds through a head, bounded and owned.

A session (:class:`acie.privacy.network.BlindSession`) holds the client's public key,
the next round and the secret permutation of the hidden units; never a plaintext. The
store keeps at most :data:`MAX_SESSIONS` (least recently used evicted first), forgets a
session :data:`SESSION_TTL_S` seconds after its last round, and hands a session only to
the subject that opened it (anyone else gets NOT_FOUND, as for an unknown id). A round
sent twice (a retried request whose answer was lost) gets the same answer again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from acie.errors import NotFoundError
from acie.privacy.network import BlindSession

__all__ = ["MAX_SESSIONS", "SESSION_TTL_S", "SessionStore", "parse_json"]

#: Most open sessions kept (all users together); the least recently used go first.
MAX_SESSIONS = 1024
#: Seconds a session lives after its last round.
SESSION_TTL_S = 300.0


def parse_json(text: str, what: str) -> Any:
    """Parse a JSON payload carried as text (gRPC); malformed or too deep → DataFormatError."""
    from acie.errors import DataFormatError

    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DataFormatError(f"{what} is not valid JSON: {str(exc)[:200]}") from None


def input_digest(payload: Any) -> str:
    """SHA-256 of a round's JSON input: recognises a retried round."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(eq=False)
class _Entry:
    session: BlindSession
    owner: str
    head: str
    touched: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: tuple[int, str, dict[str, Any]] | None = None  # (round, input digest, response)


class SessionStore:
    """Open blind sessions by id, bounded in number and lifetime, bound to their owner.

    Parameters
    ----------
    max_sessions : int
        Most sessions kept.
    ttl_s : float
        Idle lifetime of a session, seconds.
    """

    def __init__(self, *, max_sessions: int = MAX_SESSIONS, ttl_s: float = SESSION_TTL_S) -> None:
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(time.monotonic())
            return len(self._entries)

    def _expire(self, now: float) -> None:
        while self._entries:
            sid, entry = next(iter(self._entries.items()))
            if now - entry.touched <= self.ttl_s:
                break
            del self._entries[sid]

    def open(self, session: BlindSession, *, owner: str, head: str) -> str:
        """Store a new session; returns its id (128 random bits)."""
        sid = secrets.token_hex(16)
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            while len(self._entries) >= self.max_sessions:
                self._entries.popitem(last=False)
            self._entries[sid] = _Entry(session=session, owner=owner, head=head, touched=now)
        return sid

    def get(self, sid: str, *, owner: str) -> _Entry:
        """The session ``sid`` of ``owner``.

        Raises
        ------
        NotFoundError
            No such session, expired, or opened by someone else.
        """
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(sid)
            if entry is None or not secrets.compare_digest(entry.owner, owner):
                raise NotFoundError(
                    f"no open blind session {sid[:32]!r} for this caller (sessions expire "
                    f"{self.ttl_s:.0f} s after their last round)"
                )
            entry.touched = now
            self._entries.move_to_end(sid)
            return entry

    def close(self, sid: str) -> None:
        """Forget ``sid`` (after its last round)."""
        with self._lock:
            self._entries.pop(sid, None)


def _vector(payload: Any, key: Any) -> Any:
    from acie.privacy.vector import EncryptedVector

    return EncryptedVector.from_dict(payload, key)


def _refill(pools: Any, key: Any) -> None:
    """Queue the key's pool for the background refill once it is below half full."""
    if pools is not None:
        pool = pools.get(key)
        if pool.available < pool.capacity // 2:
            pools.request_refill(key)


def _answer(
    sid: str, round_index: int, session: BlindSession, z: Any, extra: dict[str, Any]
) -> dict[str, Any]:
    from acie.privacy.network import ROUND_OUTPUT_FORMAT

    return {
        "format": ROUND_OUTPUT_FORMAT,
        "session_id": sid,
        "round": round_index,
        "rounds": session.network.rounds,
        "done": session.done,
        "output": z.to_dict(),
        **extra,
    }


def open_session(
    store: SessionStore,
    heads: dict[str, Any],
    payload: Any,
    *,
    owner: str,
    client_key: Any,
    pools: Any,
    deadline: float | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Check an ``acie.blind.session/v1`` payload, open a session, evaluate round 0.

    Raises
    ------
    DataFormatError
        Malformed payload or unknown head.
    KeyMismatchError
        ``client_key`` is set and the payload uses another key.
    """
    from acie.errors import DataFormatError, KeyMismatchError
    from acie.privacy.network import SESSION_FORMAT
    from acie.privacy.paillier import PaillierPublicKey

    if not isinstance(payload, dict) or payload.get("format") != SESSION_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise DataFormatError(f"a blind session must have format {SESSION_FORMAT!r}; got {got!r}")
    head = payload.get("head", "property")
    if head not in heads:
        raise DataFormatError(f"unknown blind head {head!r:.40}; this server has {sorted(heads)}")
    key = PaillierPublicKey.from_dict(payload.get("public_key"))
    if client_key is not None and key != client_key:
        raise KeyMismatchError(
            f"the session is under key {key.fingerprint[:16]}…, the server expects "
            f"{client_key.fingerprint[:16]}…"
        )
    x = _vector(payload.get("input"), key)
    session = heads[head].open(key)
    z = session.evaluate(0, x, pools=pools, deadline=deadline)
    _refill(pools, key)
    sid = store.open(session, owner=owner, head=head)
    answer = _answer(sid, 0, session, z, extra)
    store.get(sid, owner=owner).last = (0, input_digest(payload.get("input")), answer)
    return answer


def continue_session(
    store: SessionStore,
    sid: str,
    payload: Any,
    *,
    owner: str,
    pools: Any,
    deadline: float | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Evaluate the next round of session ``sid`` on an ``acie.blind.round/v1`` payload.

    Raises
    ------
    NotFoundError
        Unknown or expired session, or another caller's.
    DataFormatError, InputValidationError
        Malformed payload, or a round out of order.
    """
    from acie.errors import DataFormatError
    from acie.privacy.network import ROUND_FORMAT

    entry = store.get(sid, owner=owner)
    if not isinstance(payload, dict) or payload.get("format") != ROUND_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise DataFormatError(f"a blind round must have format {ROUND_FORMAT!r}; got {got!r}")
    k = payload.get("round")
    if isinstance(k, bool) or not isinstance(k, int):
        raise DataFormatError(f"'round' must be an integer; got {k!r:.40}")
    digest = input_digest(payload.get("input"))
    with entry.lock:  # one round at a time per session
        if entry.last is not None and entry.last[:2] == (k, digest):
            return entry.last[2]  # a retried round: same answer, no new work
        session = entry.session
        x = _vector(payload.get("input"), session.public_key)
        z = session.evaluate(k, x, pools=pools, deadline=deadline)
        _refill(pools, session.public_key)
        answer = _answer(sid, k, session, z, extra)
        entry.last = (k, digest, answer)
        return answer
