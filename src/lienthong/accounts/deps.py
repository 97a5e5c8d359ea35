"""Who is calling, for the API (HTTP Basic for agency software, or a page session) and for
pages (a session cookie, else a redirect to sign-in)."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from lienthong.accounts import service, throttle
from lienthong.accounts.models import ROLE_LABELS, SOFTWARE, Role
from lienthong.accounts.service import Principal
from lienthong.kernel.errors import AppError, Forbidden, Unauthenticated
from lienthong.kernel.events import node_event
from lienthong.web.deps import DB, AppSettings, client_address

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
        runtime = request.app.state.runtime
        rules = throttle.basic_rules(runtime.settings)
        address = client_address(request)
        throttle.check(runtime.limiter, rules, name=basic[0], address=address)
        principal = service.credential_principal(db, system_id=basic[0], secret=basic[1])
        if principal is None:
            throttle.failed(runtime.limiter, rules, name=basic[0], address=address)
            runtime.events.emit(
                node_event(
                    action="basic_auth",
                    category="authentication",
                    outcome="failure",
                    reason="bad_credentials",
                    source_ip=address,
                    user_name=basic[0][:80],
                    fields={"url.path": request.url.path},
                )
            )
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


# ---- roles in the signature -----------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    """A caller acting for one agency in one of the roles an endpoint accepts."""

    principal: Principal
    agency_code: str
    role: str


def _roles_text(roles: tuple[Role, ...], software: bool, lang: str) -> str:
    names = [ROLE_LABELS[r][1 if lang == "en" else 0] for r in roles]
    if software:
        names.append("agency software" if lang == "en" else "phần mềm của cơ quan")
    return ", ".join(names)


def role_refused(roles: tuple[Role, ...], software: bool, agency: str | None) -> Forbidden:
    where_vi = f" tại {agency}" if agency else ""
    where_en = f" at {agency}" if agency else ""
    return Forbidden(
        f"Cần vai trò {_roles_text(roles, software, 'vi')}{where_vi}.",
        f"This needs the role {_roles_text(roles, software, 'en')}{where_en}.",
        code="role_required",
        details={
            "required_roles": [r.value for r in roles] + ([SOFTWARE] if software else []),
            "agency": agency,
        },
    )


def choose_agency(
    principal: Principal, roles: tuple[Role, ...], *, software: bool, requested: str | None
) -> Acting:
    """The agency the caller acts for: the one asked for (`?agency=`), which must be among the
    caller's grants in one of `roles`, or else the first such grant."""
    # One grant per agency: the one whose role comes first in `roles` (a clerk who is also
    # a leader acts as the clerk where the endpoint names the clerk first).
    rank = {r.value: i for i, r in enumerate(roles)} | {SOFTWARE: len(roles)}
    best: dict[str, str] = {}
    for g in principal.grants:
        usable = g.role in rank and (software or g.role != SOFTWARE)
        if usable and (g.agency_code not in best or rank[g.role] < rank[best[g.agency_code]]):
            best[g.agency_code] = g.role
    grants = sorted(best.items())
    if requested:
        wanted = requested.strip().upper()
        match = next((g for g in grants if g[0] == wanted), None)
        if match is None:
            raise role_refused(roles, software, wanted)
        return Acting(principal, match[0], match[1])
    if not grants:
        raise role_refused(roles, software, None)
    return Acting(principal, grants[0][0], grants[0][1])


AgencyQuery = Annotated[
    str | None,
    Query(
        alias="agency",
        max_length=64,
        description="The agency to act for, among your grants (default: the first).",
    ),
]


def acting_for(*roles: Role, software: bool = False) -> Callable[..., Acting]:
    """A dependency: the caller must hold one of `roles` at the agency it acts for (agency
    software counts as holding them at its own agency when `software`)."""

    def dependency(principal: CurrentPrincipal, agency: AgencyQuery = None) -> Acting:
        return choose_agency(principal, roles, software=software, requested=agency)

    dependency.__name__ = f"acting_for_{'_'.join(r.value for r in roles)}"
    return dependency


def page_acting_for(*roles: Role) -> Callable[..., Acting]:
    """The same for pages: a visitor not signed in is sent to sign in first."""

    def dependency(principal: PagePrincipal, agency: AgencyQuery = None) -> Acting:
        return choose_agency(principal, roles, software=False, requested=agency)

    dependency.__name__ = f"page_acting_for_{'_'.join(r.value for r in roles)}"
    return dependency


def _node_role_check(principal: Principal, roles: tuple[Role, ...], node_agency: str) -> Principal:
    if any(principal.has_role(r, node_agency) for r in (*roles, Role.ADMIN)):
        return principal
    raise role_refused(roles, False, node_agency)


def node_role(*roles: Role) -> Callable[..., Principal]:
    """A dependency: one of `roles` (or admin) on the node's home agency, as the provincial
    IT, security and operations-centre staff hold them."""

    def dependency(principal: CurrentPrincipal, settings: AppSettings) -> Principal:
        return _node_role_check(principal, roles, settings.node_agency_code)

    dependency.__name__ = f"node_role_{'_'.join(r.value for r in roles)}"
    return dependency


def page_node_role(*roles: Role) -> Callable[..., Principal]:
    def dependency(principal: PagePrincipal, settings: AppSettings) -> Principal:
        return _node_role_check(principal, roles, settings.node_agency_code)

    dependency.__name__ = f"page_node_role_{'_'.join(r.value for r in roles)}"
    return dependency
