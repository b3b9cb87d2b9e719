"""Refresh ids sort in the order the refreshes held the lock, whatever the clock does.

The monitoring stage measures a refresh against the one whose id sorts just before it, and the
trigger rules read the refresh whose id sorts last; ids one second apart with a random tail put
two refreshes of the same second in a random order (a CI run measured the drift refresh against
the wrong snapshot that way)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.run_ledger import new_refresh_id, refresh_lock


def test_ids_allocated_under_the_lock_strictly_increase(tmp_path):
    ids = []
    for _ in range(50):  # back to back: many in one second, some maybe in one microsecond
        with refresh_lock(tmp_path, None, "ops") as lock:
            ids.append(lock.refresh_id)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_an_id_sorts_after_a_previous_one_from_the_future(tmp_path):
    ahead = new_refresh_id()
    future = datetime.now(UTC) + timedelta(days=1)
    later = f"refresh-{future:%Y%m%dT%H%M%S%f}-abcdef"  # the clock stepped back a day since
    assert new_refresh_id(later) > later > ahead
    with refresh_lock(tmp_path, later, "ops"):
        pass
    with refresh_lock(tmp_path, None, "ops") as lock:
        assert lock.refresh_id > later


@pytest.mark.parametrize("previous", [None, "", "refresh-20261207T172152-5c5ddac6", "junk"])
def test_an_id_after_none_or_an_older_format_id_is_the_clocks(previous):
    before = f"refresh-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    got = new_refresh_id(previous)
    assert got > before and (previous is None or got > previous)
    assert len(got.split("-")[1]) == len("20261207T172152000000")
