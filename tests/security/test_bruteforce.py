"""The brute-force scenario end to end: a test client's wrong passwords at the node's sign-in
page become node events, the Sigma correlation raises a high alert, the e-mail arrives at a
real SMTP server, and the operations centre's summary counts it."""

from __future__ import annotations

from collections.abc import Callable
from email.header import decode_header, make_header

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.accounts.models import Role
from lienthong.app import create_app, job_handlers
from lienthong.config import Settings
from lienthong.kernel import jobs, notify
from lienthong.runtime import Runtime, build_runtime
from lienthong.security.models import SecurityAlert, SecurityEvent, SecuritySource
from tests.accounts.test_signin import csrf_from
from tests.conftest import PROVINCE, signed_in
from tests.fixtures.smtp import SmtpServer, wait_for


def test_signin_brute_force_raises_an_alert_an_email_and_the_ioc_count(
    smtp_server: SmtpServer,
    settings: Settings,
    session_factory: sessionmaker[Session],
    db: Session,
    flush: Callable[[Runtime], int],
) -> None:
    runtime = build_runtime(
        settings.model_copy(
            update={
                "smtp_host": smtp_server.host,
                "smtp_port": smtp_server.port,
                "security_alert_emails": ["soc@quangninh.gov.vn"],
                "signin_account_limit": "100/15 minutes",
                "signin_address_limit": "100/15 minutes",
            }
        )
    )
    with TestClient(create_app(runtime.settings, session_factory, runtime)) as client:
        for i in range(12):
            client.cookies.clear()
            token = csrf_from(client.get("/signin").text)
            answer = client.post(
                "/signin",
                data={"username": f"admin{i % 3}", "password": "sai", "csrf_token": token},
                follow_redirects=False,
            )
            assert answer.status_code == 401
        assert flush(runtime) >= 12

        events = db.scalars(select(SecurityEvent).where(SecurityEvent.action == "signin")).all()
        assert len(events) == 12
        assert {e.outcome for e in events} == {"failure"}
        assert events[0].fields["event.reason"] == "bad_credentials"
        assert events[0].original
        assert '"event.action": "signin"' in events[0].original
        source = db.scalar(select(SecuritySource).where(SecuritySource.name == "lienthong"))
        assert source is not None
        assert source.events >= 12
        assert source.dropped == 0

        alert = db.scalar(
            select(SecurityAlert).where(SecurityAlert.rule_title.like("Sign-in brute force%"))
        )
        assert alert is not None
        assert (alert.level, alert.state, alert.notified) == ("high", "open", True)
        assert "attack.t1110.001" in alert.tags
        assert alert.group_key == "source.ip=testclient"

        jobs.Worker(factory=session_factory, handlers=job_handlers(runtime)).run_until_idle()
        messages = wait_for(smtp_server.messages, what="the alert e-mail at the SMTP server")
        subject = str(make_header(decode_header(messages[0]["Subject"])))
        assert messages[0]["To"] == "soc@quangninh.gov.vn"
        assert "Sign-in brute force" in subject
        assert "Cao" in subject
        row = db.scalar(select(notify.Notification).where(notify.Notification.ref == str(alert.id)))
        assert row is not None
        assert row.state == notify.SENT

        signed_in(client, db, username="ioc.viewer", role=Role.IOC, agency=PROVINCE)
        summary = client.get("/api/v1/security/summary").json()
        assert summary["active"]["high"] >= 1
        assert summary["dropped_events"] == 0
