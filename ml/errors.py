"""The one exception type a user sees: it names the thing, the value, the expectation and the fix."""

__all__ = ["StrataError"]


class StrataError(Exception):
    """A user-facing error; the CLI prints its message and exits non-zero."""
