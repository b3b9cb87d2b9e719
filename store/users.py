"""Users of `strata serve`: a name, one role, and a salted scrypt hash of their API token.

A token is ``strata_<key id>_<secret>``: the key id finds the row, the secret is checked against
``scrypt(secret, salt)``. Only the hash and salt are stored; the token is shown once, when the
user is added. Users live in table ``users`` of the workspace DuckDB file (``store.db``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ml.config import Workspace
from ml.errors import StrataError
from store.db import has_table, open_db
from store.locks import DEFAULT_TIMEOUT_S

__all__ = ["USERS_TABLE", "User", "add_user", "authenticate", "list_users", "token_hash"]

USERS_TABLE = "users"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^strata_([a-f0-9]{16})_([A-Za-z0-9_-]{20,100})$")
# scrypt cost: n=2**14, r=8 takes ~16 MB and a few tens of ms, once per token per process
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DDL = f"""
CREATE TABLE IF NOT EXISTS {USERS_TABLE} (
    name VARCHAR PRIMARY KEY,
    role VARCHAR NOT NULL,
    key_id VARCHAR NOT NULL UNIQUE,
    salt VARCHAR NOT NULL,
    token_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);
"""


@dataclass(frozen=True)
class User:
    """An authenticated user: who they are and what role they have."""

    name: str
    role: str


def token_hash(secret: str, salt: bytes) -> str:
    """The stored hash of a token's secret part (hex of scrypt)."""
    return hashlib.scrypt(secret.encode(), salt=salt, maxmem=64 * 2**20, **_SCRYPT).hex()


def add_user(
    db: Workspace | Path | str,
    name: str,
    role: str,
    roles: list[str],
    created_by: str,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> str:
    """Add `name` with `role`; returns the new API token (the only time it is visible)."""
    if not _NAME.match(name or ""):
        raise StrataError(
            f"user name {name!r} is not allowed: start with a letter, then letters, digits, "
            f"'.', '_' or '-' (at most 64)"
        )
    if role not in roles:
        raise StrataError(
            f"role {role!r} is not a role; roles (configs/roles.yaml): {', '.join(roles)}"
        )
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
    with open_db(db, write=True, timeout=timeout) as con:
        con.execute(_DDL)
        taken = con.execute(f"SELECT count(*) FROM {USERS_TABLE} WHERE name = ?", [name])
        if taken.fetchone()[0]:
            raise StrataError(f"user {name!r} exists already; pick another name")
        con.execute(
            f"INSERT INTO {USERS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                role,
                key_id,
                salt.hex(),
                token_hash(secret, salt),
                datetime.now(UTC).replace(tzinfo=None),
                created_by,
            ],
        )
    return f"strata_{key_id}_{secret}"


def list_users(db: Workspace | Path | str, timeout: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Every user with role and when and by whom they were added (never the hash)."""
    cols = ["name", "role", "created_at", "created_by"]
    with open_db(db, write=False, timeout=timeout) as con:
        if not has_table(con, USERS_TABLE):
            return pd.DataFrame(columns=cols)
        return con.execute(f"SELECT {', '.join(cols)} FROM {USERS_TABLE} ORDER BY name").df()


def authenticate(
    db: Workspace | Path | str, token: str, timeout: float = DEFAULT_TIMEOUT_S
) -> User | None:
    """The user whose token this is, or None (unknown, malformed or wrong secret)."""
    match = _TOKEN.match((token or "").strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    with open_db(db, write=False, timeout=timeout) as con:
        if not has_table(con, USERS_TABLE):
            return None
        row = con.execute(
            f"SELECT name, role, salt, token_hash FROM {USERS_TABLE} WHERE key_id = ?", [key_id]
        ).fetchone()
    if row is None:
        return None
    name, role, salt, stored = row
    if not hmac.compare_digest(token_hash(secret, bytes.fromhex(salt)), stored):
        return None
    return User(str(name), str(role))
