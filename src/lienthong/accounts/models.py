"""People with roles per agency, their page sessions, and the credentials of agency software."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base


class Role(enum.StrEnum):
    """A person's role in one agency. The last three are held on the node's home agency by
    the provincial IT staff: they watch the network, the security alerts, the operations
    centre."""

    ADMIN = "admin"
    CLERK = "clerk"
    OFFICER = "officer"
    LEADER = "leader"
    NETWORK = "network"
    SECURITY = "security"
    IOC = "ioc"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("Quản trị", "Administrator"),
    Role.CLERK: ("Văn thư", "Clerk"),
    Role.OFFICER: ("Cán bộ xử lý", "Officer"),
    Role.LEADER: ("Lãnh đạo", "Leader"),
    Role.NETWORK: ("Kỹ thuật mạng", "Network operations"),
    Role.SECURITY: ("Giám sát an toàn thông tin", "Security analyst"),
    Role.IOC: ("Điều hành IOC", "Operations centre"),
}
# The role agency software acts in: its credentials belong to one agency.
SOFTWARE = "system"


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "agency_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SystemCredential(Base):
    """Credentials of an agency's software (QLVB, one-stop systems) for HTTP Basic auth."""

    __tablename__ = "system_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[str] = mapped_column(String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The secret sealed with the node's key, for the HMAC scheme of the national axis' SDK.
    sealed_secret: Mapped[str | None] = mapped_column(String(500))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The national axis' SDK stamps `XroadVnpt-timestamp` once per service object, in the JVM's
    # zone without an offset, so no freshness check by default: replays are harmless (sends are
    # idempotent by DocumentId, acknowledgements set a value). Software that re-stamps every
    # call may ask for one: the allowed skew, and the zone its clock writes.
    vdxp_max_skew_seconds: Mapped[int | None]
    vdxp_clock_zone: Mapped[str | None] = mapped_column(String(64))
