"""The demo node: the Quảng Ninh registry plus a few accounts to sign in with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.accounts.models import Role, User
from lienthong.config import Settings
from lienthong.datashare import seed as datashare_seed
from lienthong.kernel.pki import FileKeyStore
from lienthong.onestop import catalogue
from lienthong.registry import seed
from lienthong.registry.models import Agency, AgencyStatus
from lienthong.runtime import Runtime
from lienthong.security.seed import seed_security_demo

DEMO_PASSWORD = "lienthong-demo"  # noqa: S105 - the demo node only, printed at start


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role: Role
    agency_short_name: str


DEMO_ACCOUNTS = (
    DemoAccount("quantri", "Quản trị nút tỉnh", Role.ADMIN, "UBND tỉnh Quảng Ninh"),
    DemoAccount("lanhdao.tinh", "Lãnh đạo UBND tỉnh", Role.LEADER, "UBND tỉnh Quảng Ninh"),
    DemoAccount("vanthu.snv", "Văn thư Sở Nội vụ", Role.CLERK, "Sở Nội vụ"),
    DemoAccount("vanthu.honggai", "Văn thư phường Hồng Gai", Role.CLERK, "Phường Hồng Gai"),
    DemoAccount("canbo.tthcc", "Cán bộ một cửa", Role.OFFICER, "TT PVHCC tỉnh"),
    DemoAccount("canbo.honggai", "Cán bộ một cửa phường Hồng Gai", Role.OFFICER, "Phường Hồng Gai"),
    # Shared data: the owner of the birth records answers access requests.
    DemoAccount("quantri.stp", "Quản trị Sở Tư pháp", Role.ADMIN, "Sở Tư pháp"),
    DemoAccount("kythuat.mang", "Kỹ thuật mạng tỉnh", Role.NETWORK, "UBND tỉnh Quảng Ninh"),
    DemoAccount(
        "giamsat.attt", "Giám sát an toàn thông tin", Role.SECURITY, "UBND tỉnh Quảng Ninh"
    ),
)
CITIZEN = ("congdan", "Nguyễn Văn An")


def agency_by_short_name(session: Session, short_name: str) -> Agency | None:
    return session.scalars(
        select(Agency).where(
            Agency.short_name == short_name, Agency.status == AgencyStatus.ACTIVE.value
        )
    ).first()


def seed_demo_accounts(session: Session) -> list[tuple[DemoAccount, str]]:
    """Creates the demo accounts that do not exist yet; returns every one with its agency code."""
    out: list[tuple[DemoAccount, str]] = []
    for account in DEMO_ACCOUNTS:
        agency = agency_by_short_name(session, account.agency_short_name)
        if agency is None:
            continue
        exists = session.scalars(select(User).where(User.username == account.username)).first()
        if exists is None:
            accounts.create_user(
                session,
                username=account.username,
                full_name=account.full_name,
                password=DEMO_PASSWORD,
                grants=[(agency.code, account.role)],
            )
        out.append((account, agency.code))
    if session.scalars(select(User).where(User.username == CITIZEN[0])).first() is None:
        accounts.create_user(
            session, username=CITIZEN[0], full_name=CITIZEN[1], password=DEMO_PASSWORD, grants=[]
        )
    return out


def seed_signing_keys(
    session: Session,
    *,
    keys: FileKeyStore,
    node_code: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """A remote-signing key and certificate under the node's CA for every active agency the
    node serves (kept on disk: a second run issues nothing)."""
    agencies = session.scalars(
        select(Agency)
        .where(Agency.status == AgencyStatus.ACTIVE.value, Agency.serving_node == node_code)
        .order_by(Agency.code)
    ).all()
    issued = 0
    for index, agency in enumerate(agencies, start=1):
        if keys.identity(agency.code) is None:
            keys.ensure_agency(agency.code, agency.name)
            issued += 1
        if progress:
            progress(index, len(agencies))
    return issued


def seed_all(
    session: Session, *, with_accounts: bool, runtime: Runtime | None = None
) -> list[tuple[DemoAccount, str]]:
    seed.seed_registry(session)
    catalogue.seed_procedures(session)
    if runtime is not None and isinstance(runtime.keys, FileKeyStore):
        seed_signing_keys(session, keys=runtime.keys, node_code=runtime.settings.node_code)
    made = seed_demo_accounts(session) if with_accounts else []
    datashare_seed.seed_demo(session, settings=runtime.settings if runtime else Settings())
    if runtime is not None:
        from lienthong.netmon.demo import seed_network

        settings = runtime.settings
        seed_network(
            session,
            node_code=settings.node_code,
            province_code=settings.node_agency_code,
            interval=settings.netmon_interval_seconds,
        )
    if with_accounts:
        seed_security_demo(session)
    return made
