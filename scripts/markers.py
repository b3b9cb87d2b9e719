"""Generated sections of a markdown file: the text between `<!-- results:NAME -->` markers."""

from __future__ import annotations

import re

__all__ = ["MARKER", "rewrite"]

MARKER = re.compile(r"(<!-- results:(\w+) -->\n)(.*?)(<!-- /results:\2 -->)", re.S)


def rewrite(text: str, tables: dict[str, str]) -> str:
    """`text` with every known marker's content replaced; unknown markers are left alone."""

    def body(match: re.Match[str]) -> str:
        new = tables.get(match.group(2), match.group(3))
        return f"{match.group(1)}{new}{match.group(4)}"

    return MARKER.sub(body, text)
