"""Notifications that reach people: e-mail (SMTP), SMS (a gateway) and webhooks.

Every domain queues a notification in the transaction of the fact it tells about
(`queue(...)`): a `notification` row and a job. The worker sends it after commit through the
`Notifier` for its channel, so a refused or hanging SMTP server never blocks the request and
never loses the message: each attempt is recorded on the row, retried with backoff, and the
row ends `sent` or `failed` with the server's reason.

Implementations: `SmtpNotifier` (smtplib; STARTTLS and login when configured), `WebhookNotifier`
(a JSON POST signed with HMAC-SHA256 in `X-Lienthong-Signature`, like the payment callback),
and `LocalSmsGateway`, which records each SMS as a JSON line in a file: the gateway of a node
without a contract with an SMS provider, and what the tests read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import JSON, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from lienthong.db import Base
from lienthong.kernel import jobs
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid

log = logging.getLogger("lienthong.notify")

SEND_JOB = "kernel.notify"
EMAIL, SMS, WEBHOOK = "email", "sms", "webhook"
CHANNELS = (EMAIL, SMS, WEBHOOK)
QUEUED, SENT, FAILED = "queued", "sent", "failed"


class Notification(Base):
    """One message to one address, and what became of it."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_topic_ref", "topic", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What it is about, for the pages that show "who was told": e.g. topic netmon.alert, ref 12.
    topic: Mapped[str] = mapped_column(String(80))
    ref: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(12), default=QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Notice:
    channel: str
    recipient: str
    subject: str
    body: str
    data: Mapping[str, Any] = field(default_factory=dict)
    notification_id: int | None = None


class DeliveryFailed(Exception):
    """`permanent` when trying again cannot help (a refused address, a 4xx from a webhook)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Notifier(Protocol):
    channel: str

    def send(self, notice: Notice) -> None:
        """Deliver or raise DeliveryFailed; must return within its configured timeout."""
        ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "lienthong@localhost"
    sender_name: str = "Trục liên thông"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0


class SmtpNotifier:
    channel = EMAIL

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, notice: Notice) -> None:
        config = self.config
        message = EmailMessage()
        message["From"] = formataddr((config.sender_name, config.sender))
        message["To"] = notice.recipient
        message["Subject"] = notice.subject
        message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
        if notice.notification_id is not None:
            message["X-Lienthong-Notification"] = str(notice.notification_id)
        message.set_content(notice.body)
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, config.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server's final word; 4xx (greylisting, full queue) is worth retrying.
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, dropped
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryFailed(f"recipient refused: {refused}", permanent=True)


def sign_body(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs `{"subject", "body", "data", "notification_id"}` as JSON to the recipient URL."""

    channel = WEBHOOK

    def __init__(self, *, secret: str, timeout_seconds: float = 10.0) -> None:
        self.secret = secret
        self.timeout = httpx.Timeout(timeout_seconds)

    def send(self, notice: Notice) -> None:
        body = json.dumps(
            {
                "subject": notice.subject,
                "body": notice.body,
                "data": dict(notice.data),
                "notification_id": notice.notification_id,
            },
            ensure_ascii=False,
            default=str,
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Lienthong-Signature"] = sign_body(self.secret, body)
        try:
            answer = httpx.post(
                notice.recipient, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if answer.status_code >= 300:
            raise DeliveryFailed(
                f"HTTP {answer.status_code}", permanent=400 <= answer.status_code < 500
            )


class LocalSmsGateway:
    """Records each SMS as one JSON line in `path` instead of handing it to a carrier."""

    channel = SMS

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, notice: Notice) -> None:
        line = json.dumps(
            {
                "to": notice.recipient,
                "text": notice.body,
                "notification_id": notice.notification_id,
                "at": utcnow().isoformat(),
            },
            ensure_ascii=False,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def sent(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


class Unconfigured:
    """The channel of a node that has none configured (no SMTP host): attempts fail, recorded."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason

    def send(self, notice: Notice) -> None:
        raise DeliveryFailed(self.reason, permanent=True)


# ---- queueing and sending ---------------------------------------------------------------


def queue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    topic: str,
    ref: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> Notification:
    """A notification sent after the caller's transaction commits."""
    if channel not in CHANNELS:
        raise Invalid(
            f"Kênh thông báo '{channel}' không có.",
            f"Unknown notification channel '{channel}'.",
            code="unknown_channel",
            details={"channels": list(CHANNELS)},
        )
    row = Notification(
        channel=channel,
        recipient=recipient.strip()[:500],
        subject=subject[:500],
        body=body,
        data=dict(data or {}),
        topic=topic,
        ref=ref,
        state=QUEUED,
        attempts=0,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    jobs.enqueue(session, kind=SEND_JOB, payload={"notification_id": row.id})
    return row


MAX_ATTEMPTS = 6


def deliver(
    session: Session,
    *,
    notifiers: Mapping[str, Notifier],
    notification_id: int,
    backoff_seconds: float = 30.0,
) -> None:
    """Send one queued notification; on a temporary failure record it and schedule another try
    (a new job, so the failure itself is committed). Idempotent: a sent row is left alone."""
    row = session.get(Notification, notification_id)
    if row is None or row.state != QUEUED:
        return
    notifier = notifiers.get(row.channel)
    row.attempts += 1
    notice = Notice(row.channel, row.recipient, row.subject, row.body, row.data, row.id)
    try:
        if notifier is None:
            raise DeliveryFailed(f"no notifier for channel {row.channel}", permanent=True)
        notifier.send(notice)
    except DeliveryFailed as exc:
        row.last_error = str(exc)[:2000]
        if exc.permanent or row.attempts >= MAX_ATTEMPTS:
            row.state = FAILED
            log.warning(
                "notification failed",
                extra={"notification_id": row.id, "channel": row.channel, "error": str(exc)},
            )
        else:
            jobs.enqueue(
                session,
                kind=SEND_JOB,
                payload={"notification_id": row.id},
                run_after=utcnow() + jobs.backoff(row.attempts, backoff_seconds),
            )
        return
    row.state = SENT
    row.sent_at = utcnow()
    row.last_error = None


def handlers(notifiers: Mapping[str, Notifier]) -> dict[str, jobs.Handler]:
    def send(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        deliver(ctx.session, notifiers=notifiers, notification_id=int(payload["notification_id"]))

    return {SEND_JOB: send}


def listing(
    session: Session,
    *,
    topic: str | None = None,
    ref: str | None = None,
    state: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Notification], int]:
    stmt = select(Notification)
    if topic:
        stmt = stmt.where(Notification.topic == topic)
    if ref:
        stmt = stmt.where(Notification.ref == ref)
    if state:
        stmt = stmt.where(Notification.state == state)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Notification.id.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), int(total)


def counts(session: Session, *, since: timedelta = timedelta(days=1)) -> dict[str, int]:
    rows = session.execute(
        select(Notification.state, func.count())
        .where(Notification.created_at >= utcnow() - since)
        .group_by(Notification.state)
    ).all()
    out = dict.fromkeys((QUEUED, SENT, FAILED), 0)
    out.update({state: int(n) for state, n in rows})
    return out
