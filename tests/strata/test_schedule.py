"""`strata schedule`: cron expressions from configs/operations.yaml give the expected fire times
(crontab's weekday numbering, which APScheduler 3 does not share), a bad expression is a config
error naming the field, and `--once` records a refresh triggered by schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ml.config.files import load_operations_config, load_workspace
from ml.config.operations import Schedule
from ml.cron import apscheduler_crontab
from ml.errors import StrataError
from strata.cli import app
from strata.schedule import next_fire_times

MONDAY_7AM = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 2026-12-07 is a Monday


def _workspace(tmp_path: Path, schedule: dict) -> Path:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "operations.yaml").write_text(yaml.safe_dump({"schedule": schedule}))
    ws = {
        "name": "w",
        "root": ".",
        "operations": "configs/operations.yaml",
        "sources": [
            {"name": "d", "table": "demand", "kind": "csv", "path": "d.csv", "columns": {}}
        ],
    }
    path = tmp_path / "strata.yaml"
    path.write_text(yaml.safe_dump(ws))
    return path


def test_the_weekly_default_fires_mondays_at_six_utc():
    fires = next_fire_times(Schedule(), MONDAY_7AM, 3)
    assert [f.isoformat() for f in fires] == [
        "2026-12-14T06:00:00+00:00",
        "2026-12-21T06:00:00+00:00",
        "2026-12-28T06:00:00+00:00",
    ]
    assert {f.strftime("%A") for f in fires} == {"Monday"}


def test_a_cron_expression_in_config_yields_its_next_run_times(tmp_path):
    path = _workspace(tmp_path, {"cron": ["30 2 * * 0", "0 18 1 * *"], "timezone": "UTC"})
    schedule = load_operations_config(load_workspace(path)).schedule
    fires = next_fire_times(schedule, MONDAY_7AM, 3)
    # crontab: weekday 0 is Sunday; the 1st of the month at 18:00 comes after these three
    assert [f.isoformat() for f in fires] == [
        "2026-12-13T02:30:00+00:00",
        "2026-12-20T02:30:00+00:00",
        "2026-12-27T02:30:00+00:00",
    ]


def test_an_exact_fire_time_is_not_its_own_next():
    fires = next_fire_times(Schedule(), datetime(2026, 12, 7, 6, 0, tzinfo=UTC), 1)
    assert fires[0].isoformat() == "2026-12-14T06:00:00+00:00"


@pytest.mark.parametrize(
    ("cron", "day"),
    [("1", "mon"), ("0", "sun"), ("7", "sun"), ("1-5", "mon-fri"), ("0-2", "sun,mon-tue")],
)
def test_crontab_weekdays_become_names(cron, day):
    assert apscheduler_crontab(f"0 6 * * {cron}") == f"0 6 * * {day}"


@pytest.mark.parametrize(
    ("cron", "said"),
    [
        ("0 25 * * 1", "higher than the maximum value (23)"),
        ("0 6 * *", "has 5 fields"),
        ("0 6 * * 9", "weekday value 9 is higher than the maximum value (7)"),
    ],
)
def test_a_bad_cron_expression_is_a_config_error_naming_the_field(tmp_path, cron, said):
    path = _workspace(tmp_path, {"cron": [cron]})
    with pytest.raises(StrataError) as err:
        load_operations_config(load_workspace(path))
    assert "schedule.cron" in str(err.value) and said in str(err.value)


def test_a_bad_time_zone_is_a_config_error(tmp_path):
    path = _workspace(tmp_path, {"timezone": "Mars/Olympus"})
    with pytest.raises(StrataError, match=r"schedule.timezone.*not a time zone"):
        load_operations_config(load_workspace(path))


def test_dry_run_prints_the_next_fire_times(tmp_path):
    path = _workspace(tmp_path, {"cron": ["0 6 * * 1"]})
    got = CliRunner().invoke(
        app,
        [
            "schedule",
            "--config",
            str(path),
            "--dry-run",
            "--count",
            "2",
            "--after",
            "2026-12-07T07:00",
        ],
    )
    assert got.exit_code == 0, got.output
    assert "next 2026-12-14T06:00:00+00:00 (Monday)" in got.output
    assert "next 2026-12-21T06:00:00+00:00 (Monday)" in got.output


@pytest.mark.parametrize(
    "cron",
    [
        "0 6 * * 1",
        "*/15 * * * *",
        "0 0 1,15 * *",
        "30 2 * jan-mar mon-fri",
        "0 6 * * 0-2",
        "0 25 * * 1",
        "60 * * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "0 */0 * * *",
        "5-1 * * * *",
        "x * * * *",
    ],
)
def test_the_config_check_accepts_what_apscheduler_parses(cron):
    """ml.cron.check_crontab (no scheduler import) agrees with APScheduler's own parser."""
    from apscheduler.triggers.cron import CronTrigger

    from ml.cron import check_crontab

    def accepted(check) -> bool:
        try:
            check()
        except ValueError:
            return False
        return True

    ours = accepted(lambda: check_crontab(cron))
    theirs = accepted(lambda: CronTrigger.from_crontab(apscheduler_crontab(cron), timezone="UTC"))
    assert ours == theirs
