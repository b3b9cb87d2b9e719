"""Crontab expressions as APScheduler 3 reads them: the weekday field translated to names.

crontab(5) numbers weekdays 0-7 from Sunday (0 and 7 both Sunday); APScheduler 3's
``CronTrigger.from_crontab`` passes the field through to its own numbering, 0 = Monday, so
``0 6 * * 1`` would fire on Tuesdays there (checked on APScheduler 3.11.3). Names mean the same
in both, so numbers are rewritten as names before APScheduler sees them.
"""

from __future__ import annotations

__all__ = ["CRON_FIELDS", "apscheduler_crontab"]

CRON_FIELDS = ("minute", "hour", "day", "month", "weekday")
_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day(token: str) -> str:
    if token.isdigit():
        n = int(token)
        if n > 7:
            raise ValueError(f"weekday {n} is beyond 0-7 (0 and 7 are Sunday)")
        return _NAMES[n]
    return token


def _weekday_item(item: str) -> str:
    if "/" in item:
        raise ValueError(
            f"weekday step {item!r} is not supported; list the days (e.g. mon,wed,fri)"
        )
    if "-" not in item:
        return _day(item)
    first, last = item.split("-", 1)
    a, b = _day(first), _day(last)
    if first == "0":  # Sunday first: APScheduler's week ends on Sunday
        return "sun" if last in ("0", "7") else f"sun,mon-{b}"
    if b == "sun" and a != "sun":
        return f"{a}-sun"
    return f"{a}-{b}"


def apscheduler_crontab(expression: str) -> str:
    """`expression` (5 crontab fields) with its weekday field written in day names."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(
            f"a cron expression has 5 fields ({' '.join(CRON_FIELDS)}), got {len(fields)} in "
            f"{expression!r}; e.g. '0 6 * * 1' is Mondays 06:00"
        )
    weekday = fields[-1]
    if weekday != "*":
        weekday = ",".join(_weekday_item(i) for i in weekday.lower().split(","))
    return " ".join([*fields[:-1], weekday])
