"""Who is calling, for the API (HTTP Basic for agency software, or a page session) and for
pages (a session cookie, else a redirect to sign-in)."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Annotated

from fastapi import Depends, Request

from lienthong.accounts import service
from lienthong.accounts.models import Role
from lienthong.accounts.service import Principal
from lienthong.kernel.errors import AppError, Forbidden, Unauthenticated
from lienthong.web.deps import DB, AppSettings

SESSION_COOKIE = "lt_session"
PRE_SESSION_CSRF_COOKIE = "lt_csrf"


class SignInRequired(AppError):
    """Raised by pages: the page handler answers with a redirect to the sign-in page."""

    status_code = 401
    code = "sign_in_required"

    def __init__(self) -> None:
        super().__init__("Vui lòng đăng nhập.", "Please sign in.")


class BadCsrf(AppError):
    status_code = 403
    code = "bad_csrf_token"

    def __init__(self) -> None:
        super().__init__(
            "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại.",
            "The form has expired or is not valid. Reload the page and try again.",
        )


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    system_id, sep, secret = decoded.partition(":")
    return (system_id, secret) if sep else None


def optional_principal(request: Request, db: DB) -> Principal | None:
    basic = _basic(request)
    principal: Principal | None = None
    if basic is not None:
        principal = service.credential_principal(db, system_id=basic[0], secret=basic[1])
        if principal is None:
            raise Unauthenticated(details={"scheme": "basic"})
    elif token := request.cookies.get(SESSION_COOKIE):
        principal = service.session_principal(db, token=token)
    request.state.principal = principal
    return principal


def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


def require_node_admin(
    principal: Annotated[Principal, Depends(require_principal)], settings: AppSettings
) -> Principal:
    """Provincial IT staff run the registry: the admin role on the node's home agency."""
    if not principal.has_role(Role.ADMIN, settings.node_agency_code):
        raise Forbidden(
            "Chỉ quản trị viên của nút (quản trị tại "
            f"{settings.node_agency_code}) được thay đổi danh bạ.",
            f"Only the node's administrators (admin at {settings.node_agency_code}) may change "
            "the registry.",
            code="forbidden",
            details={"required_role": "admin", "agency_code": settings.node_agency_code},
        )
    return principal


def page_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise SignInRequired()
    return principal


def check_csrf(request: Request, principal: Principal | None, submitted: str | None) -> None:
    expected = principal.csrf_token if principal else request.cookies.get(PRE_SESSION_CSRF_COOKIE)
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise BadCsrf()


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
NodeAdmin = Annotated[Principal, Depends(require_node_admin)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]
