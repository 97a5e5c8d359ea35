"""Identifiers of data subjects: the enterprise tax code (MST) with its check digit, and the
12-digit personal ID number (CCCD). Checked on import and on every call by key."""

from __future__ import annotations

import random
import re

from lienthong.kernel.errors import Invalid

# Weights of the MST check digit on digits 1-9 (python-stdnum stdnum/vn/mst.py).
_MST_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_MST = re.compile(r"^(\d{10})(?:-(\d{3}))?$")
_CCCD = re.compile(r"^\d{12}$")
QUANG_NINH = "022"


def mst_check_digit(first9: str) -> int | None:
    """The 10th digit of a tax code, or None when the remainder allows none (10)."""
    remainder = sum(w * int(d) for w, d in zip(_MST_WEIGHTS, first9, strict=True)) % 11
    return None if remainder == 0 else 10 - remainder


def is_tax_code(value: str) -> bool:
    found = _MST.match(value)
    if not found:
        return False
    digits, branch = found.group(1), found.group(2)
    if digits[2:9] == "0000000" or branch == "000":
        return False
    return mst_check_digit(digits[:9]) == int(digits[9])


def is_person_id(value: str) -> bool:
    """Province of registration (001-096), the century/sex digit, the year: no check digit."""
    if not _CCCD.match(value):
        return False
    return 1 <= int(value[:3]) <= 96


def check_subject(kind: str | None, value: str) -> None:
    ok = {"tax_code": is_tax_code, "person_id": is_person_id}.get(kind or "", lambda _v: True)
    if not ok(value):
        label = ("mã số thuế", "tax code") if kind == "tax_code" else ("số định danh", "ID number")
        raise Invalid(
            f"{label[0].capitalize()} {value!r} không đúng định dạng.",
            f"The {label[1]} {value!r} is not well-formed.",
            code="bad_identifier",
            details={"kind": kind, "value": value},
        )


def make_tax_code(rng: random.Random, province: str = "57") -> str:
    """A well-formed 10-digit tax code (Quảng Ninh enterprises are founded under 57)."""
    while True:
        first9 = province + f"{rng.randrange(1, 10_000_000):07d}"
        check = mst_check_digit(first9)
        if check is not None:
            return first9 + str(check)


def make_person_id(
    rng: random.Random, *, year: int, female: bool, province: str = QUANG_NINH
) -> str:
    century = (year // 100) - 19  # 1900s → 0, 2000s → 1 …
    sex_digit = century * 2 + (1 if female else 0)
    return f"{province}{sex_digit}{year % 100:02d}{rng.randrange(0, 1_000_000):06d}"
