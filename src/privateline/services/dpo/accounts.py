"""The accounts of the data-protection officer's console (`privateline dpo add|list|remove`).

Each account is a name and an argon2id hash of a password a person chose, so the hash
uses argon2-cffi's default (strong) parameters, unlike the device passwords, which are
generated.  The password itself is never stored, logged or printed.  Verifying runs
outside any transaction: a slow hash must not hold SQLite's write lock.  An unknown
name costs one verification against a decoy hash, so it answers as slowly as a wrong
password and the console does not tell which names exist.

Adding and removing an account is written to the audit chain, naming the account:
these are the controller's own staff, not data subjects of the notice, so the entries
carry no subject pseudonym.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Connection, Integer, String, Table, delete, insert, select, update

from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database
from privateline.storage.declarations import declare_not_personal
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_NAME = 64
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

# argon2id with the library's default parameters (RFC 9106's second recommendation at the
# time of writing: 64 MiB, 3 passes, 4 lanes): these passwords are chosen by people.
_hasher = PasswordHasher()

dpo_account = declare_not_personal(
    Table(
        "dpo_account",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(MAX_NAME), nullable=False, unique=True),
        Column("password_hash", String(255), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("last_sign_in_at", UTCDateTime, nullable=True),
        # An id is never given out twice, so a session of a removed account cannot come
        # back to life as a later account's (PostgreSQL sequences never reuse ids anyway).
        sqlite_autoincrement=True,
    ),
    "accounts of the controller's own data-protection staff, not data subjects of the notice",
)


class AccountError(ValueError):
    """Bad input for an account: the message says what is wrong, never the password."""


@dataclass(frozen=True)
class DpoAccount:
    id: int
    name: str
    created_at: datetime
    last_sign_in_at: datetime | None
    password_hash: str = field(repr=False)


def normalise_name(name: str) -> str:
    """The account name in its stored form (lower case), or AccountError."""
    wanted = name.strip().lower()
    if not _NAME.fullmatch(wanted):
        raise AccountError(
            f"an account name has 1 to {MAX_NAME} characters: letters a-z, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return wanted


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise AccountError("a password is more than white space")


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def _matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _decoy_hash() -> str:
    return _hasher.hash("privateline decoy password for unknown names")


def _account(row: Any) -> DpoAccount:
    m = row._mapping
    return DpoAccount(m["id"], m["name"], m["created_at"], m["last_sign_in_at"], m["password_hash"])


def account_by_name(connection: Connection, name: str) -> DpoAccount | None:
    try:
        wanted = normalise_name(name)
    except AccountError:
        return None
    row = connection.execute(select(dpo_account).where(dpo_account.c.name == wanted)).first()
    return None if row is None else _account(row)


def account_by_id(connection: Connection, account_id: int) -> DpoAccount | None:
    row = connection.execute(select(dpo_account).where(dpo_account.c.id == account_id)).first()
    return None if row is None else _account(row)


def list_accounts(connection: Connection) -> list[DpoAccount]:
    return [_account(r) for r in connection.execute(select(dpo_account).order_by(dpo_account.c.name))]


def add_account(connection: Connection, name: str, password: str, now: datetime, by: str) -> DpoAccount:
    """Create an account; AccountError for a bad name or password or a name already taken."""
    wanted = normalise_name(name)
    hashed = hash_password(password)
    if account_by_name(connection, wanted) is not None:
        raise AccountError(f"an account named {wanted!r} already exists")
    result = connection.execute(
        insert(dpo_account).values(name=wanted, password_hash=hashed, created_at=now, last_sign_in_at=None)
    )
    AuditLog(connection).append(now, "dpo.account_added", None, {"account": wanted, "by": by})
    (account_id,) = result.inserted_primary_key or (None,)
    assert isinstance(account_id, int)
    return DpoAccount(account_id, wanted, now, None, hashed)


def remove_account(connection: Connection, name: str, now: datetime, by: str) -> bool:
    """Remove the account; False when there is none of that name.  Its sessions end with it."""
    found = account_by_name(connection, name)
    if found is None:
        return False
    connection.execute(delete(dpo_account).where(dpo_account.c.id == found.id))
    AuditLog(connection).append(now, "dpo.account_removed", None, {"account": found.name, "by": by})
    return True


def authenticate(database: Database, name: str, password: str, now: datetime) -> DpoAccount | None:
    """The account when `password` is its password, else None; a sign-in is recorded in the audit chain."""
    found: DpoAccount | None = None
    if 0 < len(password) <= MAX_PASSWORD:
        with database.reading() as connection:
            found = account_by_name(connection, name)
    if found is None:
        _matches(_decoy_hash(), password[:MAX_PASSWORD])
        return None
    if not _matches(found.password_hash, password):
        return None
    rehashed = _hasher.hash(password) if _hasher.check_needs_rehash(found.password_hash) else None
    with database.unit_of_work() as uow:
        changes: dict[str, object] = {"last_sign_in_at": now}
        if rehashed is not None:
            changes["password_hash"] = rehashed
        # The account may have been removed meanwhile: then nobody signs in.
        touched = uow.connection.execute(
            update(dpo_account)
            .where(dpo_account.c.id == found.id, dpo_account.c.password_hash == found.password_hash)
            .values(**changes)
        ).rowcount
        if touched != 1:
            return None
        AuditLog(uow.connection).append(now, "dpo.signed_in", None, {"by": f"dpo:{found.name}"})
        uow.commit()
    return DpoAccount(found.id, found.name, found.created_at, now, rehashed or found.password_hash)
