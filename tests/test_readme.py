"""The README tells the truth about error codes: each one it lists is written in full in the
source (greppable, never built from pieces) and asserted by at least one test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _listed() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("<!-- error-codes -->", 1)[1].split("<!-- /error-codes -->", 1)[0]
    return set(re.findall(r"`([a-z][a-z0-9_]+)`", section))


def _text_of(folder: str, *, skip: str | None = None) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / folder).rglob("*.py")
        if skip is None or p.name != skip
    )


def test_every_listed_code_is_in_the_source_and_in_a_test() -> None:
    codes = _listed()
    assert len(codes) > 60
    source = _text_of("src")
    tests = _text_of("tests", skip=Path(__file__).name)
    not_in_source = sorted(c for c in codes if f'"{c}"' not in source)
    untested = sorted(c for c in codes if f'"{c}"' not in tests)
    assert not_in_source == []
    assert untested == []
