"""Accounts: passwords (argon2), page sessions, roles, and agency-software credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lienthong.accounts.models import Membership, Role, SystemCredential, User, WebSession
from lienthong.kernel import stages
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError, Conflict, Invalid
from lienthong.registry import service as registry
from lienthong.registry.models import Agency

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("lienthong-timing-equaliser")
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Grant:
    agency_code: str
    agency_name: str
    role: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person signed in, or an agency's software."""

    kind: str  # "user" or "system"
    name: str
    user_id: int | None = None
    system_id: str | None = None
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    csrf_token: str | None = None

    def has_role(self, role: Role | str, agency_code: str) -> bool:
        return any(g.role == role and g.agency_code == agency_code for g in self.grants)

    @property
    def agency_codes(self) -> list[str]:
        return sorted({g.agency_code for g in self.grants})

    def agencies_in(self, *roles: str) -> list[str]:
        """The agencies where this caller holds one of `roles` (software: "system")."""
        wanted = {str(r) for r in roles}
        return sorted({g.agency_code for g in self.grants if g.role in wanted})


class BadCredentials(AppError):
    status_code = 401
    code = "bad_credentials"

    def __init__(self) -> None:
        super().__init__(
            "Tên đăng nhập hoặc mật khẩu không đúng.",
            "Wrong username or password.",
        )


def hash_secret(secret: str) -> str:
    # System secrets are 256-bit random tokens, not passwords people choose: a fast hash is
    # enough against a stolen table, and argon2 on every API call would cost ~50 ms each.
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    password: str,
    grants: list[tuple[str, Role]],
    email: str | None = None,
) -> User:
    username = username.strip().lower()
    if not username or len(username) > 80:
        raise Invalid(
            "Tên đăng nhập trống hoặc quá dài.",
            "Username empty or too long.",
            code="invalid_username",
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
            code="weak_password",
        )
    if session.scalars(select(User).where(User.username == username)).first():
        raise Conflict(
            f"Đã có tài khoản {username}.", f"Account {username} exists.", code="duplicate_username"
        )
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        password_hash=hash_password(password),
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    for agency_code, role in grants:
        grant(session, user=user, agency_code=agency_code, role=role)
    return user


def grant(session: Session, *, user: User, agency_code: str, role: Role) -> Membership:
    agency = registry.get_agency(session, code=agency_code)
    membership = Membership(user_id=user.id, agency_id=agency.id, role=Role(role).value)
    session.add(membership)
    session.flush()
    return membership


def _grants(session: Session, user_id: int) -> tuple[Grant, ...]:
    rows = session.execute(
        select(Agency.code, Agency.short_name, Agency.name, Membership.role)
        .join(Agency, Agency.id == Membership.agency_id)
        .where(Membership.user_id == user_id)
        .order_by(Agency.code, Membership.role)
    )
    return tuple(Grant(code, short or name, role) for code, short, name, role in rows)


def authenticate(session: Session, *, username: str, password: str) -> User:
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        raise BadCredentials()
    if not _verify(user.password_hash, password):
        raise BadCredentials()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    return user


def open_session(session: Session, *, user: User, hours: int) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            token_hash=hash_secret(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    # Sweep this user's expired sessions while we are here.
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at < now)
    )
    session.flush()
    return token


def session_principal(session: Session, *, token: str) -> Principal | None:
    row = session.get(WebSession, hash_secret(token))
    if row is None or row.expires_at < utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return Principal(
        kind="user",
        name=user.full_name,
        user_id=user.id,
        grants=_grants(session, user.id),
        csrf_token=row.csrf_token,
    )


def close_session(session: Session, *, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_secret(token)))


def user_principal(session: Session, *, user: User) -> Principal:
    return Principal(
        kind="user", name=user.full_name, user_id=user.id, grants=_grants(session, user.id)
    )


def issue_credential(
    session: Session, *, agency_code: str, seal: Callable[[bytes], bytes] | None = None
) -> tuple[str, str]:
    agency = registry.get_agency(session, code=agency_code)
    if agency.status != "active":
        raise Invalid(
            f"Cơ quan {agency.code} không còn hoạt động; không cấp thông tin xác thực.",
            f"Agency {agency.code} is not active; no credentials issued.",
            code="agency_inactive",
        )
    system_id = f"{agency.code}.{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    session.add(
        SystemCredential(
            system_id=system_id,
            secret_hash=hash_secret(secret),
            sealed_secret=seal(secret.encode()).decode() if seal else None,
            agency_id=agency.id,
            created_at=utcnow(),
        )
    )
    session.flush()
    return system_id, secret


@stages.staged("auth")
def credential_principal(session: Session, *, system_id: str, secret: str) -> Principal | None:
    found = session.execute(
        select(SystemCredential, Agency)
        .join(Agency, Agency.id == SystemCredential.agency_id)
        .where(SystemCredential.system_id == system_id)
    ).first()
    row, agency = (found[0], found[1]) if found is not None else (None, None)
    expected = row.secret_hash if row else hash_secret("x" * 43)
    if not hmac.compare_digest(expected, hash_secret(secret)) or row is None or row.revoked_at:
        return None
    if agency is None or agency.status != "active":
        return None
    return Principal(
        kind="system",
        name=row.system_id,
        system_id=row.system_id,
        grants=(Grant(agency.code, agency.short_name or agency.name, "system"),),
    )


@dataclass(frozen=True)
class SharedSecret:
    secret: str
    principal: Principal
    max_skew_seconds: int | None  # None: no freshness check on the SDK's timestamp
    clock_zone: str | None


def shared_secret(
    session: Session, *, system_id: str, unseal: Callable[[bytes], bytes]
) -> SharedSecret | None:
    """The secret of active software credentials, for HMAC verification, with its principal
    and its freshness policy."""
    row = session.scalars(
        select(SystemCredential).where(SystemCredential.system_id == system_id)
    ).first()
    if row is None or row.revoked_at or not row.sealed_secret:
        return None
    secret = unseal(row.sealed_secret.encode()).decode()
    principal = credential_principal(session, system_id=system_id, secret=secret)
    if principal is None:
        return None
    return SharedSecret(secret, principal, row.vdxp_max_skew_seconds, row.vdxp_clock_zone)


def set_freshness(
    session: Session, *, system_id: str, max_skew_seconds: int | None, clock_zone: str | None
) -> SystemCredential:
    """Ask (or stop asking) software that re-stamps every call for a fresh SDK timestamp."""
    row = session.scalars(
        select(SystemCredential).where(SystemCredential.system_id == system_id)
    ).first()
    if row is None:
        raise Invalid(
            f"Không có {system_id}.", f"No credential {system_id}.", code="unknown_credential"
        )
    if clock_zone is not None:
        try:
            ZoneInfo(clock_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid(
                f"Múi giờ '{clock_zone}' không có.",
                f"Unknown time zone '{clock_zone}'; use e.g. Asia/Ho_Chi_Minh or UTC.",
                code="invalid_time_zone",
            ) from exc
    if max_skew_seconds is not None and not 1 <= max_skew_seconds <= 86_400:
        raise Invalid(
            "Độ lệch cho phép phải từ 1 đến 86400 giây.",
            "The allowed skew must be 1 to 86400 seconds.",
            code="invalid_skew",
        )
    row.vdxp_max_skew_seconds = max_skew_seconds
    row.vdxp_clock_zone = clock_zone
    return row


def revoke_credential(session: Session, *, system_id: str) -> None:
    row = session.scalars(
        select(SystemCredential).where(SystemCredential.system_id == system_id)
    ).first()
    if row is None:
        raise Invalid(
            f"Không có {system_id}.", f"No credential {system_id}.", code="unknown_credential"
        )
    row.revoked_at = utcnow()
