"""Where each role goes: its home after sign-in and the menu it sees. A citizen (no grants) gets
the public services and their own dossiers; staff get the pages their roles open, nothing that
would answer 403."""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.accounts.models import Role
from lienthong.accounts.service import Principal


@dataclass(frozen=True)
class MenuItem:
    href: str
    vi: str
    en: str
    roles: frozenset[str]  # "citizen", "public" or Role values; any one of them shows the item


def _r(*roles: str) -> frozenset[str]:
    return frozenset(roles)


STAFF_DOCUMENTS = _r(Role.CLERK, Role.LEADER)
ONE_STOP = _r(Role.OFFICER, Role.LEADER, Role.ADMIN)
MENU = (
    MenuItem("/dich-vu-cong", "Dịch vụ công", "Public services", _r("public", "citizen")),
    MenuItem("/tra-cuu", "Tra cứu hồ sơ", "Look up a dossier", _r("public", "citizen")),
    MenuItem("/dich-vu-cong/ho-so", "Hồ sơ của tôi", "My dossiers", _r("citizen")),
    MenuItem("/mot-cua", "Một cửa", "One-stop queue", ONE_STOP),
    MenuItem("/documents", "Văn bản", "Documents", STAFF_DOCUMENTS),
    MenuItem("/registers", "Sổ đăng ký", "Registers", STAFF_DOCUMENTS),
    MenuItem("/du-lieu", "Dữ liệu dùng chung", "Shared data", _r(*Role)),
    MenuItem("/du-lieu-cua-toi", "Dữ liệu của tôi", "My data", _r("citizen")),
    MenuItem("/mang", "Mạng và truyền hình", "Network and video", _r(Role.NETWORK, Role.IOC)),
    MenuItem("/security", "An toàn thông tin", "Security", _r(Role.SECURITY)),
    MenuItem("/tong-quan", "Tổng quan", "Overview", _r(Role.LEADER, Role.IOC)),
    MenuItem("/registry", "Danh bạ cơ quan", "Agency registry", _r(*Role)),
    MenuItem("/quan-tri", "Quản trị", "Administration", _r(Role.ADMIN)),
    MenuItem("/federation", "Liên thông nút", "Federation", _r(Role.ADMIN, Role.NETWORK)),
    MenuItem("/dang-ky", "Đăng ký tài khoản", "Create an account", _r("public")),
)
# The first of these a person holds decides their home page.
HOMES = (
    (Role.OFFICER, "/mot-cua"),
    (Role.CLERK, "/documents"),
    (Role.LEADER, "/tong-quan"),
    (Role.ADMIN, "/quan-tri"),
    (Role.NETWORK, "/mang"),
    (Role.SECURITY, "/security"),
    (Role.IOC, "/tong-quan"),
)
CITIZEN_HOME = "/dich-vu-cong/ho-so"


def roles_of(principal: Principal | None) -> frozenset[str]:
    if principal is None:
        return frozenset({"public"})
    held = frozenset(str(g.role) for g in principal.grants)
    return held or frozenset({"citizen"})


def menu_for(principal: Principal | None) -> list[MenuItem]:
    held = roles_of(principal)
    return [item for item in MENU if item.roles & held]


def home_for(principal: Principal | None) -> str:
    held = roles_of(principal)
    if principal is None:
        return "/dich-vu-cong"
    for role, href in HOMES:
        if role in held:
            return href
    return CITIZEN_HOME
