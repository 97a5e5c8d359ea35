"""Typed errors. Each carries an HTTP status, a stable machine code and a message in
Vietnamese and English; the API and the pages each have one handler that renders them."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message_vi: str,
        message_en: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.headers = headers
        self.message_vi = message_vi
        self.message_en = message_en
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details

    def message(self, language: str) -> str:
        return self.message_en if language == "en" else self.message_vi

    def to_body(self, language: str) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message(language),
                "details": self.details,
            }
        }


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Invalid(AppError):
    """The request is well-formed but breaks a domain rule: 422."""

    status_code = 422
    code = "invalid"


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, details: Any = None) -> None:
        super().__init__(
            "Cần đăng nhập hoặc cung cấp thông tin xác thực của hệ thống.",
            "Sign in or send the system's credentials.",
            details=details,
        )


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


class TooManyRequests(AppError):
    """429 with `Retry-After`: a rate limit or a sign-in lockout; `retry_after` in seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(
        self, message_vi: str, message_en: str, *, retry_after: int, code: str | None = None
    ) -> None:
        super().__init__(
            message_vi,
            message_en,
            code=code,
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def wait_text(seconds: int, lang: str) -> str:
    """'3 phút' / '3 minutes' (rounded up), or seconds under a minute."""
    if seconds < 60:
        return f"{seconds} giây" if lang != "en" else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return f"{minutes} phút" if lang != "en" else f"{minutes} minute{'s' if minutes > 1 else ''}"
