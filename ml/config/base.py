"""The base of every config model: frozen, unknown keys rejected."""

import re

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen", "hide_url_password"]

_URL_PASSWORD = re.compile(r"://([^:/@]+):[^@]*@")


def hide_url_password(text: str) -> str:
    """`text` with the password of every URL in it shown as *** (for messages and logs)."""
    return _URL_PASSWORD.sub(r"://\1:***@", text)


class Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")
