"""Crontab expressions as APScheduler 3 reads them: the weekday field translated to names.

crontab(5) numbers weekdays 0-7 from Sunday (0 and 7 both Sunday); APScheduler 3's
``CronTrigger.from_crontab`` passes the field through to its own numbering, 0 = Monday, so
``0 6 * * 1`` would fire on Tuesdays there (checked on APScheduler 3.11.3). Names mean the same
in both, so numbers are rewritten as names before APScheduler sees them. ``check_crontab``
validates an expression without APScheduler (ml/ imports no scheduler): ``*``, numbers, ranges,
lists and ``/`` steps in every field, month and weekday names.
"""

from __future__ import annotations

__all__ = ["CRON_FIELDS", "apscheduler_crontab", "check_crontab"]

CRON_FIELDS = ("minute", "hour", "day", "month", "weekday")
_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RANGES = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12), "weekday": (0, 7)}


def _value(field: str, token: str) -> int:
    """One number or name of `field`, checked against the field's range."""
    names = {"month": _MONTHS, "weekday": _NAMES[:7]}.get(field, ())
    if token.lower() in names:
        return names.index(token.lower()) + (1 if field == "month" else 0)
    if not token.isdigit():
        raise ValueError(
            f"{field} value {token!r} is not a number"
            + (f" or a name ({', '.join(names)})" if names else "")
        )
    low, high = _RANGES[field]
    n = int(token)
    if n > high:
        raise ValueError(f"{field} value {n} is higher than the maximum value ({high})")
    if n < low:
        raise ValueError(f"{field} value {n} is lower than the minimum value ({low})")
    return n


def check_crontab(expression: str) -> str:
    """`expression` when it is a valid 5-field crontab expression, else a ValueError saying why."""
    fields = _fields(expression)
    for field, text in zip(CRON_FIELDS, fields, strict=True):
        for item in text.split(","):
            body, _, step = item.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ValueError(f"{field} step {step!r} in {item!r} is not a positive number")
            if body == "*":
                continue
            first, _, last = body.partition("-")
            a = _value(field, first)
            if last and _value(field, last) < a:
                raise ValueError(f"{field} range {body!r} ends before it starts")
    if fields[-1] != "*":
        apscheduler_crontab(expression)  # the weekday forms the translation supports
    return expression


def _fields(expression: str) -> list[str]:
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(
            f"a cron expression has 5 fields ({' '.join(CRON_FIELDS)}), got {len(fields)} in "
            f"{expression!r}; e.g. '0 6 * * 1' is Mondays 06:00"
        )
    return fields


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
    fields = _fields(expression)
    weekday = fields[-1]
    if weekday != "*":
        weekday = ",".join(_weekday_item(i) for i in weekday.lower().split(","))
    return " ".join([*fields[:-1], weekday])
