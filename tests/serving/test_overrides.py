"""Planner overrides (serving/overrides.py): four eyes, expiry, audit rows, clear errors."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ml.errors import StrataError
from serving.overrides import (
    active_overrides,
    approve_override,
    expire_overrides,
    list_overrides,
    request_override,
    validate_override_target,
)
from store.audit import read_audit

TODAY = date(2024, 3, 4)


def request(db, sku="85123A", segment="fast_movers", until=date(2024, 3, 31), who="alice"):
    return request_override(
        db, sku, segment, "launch campaign", until, requested_by=who, today=TODAY
    )


def test_request_then_approve_by_someone_else(tmp_path):
    oid = request(tmp_path)
    assert list_overrides(tmp_path)["status"].tolist() == ["requested"]
    assert active_overrides(tmp_path, TODAY).empty  # not in force before approval
    approved = approve_override(tmp_path, oid, approved_by="bob", today=TODAY)
    assert (approved["status"], approved["approved_by"], approved["requested_by"]) == (
        "approved",
        "bob",
        "alice",
    )
    active = active_overrides(tmp_path, TODAY)
    assert active[["sku_id", "segment"]].values.tolist() == [["85123A", "fast_movers"]]


def test_four_eyes_requester_cannot_approve(tmp_path):
    oid = request(tmp_path, who="alice")
    with pytest.raises(StrataError) as err:
        approve_override(tmp_path, oid, approved_by="Alice", today=TODAY)
    assert str(err.value) == (
        f"four-eyes rule: override {oid} (85123A -> fast_movers) was requested by alice, so "
        f"Alice cannot approve it; ask another planner to approve it"
    )
    assert list_overrides(tmp_path)["status"].tolist() == ["requested"]
    assert read_audit(tmp_path, event="override_approve").empty


def test_approver_defaults_to_strata_user(tmp_path, monkeypatch):
    oid = request(tmp_path, who="alice")
    monkeypatch.setenv("STRATA_USER", "alice")
    with pytest.raises(StrataError, match="four-eyes rule"):
        approve_override(tmp_path, oid, today=TODAY)
    monkeypatch.setenv("STRATA_USER", "carol")
    assert approve_override(tmp_path, oid, today=TODAY)["approved_by"] == "carol"


def test_unknown_id_lists_the_requests_awaiting_approval(tmp_path):
    request(tmp_path, sku="A1")
    with pytest.raises(StrataError) as err:
        approve_override(tmp_path, 99, approved_by="bob", today=TODAY)
    assert (
        str(err.value)
        == "there is no override 99; requests awaiting approval: 1 (A1 -> fast_movers)"
    )


def test_unknown_id_on_an_empty_store(tmp_path):
    with pytest.raises(StrataError, match="there is no override 5; no request awaits approval"):
        approve_override(tmp_path, 5, approved_by="bob", today=TODAY)


def test_approving_twice_is_an_error(tmp_path):
    oid = request(tmp_path)
    approve_override(tmp_path, oid, approved_by="bob", today=TODAY)
    with pytest.raises(StrataError) as err:
        approve_override(tmp_path, oid, approved_by="carol", today=TODAY)
    assert str(err.value) == (
        f"override {oid} (85123A -> fast_movers) is already approved by bob; "
        f"only a requested override can be approved"
    )


def test_request_needs_a_reason_and_a_future_end(tmp_path):
    with pytest.raises(StrataError, match="override of 'X1': give a reason"):
        request_override(tmp_path, "X1", "slow", "  ", date(2024, 4, 1), "alice", today=TODAY)
    with pytest.raises(StrataError) as err:
        request_override(tmp_path, "X1", "slow", "why", date(2024, 3, 3), "alice", today=TODAY)
    assert str(err.value) == (
        "override of 'X1': until 2024-03-03 is before today (2024-03-04); give the last day "
        "the override should be in force"
    )


def test_a_lapsed_request_cannot_be_approved(tmp_path):
    oid = request(tmp_path, until=date(2024, 3, 10))
    with pytest.raises(StrataError, match=f"override {oid} lapsed on 2024-03-10 before anyone"):
        approve_override(tmp_path, oid, approved_by="bob", today=date(2024, 3, 11))


def test_until_is_inclusive_and_expiry_is_audited_once(tmp_path):
    oid = request(tmp_path, until=date(2024, 3, 10))
    approve_override(tmp_path, oid, approved_by="bob", today=TODAY)
    assert len(active_overrides(tmp_path, date(2024, 3, 10))) == 1
    assert expire_overrides(tmp_path, date(2024, 3, 10)).empty  # still in force that day
    expired = expire_overrides(tmp_path, date(2024, 3, 11))
    assert expired[["override_id", "status"]].values.tolist() == [[oid, "expired"]]
    assert expired.loc[0, "ended_why"] == (
        f"override {oid} lapsed: in force until 2024-03-10, scored as of 2024-03-11"
    )
    assert expire_overrides(tmp_path, date(2024, 3, 18)).empty  # already lapsed: not again
    assert active_overrides(tmp_path, date(2024, 3, 11)).empty
    rows = read_audit(tmp_path, event="override_expire")
    assert len(rows) == 1
    assert (rows.loc[0, "subject"], rows.loc[0, "from_value"]) == ("85123A", "fast_movers")


def test_unapproved_requests_lapse_too(tmp_path):
    request(tmp_path, until=date(2024, 3, 10))
    expired = expire_overrides(tmp_path, date(2024, 4, 1))
    assert expired.loc[0, "ended_why"].endswith("(never approved)")


def test_every_step_is_audited_with_who_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_USER", "scoring-job")
    first = request(tmp_path, who="alice")
    approve_override(tmp_path, first, approved_by="bob", today=TODAY)
    second = request(tmp_path, segment="slow_movers", who="carol", until=date(2024, 3, 20))
    approve_override(tmp_path, second, approved_by="bob", today=TODAY)
    expire_overrides(tmp_path, date(2024, 3, 21))
    rows = read_audit(tmp_path, subject="85123A")
    table = rows[["event", "who", "from_value", "to_value", "why"]].fillna("-")
    assert table.values.tolist() == [
        [
            "override_request",
            "alice",
            "-",
            "fast_movers",
            f"override {first} until 2024-03-31: launch campaign",
        ],
        [
            "override_approve",
            "bob",
            "-",
            "fast_movers",
            f"approved override {first} requested by alice: launch campaign",
        ],
        [
            "override_request",
            "carol",
            "-",
            "slow_movers",
            f"override {second} until 2024-03-20: launch campaign",
        ],
        [
            "override_expire",
            "bob",
            "fast_movers",
            "-",
            f"override {first} superseded by override {second}",
        ],
        [
            "override_approve",
            "bob",
            "-",
            "slow_movers",
            f"approved override {second} requested by carol: launch campaign",
        ],
        [
            "override_expire",
            "scoring-job",
            "slow_movers",
            "-",
            f"override {second} lapsed: in force until 2024-03-20, scored as of 2024-03-21",
        ],
    ]


def test_approval_supersedes_the_override_in_force(tmp_path):
    first = request(tmp_path)
    approve_override(tmp_path, first, approved_by="bob", today=TODAY)
    second = request(tmp_path, segment="slow_movers", who="carol")
    approve_override(tmp_path, second, approved_by="bob", today=TODAY)
    active = active_overrides(tmp_path, TODAY)
    assert active[["override_id", "segment"]].values.tolist() == [[second, "slow_movers"]]
    statuses = list_overrides(tmp_path).set_index("override_id")["status"].to_dict()
    assert statuses == {first: "superseded", second: "approved"}


def test_validate_override_target_names_close_matches():
    skus = ["85123A", "85123B", "22423", "47566"]
    segments = ["fast_movers", "slow_movers", "new_products"]
    validate_override_target("85123A", "fast_movers", skus, segments)  # known: no error
    with pytest.raises(StrataError) as err:
        validate_override_target("85123C", "fast_mover", skus, segments)
    assert str(err.value) == (
        "override rejected: product '85123C' is not in the newest snapshot; close matches: "
        "85123B, 85123A; segment 'fast_mover' is not in the catalogue (configs/segments.yaml); "
        "close matches: fast_movers, slow_movers; segments: fast_movers, slow_movers, new_products"
    )
    with pytest.raises(
        StrataError, match=r"^override rejected: product 'ZZZ' is not in the newest snapshot$"
    ):
        validate_override_target("ZZZ", "new_products", skus, pd.Series(segments))
