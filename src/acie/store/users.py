"""Local accounts: users with argon2id password hashes and one role each.

Accounts live in the ``users``, ``roles`` and ``user_roles`` tables
(:mod:`acie.store.schema`); the password hash is ``users.password_hash`` (migration
0004), an argon2id PHC string made by argon2-cffi. A user holds exactly one of the
serving roles (``researcher``, ``collaborator``, ``admin``, :class:`acie.serve.auth.Role`
spells the same names). Disabled users cannot sign in, and the session layer refuses
their cookies (:func:`active_role`).

:func:`check_password` spends the same argon2 work whether or not the user exists (it
verifies against a dummy hash for unknown users), so its timing does not reveal which
user names exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, select

from acie.errors import ConflictError, InputValidationError, NotFoundError
from acie.store.database import session_scope, writing
from acie.store.schema import Role, User

__all__ = [
    "ROLES",
    "UserInfo",
    "active_role",
    "add_user",
    "check_password",
    "disable_user",
    "list_users",
    "prepare_hashing",
]

#: the roles a local account may hold (the serving layer's roles)
ROLES = ("researcher", "collaborator", "admin")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True)
class UserInfo:
    """A local account as listed: name, role, disabled, creation time."""

    username: str
    role: str | None
    disabled: bool
    has_password: bool
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``created_at`` as ISO 8601)."""
        return {
            "username": self.username,
            "role": self.role,
            "disabled": self.disabled,
            "has_password": self.has_password,
            "created_at": self.created_at.isoformat(),
        }


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return str(_hasher().hash("acie-dummy-password-for-unknown-users"))


def prepare_hashing() -> None:
    """Build the hasher and the dummy hash now, so the first sign-in is not the slow one."""
    _dummy_hash()


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InputValidationError(
            "a user name must be 1-64 characters of letters, digits and ._@- starting with "
            f"a letter or digit; got {username!r}"
        )
    return username


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InputValidationError(f"the role must be one of {list(ROLES)}; got {role!r}")
    return role


def _role_row(session: Any, name: str) -> Role:
    row = session.scalar(select(Role).where(Role.name == name))
    if row is None:
        row = Role(name=name, description=f"serving role {name}")
        session.add(row)
        session.flush()
    return row


def _role_of(user: User) -> str | None:
    names = [r.name for r in user.roles if r.name in ROLES]
    return names[0] if names else None


def add_user(engine: Engine, username: str, password: str, role: str = "researcher") -> UserInfo:
    """Create a local account (the password is stored only as an argon2id hash).

    Raises
    ------
    InputValidationError
        Bad user name, unknown role, or a password shorter than 8 characters.
    ConflictError
        The user name is taken.
    """
    _check_username(username)
    _check_role(role)
    if not isinstance(password, str) or not (
        MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS
    ):
        got = len(password) if isinstance(password, str) else type(password).__name__
        raise InputValidationError(
            f"a password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters; "
            f"got {got}"
        )
    digest = _hasher().hash(password)
    with session_scope(writing(engine)) as session:
        if session.scalar(select(User).where(User.sub == username)) is not None:
            raise ConflictError(f"the user {username!r} exists already")
        user = User(sub=username, display_name=username, password_hash=digest)
        user.roles = [_role_row(session, role)]
        session.add(user)
        session.flush()
        return _info(user)


def _info(user: User) -> UserInfo:
    return UserInfo(
        username=user.sub,
        role=_role_of(user),
        disabled=bool(user.disabled),
        has_password=user.password_hash is not None,
        created_at=user.created_at,
    )


def list_users(engine: Engine) -> list[UserInfo]:
    """Every user, ordered by name."""
    with session_scope(engine) as session:
        return [_info(u) for u in session.scalars(select(User).order_by(User.sub))]


def disable_user(engine: Engine, username: str) -> UserInfo:
    """Disable ``username``: it can no longer sign in, and its sessions stop working.

    Raises
    ------
    NotFoundError
        No such user.
    """
    with session_scope(writing(engine)) as session:
        user = session.scalar(select(User).where(User.sub == username))
        if user is None:
            raise NotFoundError(f"no user named {username!r}")
        user.disabled = True
        session.flush()
        return _info(user)


def check_password(engine: Engine, username: str, password: str) -> str | None:
    """The role of ``username`` if ``password`` is theirs and the account is active, else None.

    One argon2 verification is made whatever the outcome (a dummy hash stands in for an
    unknown user or one without a password), so the time taken does not tell whether
    the user exists.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.sub == username))
        stored = user.password_hash if user is not None else None
        role = _role_of(user) if user is not None else None
        disabled = bool(user.disabled) if user is not None else True
    try:
        ok = bool(_hasher().verify(stored or _dummy_hash(), password))
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or stored is None or disabled or role is None:
        return None
    return role


def active_role(engine: Engine, username: str) -> str | None:
    """The role of ``username`` when the account exists and is not disabled, else None."""
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.sub == username))
        if user is None or user.disabled:
            return None
        return _role_of(user)
