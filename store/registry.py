"""The MLflow registry as serving sees it: versions, aliases, and the alias history MLflow lacks.

MLflow keeps no record of which version held an alias before (mlflow/mlflow#2169), so every
move of an alias made through Strata is also a row of table ``alias_history`` in the workspace
DuckDB file (next to ``audit``): when, who, which alias, from which version to which, why, and
the event (promotion, forced_promotion, rollback). ``strata rollback`` walks it back; ``strata
models`` shows it. MLflow 3 quirk: ``search_model_versions`` returns empty aliases, so aliases
are read from ``get_registered_model(...).aliases``.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.config import Workspace
from ml.config.gates import TARGETS
from ml.errors import StrataError
from store.db import has_table, open_db
from store.locks import DEFAULT_TIMEOUT_S

__all__ = [
    "ALIASES",
    "ALIAS_EVENTS",
    "ALIAS_HISTORY_COLUMNS",
    "ALIAS_HISTORY_TABLE",
    "ModelVersionInfo",
    "RegistryRef",
    "alias_holders",
    "check_alias",
    "insert_alias_history",
    "list_versions",
    "point_mlflow_at",
    "read_alias_history",
    "registry_client",
    "resolve_version",
]

ALIASES = TARGETS  # ("staging", "champion"): the aliases Strata moves
ALIAS_EVENTS = ("promotion", "auto_promotion", "forced_promotion", "rollback")
ALIAS_HISTORY_TABLE = "alias_history"
ALIAS_HISTORY_COLUMNS = [
    "seq",
    "occurred_at",
    "model_name",
    "alias",
    "from_version",
    "to_version",
    "event",
    "who",
    "why",
]
_DDL = f"""
CREATE SEQUENCE IF NOT EXISTS {ALIAS_HISTORY_TABLE}_seq;
CREATE TABLE IF NOT EXISTS {ALIAS_HISTORY_TABLE} (
    seq BIGINT PRIMARY KEY DEFAULT nextval('{ALIAS_HISTORY_TABLE}_seq'),
    occurred_at TIMESTAMP NOT NULL,
    model_name VARCHAR NOT NULL,
    alias VARCHAR NOT NULL,
    from_version VARCHAR,
    to_version VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    who VARCHAR NOT NULL,
    why VARCHAR
);
"""


@dataclass(frozen=True)
class RegistryRef:
    """Which registered model, in which MLflow store (tracking and registry URI)."""

    model_name: str
    tracking_uri: str

    @property
    def lock_name(self) -> str:
        """The workspace lock that serialises alias moves of this model."""
        return f"registry-{self.model_name}"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version: its run, its aliases and what it was trained on."""

    model_name: str
    version: str
    run_id: str
    aliases: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)
    run_tags: dict[str, str] = field(default_factory=dict)
    run_metrics: dict[str, float] = field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``: this exact version, whatever aliases move later."""
        return f"models:/{self.model_name}/{self.version}"

    @property
    def trained_as_of(self) -> str | None:
        """The as_of of the snapshot the version was trained on (run tag ``as_of``)."""
        return self.run_tags.get("as_of") or self.tags.get("as_of")

    @property
    def feature_set(self) -> str | None:
        return self.run_tags.get("feature_set") or self.tags.get("feature_set")


_URI_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def point_mlflow_at(uri: str) -> None:
    """Point mlflow's tracking and registry globals at `uri`, leaving the environment as it was."""
    before = {key: os.environ.get(key) for key in _URI_ENV}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow also exports the URIs to the environment; undo that, so that MLFLOW_TRACKING_URI
    # keeps meaning "the user's override" for the next workspace (and for child processes)
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def registry_client(ref: RegistryRef) -> Any:
    """An MlflowClient on the ref's store; also points mlflow's globals there (load_model)."""

    point_mlflow_at(ref.tracking_uri)
    return MlflowClient(tracking_uri=ref.tracking_uri, registry_uri=ref.tracking_uri)


def check_alias(alias: str) -> str:
    """`alias` when Strata moves it, else a StrataError naming the aliases there are."""
    if alias in ALIASES:
        return alias
    close = difflib.get_close_matches(str(alias), ALIASES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise StrataError(
        f"unknown alias '{alias}'{hint}; Strata promotes to: {', '.join(ALIASES)}. Use "
        f"--to staging or --to champion"
    )


def _registered_model(client: Any, ref: RegistryRef) -> Any:

    try:
        return client.get_registered_model(ref.model_name)
    except MlflowException:
        raise StrataError(
            f"there is no registered model '{ref.model_name}' in {ref.tracking_uri}; train one "
            f"first (`strata train`) or check registered_model in configs/training.yaml"
        ) from None


def alias_holders(ref: RegistryRef, client: Any | None = None) -> dict[str, str]:
    """alias -> version for every alias of the model (from get_registered_model: see module doc)."""
    client = client or registry_client(ref)
    return {a: str(v) for a, v in (_registered_model(client, ref).aliases or {}).items()}


def _version_numbers(client: Any, ref: RegistryRef) -> list[str]:
    versions = client.search_model_versions(f"name='{ref.model_name}'")
    return sorted((str(v.version) for v in versions), key=int)


def resolve_version(
    ref: RegistryRef, model: str | int, client: Any | None = None
) -> ModelVersionInfo:
    """The version `model` names: an alias (champion, staging) or a version number.

    Raises a StrataError naming the versions and aliases there are when it names none.
    """

    client = client or registry_client(ref)
    holders = alias_holders(ref, client)
    text = str(model).strip()
    if text in holders:
        version = holders[text]
    elif re.fullmatch(r"v?\d+", text):
        version = text.lstrip("v")
    elif text in ALIASES:
        known = ", ".join(f"{a} = v{v}" for a, v in sorted(holders.items())) or "none"
        raise StrataError(
            f"no version of '{ref.model_name}' holds the alias '{text}' yet (aliases: {known}); "
            f"promote one first (`strata promote VERSION --to {text}`) or give a version number"
        )
    else:
        raise StrataError(
            f"'{text}' names no version of '{ref.model_name}': give a version number or one of "
            f"the aliases {', '.join(ALIASES)}"
        )
    try:
        mv = client.get_model_version(ref.model_name, version)
    except MlflowException:
        known = _version_numbers(client, ref)
        raise StrataError(
            f"model '{ref.model_name}' has no version {version}; versions: "
            f"{', '.join(known) or 'none'} (`strata models` lists them)"
        ) from None
    run_tags: dict[str, str] = {}
    run_metrics: dict[str, float] = {}
    if mv.run_id:
        try:
            run = client.get_run(mv.run_id)
            run_tags, run_metrics = dict(run.data.tags), dict(run.data.metrics)
        except MlflowException:
            pass
    return ModelVersionInfo(
        model_name=ref.model_name,
        version=str(mv.version),
        run_id=str(mv.run_id or ""),
        aliases=tuple(sorted(a for a, v in holders.items() if v == str(mv.version))),
        tags=dict(mv.tags or {}),
        run_tags=run_tags,
        run_metrics=run_metrics,
        created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).replace(tzinfo=None)
        if mv.creation_timestamp
        else None,
    )


def list_versions(ref: RegistryRef, client: Any | None = None) -> list[ModelVersionInfo]:
    """Every version of the model, oldest first, with aliases, tags and run metrics."""
    client = client or registry_client(ref)
    _registered_model(client, ref)
    return [resolve_version(ref, v, client) for v in _version_numbers(client, ref)]


# ---------------------------------------------------------------------------------------------
# alias history (DuckDB)


def insert_alias_history(
    con: duckdb.DuckDBPyConnection,
    *,
    model_name: str,
    alias: str,
    from_version: str | None,
    to_version: str,
    event: str,
    who: str,
    why: str,
    now: datetime | None = None,
) -> None:
    """Record one alias move on an open connection, inside the caller's transaction."""
    if event not in ALIAS_EVENTS:
        raise StrataError(f"alias event {event!r} is not one of {', '.join(ALIAS_EVENTS)}")
    con.execute(_DDL)
    con.execute(
        f"INSERT INTO {ALIAS_HISTORY_TABLE} (occurred_at, model_name, alias, from_version, "
        f"to_version, event, who, why) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (now or datetime.now(UTC)).replace(tzinfo=None),
            model_name,
            alias,
            from_version,
            str(to_version),
            event,
            who,
            why,
        ],
    )


def read_alias_history(
    ws: Workspace,
    model_name: str | None = None,
    alias: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> pd.DataFrame:
    """Alias moves recorded by Strata, oldest first (optionally of one model and/or alias)."""
    with open_db(ws, write=False, timeout=timeout) as con:
        if not has_table(con, ALIAS_HISTORY_TABLE):
            return pd.DataFrame({c: pd.Series(dtype="str") for c in ALIAS_HISTORY_COLUMNS})
        where, params = [], []
        if model_name is not None:
            where.append("model_name = ?")
            params.append(model_name)
        if alias is not None:
            where.append("alias = ?")
            params.append(alias)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        frame = con.execute(
            f"SELECT {', '.join(ALIAS_HISTORY_COLUMNS)} FROM {ALIAS_HISTORY_TABLE} {clause} "
            f"ORDER BY seq",
            params,
        ).df()
    text = [c for c in ALIAS_HISTORY_COLUMNS if c not in ("seq", "occurred_at")]
    return frame.astype({c: "str" for c in text})
