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
    ) -> None:
        super().__init__(message_en)
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
