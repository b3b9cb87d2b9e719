"""Users of `strata serve`: a name, one role, and a salted scrypt hash of their API token.

A token is ``strata_<key id>_<secret>``: the key id finds the row, the secret is checked against
``scrypt(secret, salt)``. Only the hash and salt are stored; the token is shown once, when the
user is added. Users live in table ``users`` of the project's database (``database.url`` in
configs/strata.yaml): a SQLite file, ``<warehouse>/strata.db``, by default, or PostgreSQL — the
same SQLAlchemy statements on either. Users an earlier version kept in the workspace DuckDB file
are copied over the first time the configured database is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from ml.config import Workspace
from ml.errors import StrataError
from store.db import has_table, open_db
from store.locks import DEFAULT_TIMEOUT_S
from store.sql_engine import database_error, sql_engine

__all__ = [
    "USERS_DB_FILE",
    "USERS_TABLE",
    "User",
    "add_user",
    "authenticate",
    "list_users",
    "token_hash",
    "users_url",
]

USERS_TABLE = "users"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^strata_([a-f0-9]{16})_([A-Za-z0-9_-]{20,100})$")
# scrypt cost: n=2**14, r=8 takes ~16 MB and a few tens of ms, once per token per process
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
USERS_DB_FILE = "strata.db"
_SETTING = "database.url in configs/strata.yaml"
_USERS = sa.Table(
    USERS_TABLE,
    sa.MetaData(),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False, unique=True),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(), nullable=False),
)


@dataclass(frozen=True)
class User:
    """An authenticated user: who they are and what role they have."""

    name: str
    role: str


def token_hash(secret: str, salt: bytes) -> str:
    """The stored hash of a token's secret part (hex of scrypt)."""
    return hashlib.scrypt(secret.encode(), salt=salt, maxmem=64 * 2**20, **_SCRYPT).hex()


def users_url(db: Workspace | str) -> str:
    """The users' database: `database.url` of the workspace, else its SQLite file; or a URL."""
    if isinstance(db, str):
        return db
    return db.database.url or f"sqlite:///{db.warehouse / USERS_DB_FILE}"


def _duckdb_users(ws: Workspace) -> list[dict[str, object]]:
    """Users an earlier Strata kept in the workspace DuckDB file, carried over once."""
    cols = [c.name for c in _USERS.columns]
    with open_db(ws, write=False) as con:
        if not has_table(con, USERS_TABLE):
            return []
        rows = con.execute(f"SELECT {', '.join(cols)} FROM {USERS_TABLE}").fetchall()
    return [dict(zip(cols, row, strict=True)) for row in rows]


@contextlib.contextmanager
def _users_db(db: Workspace | str, timeout: float, write: bool) -> Iterator[sa.Connection | None]:
    """One transaction on the users' database; None when reading and no user was ever added."""
    url = users_url(db)
    engine = sql_engine(url, _SETTING, timeout)
    try:
        with engine.begin() as con:
            if not sa.inspect(con).has_table(USERS_TABLE):
                legacy = _duckdb_users(db) if isinstance(db, Workspace) else []
                if not write and not legacy:
                    yield None
                    return
                _USERS.create(con)
                if legacy:
                    con.execute(_USERS.insert(), legacy)
            yield con
    except sa.exc.IntegrityError:
        raise  # the caller says which row clashed
    except sa.exc.DBAPIError as exc:
        raise database_error(exc, url, _SETTING) from None
    finally:
        engine.dispose()


def add_user(
    db: Workspace | str,
    name: str,
    role: str,
    roles: list[str],
    created_by: str,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> str:
    """Add `name` with `role`; returns the new API token (the only time it is visible).

    `db` is a workspace (its ``database.url``, else ``<warehouse>/strata.db``) or a URL.
    """
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
    row = {
        "name": name,
        "role": role,
        "key_id": key_id,
        "salt": salt.hex(),
        "token_hash": token_hash(secret, salt),
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "created_by": created_by,
    }
    taken = StrataError(f"user {name!r} exists already; pick another name")
    try:
        with _users_db(db, timeout, write=True) as con:
            assert con is not None
            if con.execute(sa.select(_USERS.c.name).where(_USERS.c.name == name)).first():
                raise taken
            con.execute(_USERS.insert().values(**row))
    except sa.exc.IntegrityError:  # added by someone else between the check and the insert
        raise taken from None
    return f"strata_{key_id}_{secret}"


def list_users(db: Workspace | str, timeout: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Every user with role and when and by whom they were added (never the hash)."""
    cols = ["name", "role", "created_at", "created_by"]
    with _users_db(db, timeout, write=False) as con:
        if con is None:
            return pd.DataFrame(columns=cols)
        rows = con.execute(sa.select(*(_USERS.c[c] for c in cols)).order_by(_USERS.c.name))
        frame = pd.DataFrame(rows.fetchall(), columns=cols)
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def authenticate(
    db: Workspace | str, token: str, timeout: float = DEFAULT_TIMEOUT_S
) -> User | None:
    """The user whose token this is, or None (unknown, malformed or wrong secret)."""
    match = _TOKEN.match((token or "").strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    query = sa.select(_USERS.c.name, _USERS.c.role, _USERS.c.salt, _USERS.c.token_hash).where(
        _USERS.c.key_id == key_id
    )
    with _users_db(db, timeout, write=False) as con:
        row = None if con is None else con.execute(query).first()
    if row is None:
        return None
    name, role, salt, stored = row
    if not hmac.compare_digest(token_hash(secret, bytes.fromhex(salt)), stored):
        return None
    return User(str(name), str(role))
