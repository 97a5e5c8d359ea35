"""Typed refusals of the codec. Each names what is wrong and how to fix it."""

from __future__ import annotations

from typing import Any

from lienthong.kernel.errors import AppError, Invalid, TooLarge


class EdxmlError(Invalid):
    code = "invalid_edxml"


def refuse(code: str, vi: str, en: str, **details: Any) -> EdxmlError:
    return EdxmlError(vi, en, code=code, details=details or None)


def too_large(limit: int) -> AppError:
    return TooLarge(
        f"Gói tin vượt quá giới hạn {limit // (1024 * 1024)} MB.",
        f"The package is over the {limit // (1024 * 1024)} MB limit.",
        code="package_too_large",
        details={"limit_bytes": limit},
    )
