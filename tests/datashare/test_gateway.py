"""The gateway refuses every call outside a grant (agency × grant state × item), answers only
granted items, and logs every call in the hash-chained message log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.datashare import access, gateway, seed, sharelog
from lienthong.datashare.models import AccessGrant, ShareCall, ShareSubject
from lienthong.datashare.providers import Providers
from lienthong.exchange import log as message_log
from lienthong.exchange.models import LogEntry
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.ratelimit import build_rate_limiter
from lienthong.runtime import Runtime
from tests.datashare.conftest import CONSUMER, OTHER, System, ask, make_system


class Events:
    def __init__(self) -> None:
        self.seen: list[Mapping[str, Any]] = []

    def emit(self, event: Mapping[str, Any]) -> None:
        self.seen.append(event)


def call(
    db: Session,
    system: System,
    *,
    key: str = seed.DEMO_SUBJECT,
    fields: tuple[str, ...] | None = None,
    purpose: str | None = "000.00.16.H49-261203-0001",
    events: Events | None = None,
    limiter: Any = None,
    dataset: str = "khai-sinh",
    service: str = "tra-cuu",
) -> gateway.Served | gateway.Refused:
    return gateway.call_logged(
        db,
        providers=Providers(),
        limiter=limiter or build_rate_limiter("memory://", None),
        events=events or Events(),
        call=gateway.Call(
            dataset=dataset,
            service=service,
            system=system.system_id,
            agency_code=system.agency,
            purpose=purpose,
            key=key,
            fields=fields,
            path=f"/api/v1/data/{dataset}/{service}",
        ),
    )


def test_granted_call_answers_only_granted_items_and_is_logged(
    db: Session, granted: System, runtime: Runtime
) -> None:
    served = call(db, granted)
    assert isinstance(served, gateway.Served)
    [record] = served.body["records"]
    assert record == {
        "so_dinh_danh": seed.DEMO_SUBJECT,
        "ho_ten": "Nguyễn Văn An",
        "ngay_sinh": "1990-05-12",
    }
    row = db.get(ShareCall, served.call_id)
    assert row is not None
    assert row.outcome == "ok"
    assert row.record_count == 1
    assert db.scalars(select(ShareSubject.subject).where(ShareSubject.call_id == row.id)).all() == [
        seed.DEMO_SUBJECT
    ]
    entry = db.get(LogEntry, row.log_entry_id)
    assert entry is not None
    assert entry.kind == "data"
    assert entry.document_id == served.request_id
    assert message_log.verify(db, keys=runtime.keys).first_broken_id is None
    assert sharelog.tampered(db) == []
    # Editing the row afterwards is detected against the chain.
    db.execute(update(ShareCall).where(ShareCall.id == row.id).values(record_count=0))
    db.expire_all()
    assert sharelog.tampered(db) == [row.id]


def _state(db: Session, settings: Settings, system: System, state: str) -> None:
    """Put `system`'s grant for khai-sinh/tra-cuu into `state`."""
    if state == "none":
        return
    request = access.request_access(
        db,
        settings=settings,
        consumer_code=system.agency,
        ask=ask(system.system_id),
        requested_by_id=None,
    )
    grant = access.approve(db, request_id=request.id, acting_code=seed.JUSTICE, actor_id=None)
    if state == "expired":
        db.execute(
            update(AccessGrant)
            .where(AccessGrant.id == grant.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.expire_all()
    elif state in ("suspended", "revoked"):
        action = "suspend" if state == "suspended" else "revoke"
        access.change_grant(
            db,
            grant_id=grant.id,
            action=action,
            acting_code=seed.JUSTICE,
            actor_id=None,
            reason="Vi phạm mục đích sử dụng",
        )
    elif state == "resumed":
        g = access.change_grant(
            db,
            grant_id=grant.id,
            action="suspend",
            acting_code=seed.JUSTICE,
            actor_id=None,
            reason="Bảo trì",
        )
        access.change_grant(
            db, grant_id=g.id, action="resume", acting_code=seed.JUSTICE, actor_id=None, reason=""
        )


EXPECTED = {
    "none": "no_grant",
    "expired": "grant_expired",
    "suspended": "grant_suspended",
    "revoked": "grant_revoked",
    "active": None,
    "resumed": None,
}


@pytest.mark.parametrize("agency", [CONSUMER, OTHER])
@pytest.mark.parametrize("state", list(EXPECTED))
@pytest.mark.parametrize("fields", [None, ("ho_ten",), ("ho_ten_me",), ("noi_sinh",)])
def test_matrix(
    db: Session,
    settings: Settings,
    datasets: None,
    agency: str,
    state: str,
    fields: tuple[str, ...] | None,
) -> None:
    granted_system = make_system(db, CONSUMER)
    _state(db, settings, granted_system, state)
    caller = granted_system if agency == CONSUMER else make_system(db, OTHER)
    events = Events()
    before = db.scalar(select(LogEntry.id).order_by(LogEntry.id.desc()).limit(1)) or 0
    result = call(db, caller, fields=fields, events=events)
    if agency != CONSUMER:
        expected: str | None = "no_grant"  # another agency's system never rides on a grant
    else:
        expected = EXPECTED[state]
        if expected is None and fields and fields[0] not in ("ho_ten",):
            expected = "item_not_granted"
    logged = db.scalars(select(ShareCall).order_by(ShareCall.id.desc()).limit(1)).one()
    assert (db.scalar(select(LogEntry.id).order_by(LogEntry.id.desc()).limit(1)) or 0) > before
    if expected is None:
        assert isinstance(result, gateway.Served)
        assert set(result.body["records"][0]) == set(
            fields or ["so_dinh_danh", "ho_ten", "ngay_sinh"]
        )
        assert logged.outcome == "ok"
        assert not events.seen
    else:
        assert isinstance(result, gateway.Refused)
        assert result.error.code == expected
        assert result.error.status_code == 403
        assert logged.outcome == expected
        assert logged.status == 403
        assert logged.record_count == 0
        [event] = events.seen
        assert event["event.action"] == "data_grant_refused"
        assert event["event.reason"] == expected
        assert event["user.name"] == caller.system_id


def test_personal_data_needs_a_purpose(db: Session, granted: System) -> None:
    result = call(db, granted, purpose=None)
    assert isinstance(result, gateway.Refused)
    assert result.error.code == "purpose_required"
    assert (
        db.scalars(select(ShareCall.outcome).order_by(ShareCall.id.desc())).first()
        == "purpose_required"
    )


def test_unknown_dataset_service_item_and_bad_key(db: Session, granted: System) -> None:
    codes = []
    for kwargs in (
        {"dataset": "khong-co"},
        {"service": "khong-co"},
        {"fields": ("khong_co",)},
        {"key": "12345"},
    ):
        result = call(db, granted, **kwargs)
        assert isinstance(result, gateway.Refused)
        codes.append(result.error.code)
    assert codes == ["unknown_dataset", "unknown_service", "unknown_item", "bad_identifier"]
    assert db.scalars(select(ShareCall.outcome).order_by(ShareCall.id)).all()[-4:] == codes


def test_rate_limit_per_grant(db: Session, granted: System) -> None:
    db.execute(update(AccessGrant).values(rate_per_minute=2))
    limiter = build_rate_limiter("memory://", None)
    outcomes = [call(db, granted, limiter=limiter) for _ in range(3)]
    assert [isinstance(o, gateway.Served) for o in outcomes] == [True, True, False]
    last = outcomes[-1]
    assert isinstance(last, gateway.Refused)
    assert last.error.code == "grant_rate_limited"
    assert last.error.status_code == 429


def test_approval_narrows_never_widens_and_only_by_owner(
    db: Session, settings: Settings, consumer: System
) -> None:
    request = access.request_access(
        db,
        settings=settings,
        consumer_code=CONSUMER,
        ask=ask(consumer.system_id),
        requested_by_id=None,
    )
    with pytest.raises(AppError) as refused:
        access.approve(db, request_id=request.id, acting_code=CONSUMER, actor_id=None)
    assert refused.value.code == "not_data_owner"
    with pytest.raises(AppError) as widened:
        access.approve(
            db,
            request_id=request.id,
            acting_code=seed.JUSTICE,
            actor_id=None,
            items=["ho_ten", "ho_ten_me"],
        )
    assert widened.value.code == "items_beyond_request"
    grant = access.approve(
        db, request_id=request.id, acting_code=seed.JUSTICE, actor_id=None, items=["ho_ten"]
    )
    assert grant.items == ["ho_ten"]
    with pytest.raises(AppError) as again:
        access.approve(db, request_id=request.id, acting_code=seed.JUSTICE, actor_id=None)
    assert again.value.code == "request_already_answered"
    # 2 working days from now, on the one-stop calendar.
    assert request.due_at > request.created_at + timedelta(days=1)


def test_grants_are_never_edited_a_change_is_a_new_grant(db: Session, granted: System) -> None:
    [first] = db.scalars(select(AccessGrant)).all()
    suspended = access.change_grant(
        db,
        grant_id=first.id,
        action="suspend",
        acting_code=seed.JUSTICE,
        actor_id=None,
        reason="Bảo trì",
    )
    assert suspended.id != first.id
    assert suspended.replaces_id == first.id
    assert first.state == "active"
    assert not first.current
    with pytest.raises(AppError) as stale:
        access.change_grant(
            db,
            grant_id=first.id,
            action="revoke",
            acting_code=seed.JUSTICE,
            actor_id=None,
            reason="x",
        )
    assert stale.value.code == "grant_state_conflict"
    with pytest.raises(AppError) as reasonless:
        access.change_grant(
            db,
            grant_id=suspended.id,
            action="revoke",
            acting_code=seed.JUSTICE,
            actor_id=None,
            reason=" ",
        )
    assert reasonless.value.code == "reason_required"


def test_incomplete_request_lists_what_is_missing(
    db: Session, settings: Settings, consumer: System
) -> None:
    bad = ask(consumer.system_id)
    bad = access.Ask(**{**bad.__dict__, "purpose": "", "legal_basis": " "})
    with pytest.raises(AppError) as missing:
        access.request_access(
            db, settings=settings, consumer_code=CONSUMER, ask=bad, requested_by_id=None
        )
    assert missing.value.code == "incomplete_access_request"
    assert missing.value.details == {"missing": ["purpose", "legal_basis"]}
    other = make_system(db, OTHER)
    with pytest.raises(AppError) as not_ours:
        access.request_access(
            db,
            settings=settings,
            consumer_code=CONSUMER,
            ask=ask(other.system_id),
            requested_by_id=None,
        )
    assert not_ours.value.code == "unknown_consumer_system"


def test_demo_seed_has_grants_and_calls(db: Session, settings: Settings) -> None:
    from lienthong.demo import seed_demo_accounts

    seed_demo_accounts(db)
    seed.seed_demo(db, settings=settings)
    assert len(db.scalars(select(AccessGrant)).all()) == 2
    outcomes = db.scalars(select(ShareCall.outcome).order_by(ShareCall.id)).all()
    assert outcomes.count("ok") >= 2
    assert "item_not_granted" in outcomes
    seed.seed_demo(db, settings=settings)  # a second run adds nothing
    assert len(db.scalars(select(AccessGrant)).all()) == 2


def test_missing_key_unknown_request_and_grant(db: Session, granted: System) -> None:
    result = call(db, granted, key="")
    assert isinstance(result, gateway.Refused)
    assert result.error.code == "key_required"
    with pytest.raises(AppError) as no_request:
        access.approve(db, request_id=999_999, acting_code=seed.JUSTICE, actor_id=None)
    assert no_request.value.code == "unknown_request"
    with pytest.raises(AppError) as no_grant:
        access.change_grant(
            db,
            grant_id=999_999,
            action="suspend",
            acting_code=seed.JUSTICE,
            actor_id=None,
            reason="x",
        )
    assert no_grant.value.code == "unknown_grant"


def test_grant_not_yet_valid(db: Session, settings: Settings, consumer: System) -> None:
    later = ask(consumer.system_id)
    later = access.Ask(**{**later.__dict__, "period_from": utcnow() + timedelta(days=1)})
    request = access.request_access(
        db, settings=settings, consumer_code=CONSUMER, ask=later, requested_by_id=None
    )
    access.approve(db, request_id=request.id, acting_code=seed.JUSTICE, actor_id=None)
    result = call(db, consumer)
    assert isinstance(result, gateway.Refused)
    assert result.error.code == "grant_not_yet_valid"
