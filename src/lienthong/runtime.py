"""What a running node holds besides its database: the blob store, the keys, the payment
gateway, the rate limiter, the notifiers and the sink of the node's own security events. Built
once from the settings by the entry point and passed to the app and the worker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

from lienthong.config import Settings
from lienthong.datashare.providers import Providers
from lienthong.db import make_engine
from lienthong.exchange.handover import Handover, Standalone
from lienthong.federation.service import FederationHandover
from lienthong.kernel import notify
from lienthong.kernel.blobs import BlobStore, FileBlobStore
from lienthong.kernel.events import EventSink, LogEventSink
from lienthong.kernel.pki import FileKeyStore, KeyStore
from lienthong.kernel.ratelimit import RateLimiter, build_rate_limiter, rate_counter
from lienthong.onestop.fees import LocalGateway, PaymentGateway
from lienthong.security.intake import Intake


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    blobs: BlobStore
    keys: KeyStore
    payments: PaymentGateway
    limiter: RateLimiter
    notifiers: Mapping[str, notify.Notifier] = field(default_factory=dict)
    events: EventSink = field(default_factory=LogEventSink)
    handover: Handover = field(default_factory=Standalone)
    datashare: Providers = field(default_factory=Providers)  # hosted and upstream data
    # The security domain's intake: the node's own events and its listeners feed it.
    security_intake: Intake = field(default_factory=Intake)


def build_notifiers(settings: Settings) -> dict[str, notify.Notifier]:
    email: notify.Notifier = (
        notify.SmtpNotifier(
            notify.SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_sender,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                timeout_seconds=settings.smtp_timeout_seconds,
            )
        )
        if settings.smtp_host
        else notify.Unconfigured(notify.EMAIL, "no SMTP server configured (LIENTHONG_SMTP_HOST)")
    )
    return {
        notify.EMAIL: email,
        notify.SMS: notify.LocalSmsGateway(settings.sms_outbox),
        notify.WEBHOOK: notify.WebhookNotifier(
            secret=settings.webhook_secret, timeout_seconds=settings.webhook_timeout_seconds
        ),
    }


def build_limiter(settings: Settings) -> RateLimiter:
    """The counts live beside the data. On SQLite they go to a side file: a request holds the
    main file's write lock for its whole transaction, and a count written from inside it on a
    second connection would wait for that very lock."""
    if settings.rate_limit_url or not settings.is_sqlite:
        engine = None if settings.rate_limit_url else make_engine(settings.database_url)
        return build_rate_limiter(settings.rate_limit_url, engine)
    main = make_url(settings.database_url)
    side = (
        "sqlite://"
        if not main.database or main.database == ":memory:"
        else f"sqlite:///{main.database}.rate-limits"
    )
    engine = make_engine(side)
    rate_counter.create(engine, checkfirst=True)
    return build_rate_limiter("database", engine)


def build_runtime(settings: Settings) -> Runtime:
    keys = FileKeyStore(settings.key_dir)
    keys.ensure_ca(f"lienthong node {settings.node_code} CA")
    intake = Intake(
        capacity=settings.security_buffer_events,
        per_source_per_second=settings.security_source_per_second,
        max_original=settings.security_max_line_bytes,
    )
    return Runtime(
        settings=settings,
        blobs=FileBlobStore(settings.blob_dir),
        keys=keys,
        payments=LocalGateway(settings.key_dir),
        limiter=build_limiter(settings),
        notifiers=build_notifiers(settings),
        handover=FederationHandover(settings.node_code),
        events=intake.node_sink(),
        security_intake=intake,
    )
