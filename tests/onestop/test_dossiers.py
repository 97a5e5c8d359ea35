"""Dossiers from filing to the returned result, with the rules an officer and a citizen meet."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import AppError
from lienthong.onestop import catalogue, fees, processing, queries, service
from lienthong.onestop.models import Dossier, DossierEvent, Payment
from lienthong.runtime import Runtime

from .conftest import BIRTH, HA_LONG, HONG_GAI, PDF, citizen, officer


def act(
    db: Session, runtime: Runtime, code: str, action: str, who: processing.Officer, **kw: object
) -> Dossier:
    return processing.act(
        db,
        settings=runtime.settings,
        blobs=runtime.blobs,
        code=code,
        action=action,
        officer=who,
        **kw,
    )  # type: ignore[arg-type]


def test_catalogue_search_and_filters(client: TestClient) -> None:
    page = client.get("/api/v1/onestop/procedures", params={"q": "khai sinh"}).json()
    assert "Đăng ký khai sinh" in [p["name"] for p in page["items"]]
    accents = client.get("/api/v1/onestop/procedures", params={"q": "KHAI SINH"}).json()
    assert accents["total"] == page["total"]
    tourism = client.get(
        "/api/v1/onestop/procedures", params={"field": "du_lich", "page_size": 2}
    ).json()
    assert tourism["total"] == 3
    assert len(tourism["items"]) == 2
    assert {p["field"] for p in tourism["items"]} == {"du_lich"}
    everything = client.get("/api/v1/onestop/procedures", params={"page_size": 200}).json()
    assert 28 <= everything["total"] <= 34
    assert len({p["field"] for p in everything["items"]}) == 8
    one = client.get(f"/api/v1/onestop/procedures/{BIRTH}").json()
    assert one["code"] == f"{BIRTH}.000.00.00.H49"
    missing = client.get("/api/v1/onestop/procedures/9.999999")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "unknown_procedure")


def test_codes_count_per_agency_per_day(db: Session, file_online: Callable[..., Dossier]) -> None:
    first, second = file_online(), file_online()
    other = file_online(agency=HA_LONG)
    today = utcnow().astimezone(LOCAL_ZONE).strftime("%y%m%d")
    assert re.fullmatch(rf"{re.escape(HONG_GAI)}-{today}-\d{{4}}", first.code)
    assert int(second.code[-4:]) == int(first.code[-4:]) + 1
    assert other.code.startswith(HA_LONG)
    assert first.status == 1


def test_filing_refusals(
    db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"uploads": []}, "missing_papers"),
        ({"content": b"MZ\x90\x00 an executable"}, "file_type_not_allowed"),
        ({"agency": None}, "missing_agency"),
        ({"agency": "000.00.02.H49"}, "agency_not_competent"),
        ({"procedure": "9.999999"}, "unknown_procedure"),
        ({"agency": "000.00.30.H49"}, "agency_not_competent"),  # a former district
    ]
    before = db.scalar(select(func.count()).select_from(Dossier))
    for kwargs, code in cases:
        with pytest.raises(AppError) as caught:
            file_online(**kwargs)
        assert caught.value.code == code
        assert 400 <= caught.value.status_code < 500
        db.rollback()
    runtime.settings.onestop_max_file_bytes = 1024
    try:
        with pytest.raises(AppError) as caught:
            file_online(content=PDF + b"x" * 4096)
        assert (caught.value.status_code, caught.value.code) == (413, "file_too_large")
    finally:
        runtime.settings.onestop_max_file_bytes = 20 * 1024 * 1024
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Dossier)) == before


def test_the_whole_path_with_deadlines_pause_and_fee(
    db: Session, runtime: Runtime, client: TestClient, file_online: Callable[..., Dossier]
) -> None:
    who = officer(db)
    me = citizen(db)
    dossier = file_online(citizen_id=me)
    act(db, runtime, dossier.code, "accept", who)
    assert dossier.status == 2
    assert dossier.received_at is not None
    assert dossier.due_at == service.calendar(runtime.settings).due(
        dossier.received_at, working_days=1
    )
    act(db, runtime, dossier.code, "hand_over", who, to_unit="Công chức tư pháp - hộ tịch")
    assert dossier.status == 4
    first_due = dossier.due_at
    act(
        db,
        runtime,
        dossier.code,
        "request_supplement",
        who,
        reason="Thiếu bản sao CCCD",
        papers=["Bản sao CCCD"],
    )
    assert dossier.status == 5
    act(db, runtime, dossier.code, "supplement_received", who)
    assert dossier.due_at is not None
    assert first_due is not None
    assert dossier.due_at >= first_due  # a pause never shortens a deadline
    act(db, runtime, dossier.code, "approve", who)
    assert dossier.status == 9
    assert dossier.outcome in ("early", "on_time")  # approved within its one working day
    with pytest.raises(AppError) as unpaid:
        act(db, runtime, dossier.code, "return_result", who)
    assert unpaid.value.code == "fee_unpaid"
    payment = fees.start_payment(db, dossier=dossier, gateway=runtime.payments)
    gateway = runtime.payments
    assert isinstance(gateway, fees.LocalGateway)
    body = gateway.callback_body(payment, "paid")
    response = client.post(
        "/api/v1/onestop/payments/callback",
        content=body,
        headers={fees.SIGNATURE_HEADER: gateway.sign(body)},
    )
    assert response.json() == {"reference": payment.reference, "state": "paid", "changed": True}
    db.expire_all()
    act(
        db,
        runtime,
        dossier.code,
        "return_result",
        who,
        results=[service.Upload("Bản sao trích lục", "ket-qua.pdf", io.BytesIO(PDF))],
    )
    assert dossier.status == 10
    hops = queries.hand_overs(db, dossier)
    assert [h.to_unit for h in hops][-1] == "Công dân"
    assert all(h.outcome for h in hops[:-1])
    view = client.get(f"/api/v1/onestop/lookup/{dossier.code}").json()
    assert view["status_label"] == "Đã trả kết quả"
    assert [e["action"] for e in view["timeline"]] == [
        "submitted",
        "received",
        "hand_over",
        "request_supplement",
        "supplement_received",
        "approve",
        "return_result",
    ]
    text = str(view)
    for private in (
        "Trần Thị Bình",
        "022190000123",
        "0912345678",
        "binh@example.vn",
        "Thiếu bản sao CCCD",
    ):
        assert private not in text


def test_transitions_and_agencies_are_checked(
    db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    dossier = file_online()
    stranger = officer(db, agency=HA_LONG, username="canbo.halong")
    with pytest.raises(AppError) as caught:
        act(db, runtime, dossier.code, "accept", stranger)
    assert (caught.value.status_code, caught.value.code) == (403, "not_your_dossier")
    who = officer(db)
    with pytest.raises(AppError) as caught:
        act(db, runtime, dossier.code, "approve", who)
    assert (caught.value.status_code, caught.value.code) == (409, "transition_not_allowed")
    with pytest.raises(AppError) as caught:
        act(db, runtime, dossier.code, "refuse", who)
    assert caught.value.code == "missing_reason"
    act(db, runtime, dossier.code, "refuse", who, reason="Không thuộc thẩm quyền")
    assert dossier.status == 3
    with pytest.raises(AppError) as caught:
        processing.act(
            db,
            settings=runtime.settings,
            blobs=runtime.blobs,
            code=dossier.code,
            action="withdraw",
            officer=None,
            citizen_id=12345,
        )
    assert caught.value.code == "not_your_dossier"


def test_counter_filing_is_received_at_once(
    db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    dossier = file_online(procedure=BIRTH, channel="counter", uploads=[])
    assert dossier.status == 2
    assert dossier.due_at is not None
    events = db.scalars(
        select(DossierEvent.action).where(DossierEvent.dossier_id == dossier.id)
    ).all()
    assert events == ["submitted", "received"]


def test_lookup_refusals_and_rate_limit(client: TestClient, runtime: Runtime) -> None:
    malformed = client.get("/api/v1/onestop/lookup/not-a-code")
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (
        422,
        "invalid_dossier_code",
    )
    unknown = client.get(f"/api/v1/onestop/lookup/{HONG_GAI}-990101-0001")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_dossier")
    runtime.settings.onestop_lookup_per_minute = 3
    try:
        answers = [client.get(f"/api/v1/onestop/lookup/{HONG_GAI}-990101-000{i}") for i in range(5)]
        page = client.get(f"/tra-cuu?ma={HONG_GAI}-990101-0001")
    finally:
        runtime.settings.onestop_lookup_per_minute = 30
    assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert 0 < int(answers[3].headers["Retry-After"]) <= 60
    # The page answers 429 too (not 200 with a message), with the time to wait.
    assert page.status_code == 429
    assert int(page.headers["Retry-After"]) > 0
    assert "thử lại sau" in page.text


def test_payment_callbacks_are_verified_and_idempotent(
    db: Session, runtime: Runtime, client: TestClient, file_online: Callable[..., Dossier]
) -> None:
    dossier = file_online()
    payment = fees.start_payment(db, dossier=dossier, gateway=runtime.payments)
    assert fees.start_payment(db, dossier=dossier, gateway=runtime.payments).id == payment.id
    db.commit()
    gateway = runtime.payments
    assert isinstance(gateway, fees.LocalGateway)
    body = gateway.callback_body(payment, "paid")
    url = "/api/v1/onestop/payments/callback"
    forged = client.post(url, content=body, headers={fees.SIGNATURE_HEADER: "0" * 64})
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "bad_signature")
    unsigned = client.post(url, content=body)
    assert unsigned.status_code == 401
    other = body.replace(payment.reference.encode(), b"LT000000NOSUCH")
    unknown = client.post(url, content=other, headers={fees.SIGNATURE_HEADER: gateway.sign(other)})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_payment")
    wrong_amount = body.replace(b'"amount": 8000', b'"amount": 1')
    mismatch = client.post(
        url, content=wrong_amount, headers={fees.SIGNATURE_HEADER: gateway.sign(wrong_amount)}
    )
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (422, "amount_mismatch")
    first = client.post(
        url, content=body, headers={fees.SIGNATURE_HEADER: gateway.sign(body)}
    ).json()
    again = client.post(
        url, content=body, headers={fees.SIGNATURE_HEADER: gateway.sign(body)}
    ).json()
    assert (first["changed"], again["changed"]) == (True, False)
    db.expire_all()
    assert db.get_one(Payment, payment.id).receipt_number
    kpi = client.get("/api/v1/onestop/kpis", params={"agency": HONG_GAI}).json()
    assert kpi["counts"]["paid_online"] == 1


def test_kpis_follow_the_dossiers(
    db: Session, runtime: Runtime, client: TestClient, file_online: Callable[..., Dossier]
) -> None:
    who = officer(db)
    late = file_online()
    on_time = file_online()
    counter = file_online(procedure=BIRTH, channel="counter", uploads=[])
    for dossier in (late, on_time):
        act(db, runtime, dossier.code, "accept", who)
        act(db, runtime, dossier.code, "hand_over", who)
    late.due_at = utcnow() - timedelta(days=3)
    act(db, runtime, late.code, "approve", who)
    db.commit()
    kpi = client.get("/api/v1/onestop/kpis", params={"agency": HONG_GAI}).json()
    counts = kpi["counts"]
    assert counts["received"] == 3
    assert (counts["received_online"], counts["received_counter"]) == (2, 1)
    assert counts["received_toan_trinh"] == 2
    assert counts["finished_late"] == 1
    assert kpi["in_progress"] == 2  # on_time (processing) and the counter dossier (received)
    assert kpi["rates"]["online"] == pytest.approx(66.67)
    assert kpi["rates"]["late"] == 100.0
    assert counter.status == 2
    bad = client.get("/api/v1/onestop/kpis", params={"from": "2026-12-01", "to": "2026-01-01"})
    assert bad.json()["error"]["code"] == "invalid_period"


def test_concurrent_filings_never_share_a_code(engine: object, runtime: Runtime) -> None:
    import threading

    from sqlalchemy import delete

    from lienthong.db import make_session_factory, unit_of_work
    from lienthong.onestop.models import DossierCounter, DossierEvent, DossierPaper

    factory = make_session_factory(engine)  # type: ignore[arg-type]
    codes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            try:
                with unit_of_work(factory) as session:
                    filing = service.Filing(
                        procedure_code=BIRTH,
                        applicant=service.Applicant(name="A"),
                        channel="post",
                        agency_code=HONG_GAI,
                    )
                    dossier = service.file_dossier(
                        session, settings=runtime.settings, blobs=runtime.blobs, filing=filing
                    )
                    with lock:
                        codes.append(dossier.code)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert len(codes) == 40
        assert len(set(codes)) == 40
    finally:
        with unit_of_work(factory) as session:
            ids = select(Dossier.id).where(Dossier.code.in_(codes))
            session.execute(delete(DossierEvent).where(DossierEvent.dossier_id.in_(ids)))
            session.execute(delete(DossierPaper).where(DossierPaper.dossier_id.in_(ids)))
            session.execute(delete(Dossier).where(Dossier.code.in_(codes)))
            session.execute(delete(DossierCounter))
            from lienthong.onestop.models import KpiCount

            session.execute(delete(KpiCount))


def test_cli_deadline(engine: object, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from lienthong.cli import app

    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    result = CliRunner().invoke(
        app, ["onestop", "deadline", "--received", "2026-11-27 17:30", "--working-days", "1"]
    )
    assert result.exit_code == 0, result.output
    due = datetime.fromisoformat(result.stdout.strip())
    assert due == datetime(2026, 11, 30, 17, 0, tzinfo=LOCAL_ZONE)
    before_tet = CliRunner().invoke(
        app, ["onestop", "deadline", "--received", "2026-02-13 15:00", "--working-days", "5"]
    )
    assert datetime.fromisoformat(before_tet.stdout.strip()) == datetime(
        2026, 2, 27, 15, 0, tzinfo=LOCAL_ZONE
    )
    hours = CliRunner().invoke(
        app, ["onestop", "deadline", "--received", "2026-12-01 11:00", "--hours", "1"]
    )
    assert datetime.fromisoformat(hours.stdout.strip()) == datetime(
        2026, 12, 1, 14, 0, tzinfo=LOCAL_ZONE
    )
    bad = CliRunner().invoke(
        app, ["onestop", "deadline", "--received", "yesterday", "--working-days", "1"]
    )
    assert bad.exit_code == 2


def test_catalogue_import_is_all_or_nothing(db: Session) -> None:
    header = "national_code,name,field,level,implementing_agency,online_level,duration,duration_unit,fee_vnd,fee_note,papers,steps,note\n"
    bad = (
        header
        + "1.999999,Thủ tục thử,ho_tich,planet,,toan_trinh,-1,fortnights,abc,,,reception:50,\n"
    )
    with pytest.raises(AppError) as caught:
        catalogue.import_csv(db, text=bad)
    columns = {e["column"] for e in caught.value.details["errors"]}
    assert columns == {"level", "duration", "duration_unit", "fee_vnd", "steps"}
    good = (
        header
        + "1.999999,Thủ tục thử,ho_tich,commune,,toan_trinh,2,working_days,0,,Tờ khai|1,reception:50;processing:50,\n"
    )
    assert catalogue.import_csv(db, text=good).created == 1
    assert catalogue.get_procedure(db, code="1.999999").papers == [
        {"name": "Tờ khai", "required": True}
    ]


def test_assign_and_hand_over_to_another_agency(
    db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    who = officer(db)
    colleague = officer(db, username="canbo.hotich")
    dossier = file_online()
    act(db, runtime, dossier.code, "accept", who)
    with pytest.raises(AppError) as caught:
        act(db, runtime, dossier.code, "assign", who, assignee_id=999_999)
    assert caught.value.code == "unknown_assignee"
    act(db, runtime, dossier.code, "assign", who, assignee_id=colleague.user_id)
    assert dossier.assignee_id == colleague.user_id
    assert dossier.status == 4
    justice = "000.00.04.H49"  # Sở Tư pháp takes a step of a joint procedure
    act(db, runtime, dossier.code, "hand_over", who, to_agency=justice)
    assert queries.hand_overs(db, dossier)[-1].to_unit == "Sở Tư pháp"
    department = officer(db, agency=justice, username="canbo.stp")
    rows, _total = queries.queue(
        db, agency_codes=department.agency_codes, statuses=None, page=1, page_size=50
    )
    assert dossier.code in [d.code for d in rows]
    act(db, runtime, dossier.code, "hand_over", department, to_agency=HONG_GAI)  # back to the ward
    assert dossier.handling_agency_id is None
    with pytest.raises(AppError) as caught:
        act(db, runtime, dossier.code, "approve", department)
    assert caught.value.code == "not_your_dossier"
