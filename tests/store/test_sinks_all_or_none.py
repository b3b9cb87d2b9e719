"""One run to several sinks (store.sinks.write_runs): published to all of them or to none.

Failures are planted in a real PostgreSQL (its own fresh database): a CHECK constraint that
rejects the run's rows while it is staged, and a deferred constraint trigger that rejects them
only at COMMIT, after another sink has already published.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from test_sinks import make_sink, run, segments

from ml.errors import StrataError
from store.sinks import list_runs, write_run, write_runs

D1 = date(2024, 1, 1)


def _runs(sink) -> list[list[str]]:
    return list_runs(sink)[["run_id", "status"]].values.tolist()


def _on_postgres(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as con:
        for statement in statements:
            con.execute(sa.text(statement))
    engine.dispose()


def test_a_fresh_postgres_database_gets_the_sink_schema(tmp_path, postgres_db):
    sink = make_sink("postgres", tmp_path, url=postgres_db)
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    engine = sa.create_engine(postgres_db)
    with engine.connect() as con:
        tables = set(sa.inspect(con).get_table_names(schema="strata"))
    engine.dispose()
    assert {"assignments", "explanations", "strata_runs", "assignments_history"} <= tables
    assert segments(sink) == ["A"]


def test_a_failure_in_postgres_leaves_parquet_and_duckdb_as_they_were(tmp_path, postgres_db):
    sinks = [
        make_sink("parquet", tmp_path),
        make_sink("duckdb", tmp_path),
        make_sink("postgres", tmp_path, url=postgres_db),
    ]
    write_runs(sinks, run("OLD"), as_of=D1, model_version=3, run_id="r1")
    _on_postgres(
        postgres_db,
        "ALTER TABLE strata.assignments ADD CONSTRAINT planted CHECK (run_id <> 'r2')",
    )
    with pytest.raises(
        StrataError,
        match=r"(?s)violates check constraint \"planted\".*Run r2 was published to none of the sinks",
    ):
        write_runs(sinks, run("NEW"), as_of=D1, model_version=3, run_id="r2")
    for sink in sinks:
        assert segments(sink) == ["OLD"] and segments(sink, "explanations") == ["OLD"]
        assert _runs(sink) == [["r1", "current"]], sink.kind
    assert not [p for p in (tmp_path / "outputs" / "_runs").iterdir() if p.name.startswith(".")]

    _on_postgres(postgres_db, "ALTER TABLE strata.assignments DROP CONSTRAINT planted")
    results = write_runs(sinks, run("NEXT"), as_of=D1, model_version=3, run_id="r3")
    assert [r.replaced_run_id for r in results] == ["r1", "r1", "r1"]
    assert [r.sink.split(":")[0] for r in results] == ["parquet", "duckdb", "postgresql+psycopg"]
    assert all(segments(sink) == ["NEXT"] for sink in sinks)


def test_a_commit_failing_after_another_sink_published_rolls_that_one_back(tmp_path, postgres_db):
    # sinks publish in reverse of [parquet, postgres, sqlite]: SQLite commits first, then
    # PostgreSQL's COMMIT fails on the deferred trigger, so SQLite's run must be undone
    sinks = [
        make_sink("postgres", tmp_path, url=postgres_db),
        make_sink("sqlite", tmp_path),
        make_sink("parquet", tmp_path),
    ]
    write_runs(sinks, run("OLD"), as_of=D1, model_version=3, run_id="r1")
    _on_postgres(
        postgres_db,
        "CREATE FUNCTION strata.planted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'planted failure at commit'; END $$",
        "CREATE CONSTRAINT TRIGGER planted AFTER INSERT ON strata.assignments "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION strata.planted()",
    )
    with pytest.raises(StrataError, match=r"(?s)planted failure at commit.*published to none"):
        write_runs(sinks, run("NEW"), as_of=D1, model_version=3, run_id="r2")
    for sink in sinks:
        assert segments(sink) == ["OLD"] and segments(sink, "explanations") == ["OLD"], sink.kind
    assert _runs(sinks[0]) == [["r1", "current"]]
    assert _runs(sinks[1]) == [["r1", "current"], ["r2", "rolled_back"]]
    assert _runs(sinks[2]) == [["r1", "current"]]


def test_a_bad_or_unreachable_postgres_url_names_the_setting(tmp_path, postgres_db):
    unreachable = sa.engine.make_url(postgres_db).set(port=1).render_as_string(False)
    sinks = [make_sink("parquet", tmp_path), make_sink("postgres", tmp_path, url=unreachable)]
    with pytest.raises(
        StrataError,
        match=r"sinks in configs/scoring.yaml: cannot connect to postgresql\+psycopg://"
        r"strata@127.0.0.1:1/.*Start the server, or fix the host, port",
    ):
        write_runs(sinks, run("A"), as_of=D1, model_version=3, run_id="r1")
    assert _runs(sinks[0]) == []
    missing_db = sa.engine.make_url(postgres_db).set(database="nope").render_as_string(False)
    with pytest.raises(StrataError, match=r'cannot connect .*database "nope" does not exist'):
        write_run(make_sink("postgres", tmp_path, url=missing_db), run("A"), as_of=D1,
                  model_version=3, run_id="r1")  # fmt: skip
    with pytest.raises(StrataError, match=r"names a database or driver Strata cannot load"):
        write_run(make_sink("postgres", tmp_path, url="postgresql+nodriver://h/db"), run("A"),
                  as_of=D1, model_version=3, run_id="r1")  # fmt: skip
