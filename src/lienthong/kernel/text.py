"""Vietnamese text helpers."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced form used for search: 'Hạ Long' → 'ha long'.

    đ/Đ are letters of their own, not a d with a mark, so NFD leaves them: map them by hand.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip().lower()


def escape_like(text: str, escape: str = "\\") -> str:
    return text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")
