"""synth.supply.shifted_lead_times: only the named supplier's orders from the week on slow down."""

from __future__ import annotations

import numpy as np

from synth.supply import LeadTimeShift, PurchaseOrders, shifted_lead_times


def _orders() -> PurchaseOrders:
    order = np.array([0, 14, 21, 28, 35])
    return PurchaseOrders(
        sku=np.array([0, 0, 1, 0, 0]),
        order_day=order,
        promised_day=order + 7,
        receipt_day=order + np.array([6, 6, 6, 5, 6]),
        received=np.ones(5, dtype=bool),
        qty_ordered=np.full(5, 10),
        qty_received=np.full(5, 10),
        to_eu=np.zeros(5, dtype=bool),
    )


def test_the_suppliers_orders_from_the_week_on_take_factor_times_as_long():
    supplier = np.array([0, 1])  # product 0 from supplier 0, product 1 from supplier 1
    got = shifted_lead_times(_orders(), supplier, LeadTimeShift(0, from_week=2, factor=3.0), 60)
    assert (got.receipt_day - got.order_day).tolist() == [6, 18, 6, 15, 18]
    assert got.promised_day.tolist() == _orders().promised_day.tolist()
    # order day 35 + 18 = 53 < 60 received; with a 50-day history it is still open, 0 received
    short = shifted_lead_times(_orders(), supplier, LeadTimeShift(0, 2, 3.0), 50)
    assert short.received.tolist() == [True, True, True, True, False]
    assert short.qty_received.tolist() == [10, 10, 10, 10, 0]


def test_no_shift_leaves_the_orders_as_they_were():
    pos = _orders()
    assert shifted_lead_times(pos, np.array([0, 1]), None, 60) is pos
