"""The people's side on the server: each role's home and menu, the supplement round trip, no
source remarks on public pages, the receipt only once received, the filing form that keeps
what was typed."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.accounts import service as accounts
from lienthong.accounts.deps import SESSION_COOKIE
from lienthong.accounts.models import Role
from lienthong.app import job_handlers
from lienthong.config import Settings
from lienthong.kernel import jobs, notify
from lienthong.kernel.errors import AppError
from lienthong.onestop import catalogue, fees, processing, ratings, service, supplements
from lienthong.onestop.models import Dossier, Pause, Payment, Procedure
from lienthong.runtime import Runtime, build_runtime
from tests.fixtures.smtp import SmtpServer, wait_for

from .conftest import EXTRACT, HONG_GAI, PDF

PROVINCE = "000.00.00.H49"


def person(client: TestClient, db: Session, username: str, grants: list[tuple[str, Role]]) -> int:
    """Signs `client` in as a new person with `grants` (none: a citizen); returns the user id."""
    user = accounts.create_user(
        db, username=username, full_name=username.title(), password="long enough", grants=grants
    )
    client.cookies.set(SESSION_COOKIE, accounts.open_session(db, user=user, hours=1))
    db.commit()
    return user.id


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def menu(html: str) -> list[str]:
    nav = html[html.index('data-testid="menu"') : html.index("</nav>")]
    return re.findall(r'<a href="([^"?]+)"', nav)


@pytest.mark.parametrize(
    ("grants", "home", "shown", "hidden"),
    [
        ([], "/dich-vu-cong/ho-so", {"/dich-vu-cong", "/dich-vu-cong/ho-so"}, {"/documents"}),
        ([(HONG_GAI, Role.OFFICER)], "/mot-cua", {"/mot-cua"}, {"/documents", "/quan-tri"}),
        ([(HONG_GAI, Role.CLERK)], "/documents", {"/documents"}, {"/mot-cua", "/quan-tri"}),
        ([(PROVINCE, Role.LEADER)], "/tong-quan", {"/tong-quan", "/documents"}, {"/quan-tri"}),
        ([(PROVINCE, Role.ADMIN)], "/quan-tri", {"/quan-tri", "/federation"}, {"/documents"}),
    ],
)
def test_each_role_lands_on_its_home_with_its_menu(
    client: TestClient,
    db: Session,
    grants: list[tuple[str, Role]],
    home: str,
    shown: set[str],
    hidden: set[str],
) -> None:
    accounts.create_user(
        db, username="someone", full_name="Someone", password="long enough", grants=grants
    )
    db.commit()
    token = csrf(client.get("/signin").text)
    answer = client.post(
        "/signin",
        data={"username": "someone", "password": "long enough", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.headers["location"] == home
    page = client.get(home)
    assert page.status_code == 200, page.text[:300]
    links = menu(page.text)
    assert shown <= set(links)
    assert not hidden & set(links)
    assert "/dang-ky" not in links  # no sign-up offered once signed in
    for href in links:  # nothing in a person's menu answers 403
        assert client.get(href).status_code == 200, href


def test_a_stranger_sees_the_public_menu_and_staff_pages_are_refused(
    client: TestClient, db: Session
) -> None:
    links = menu(client.get("/dich-vu-cong").text)
    assert links == ["/dich-vu-cong", "/tra-cuu", "/dang-ky", "/signin"]
    person(client, db, "congdan.menu", [])
    assert client.get("/tong-quan").status_code == 403
    assert client.get("/quan-tri").status_code == 403


def test_supplement_round_trip_through_the_pages(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    staff = TestClient(client.app)
    person(staff, db, "canbo.bosung", [(HONG_GAI, Role.OFFICER)])
    me = person(client, db, "congdan.bosung", [])
    dossier = file_online(citizen_id=me)
    db.commit()
    url = f"/mot-cua/ho-so/{dossier.code}"
    token = csrf(staff.get(url).text)

    def officer_does(action: str, **fields: object) -> str:
        answer = staff.post(url, data={"csrf_token": token, "action": action, **fields})
        assert answer.status_code == 200
        assert 'data-testid="action-error"' not in answer.text, answer.text
        return answer.text

    officer_does("accept")
    page = officer_does(
        "request_supplement",
        papers=["Tờ khai đề nghị cấp bản sao trích lục hộ tịch"],
        other_papers="Bản sao CCCD của người được cấp",
        reason="Tờ khai thiếu chữ ký",
        days="5",
    )
    assert "Đã thực hiện: Yêu cầu bổ sung" in page

    mine = client.get(f"/dich-vu-cong/ho-so/{dossier.code}").text
    request_block = mine[mine.index('data-testid="supplement-request"') :]
    assert "Tờ khai thiếu chữ ký" in request_block  # why
    assert "Bản sao CCCD của người được cấp" in request_block  # what
    assert 'data-testid="supplement-due"' in request_block  # by when
    db.expire_all()
    pause = db.scalars(select(Pause).where(Pause.dossier_id == dossier.id)).one()
    assert pause.respond_by is not None
    assert (pause.respond_by - pause.started_at).days == 5
    due_before = db.get_one(Dossier, dossier.id).due_at
    assert due_before is not None

    names = re.findall(r'name="names" value="([^"]+)"', request_block)
    assert len(names) == 2
    sent = client.post(
        f"/dich-vu-cong/ho-so/{dossier.code}/bo-sung",
        data={"csrf_token": csrf(mine), "names": names, "note": "Đã ký"},
        files=[("files", (f"bo-sung-{i}.pdf", PDF, "application/pdf")) for i in range(2)],
    )
    assert sent.status_code == 200
    assert 'data-testid="supplied-notice"' in sent.text
    db.expire_all()
    after = db.get_one(Dossier, dossier.id)
    assert after.status == 4  # back in process: the clock runs again
    assert after.due_at is not None
    assert after.due_at >= due_before
    assert db.get_one(Pause, pause.id).ended_at is not None

    queue = staff.get("/mot-cua").text
    assert 'data-testid="supplied-badge"' in queue
    page = staff.get(url).text
    assert 'data-testid="supplement-sent"' in page
    assert "bo-sung-0.pdf" in page
    staff.post(f"{url}/da-xem-bo-sung", data={"csrf_token": token})
    assert 'data-testid="supplied-badge"' not in staff.get("/mot-cua").text

    again = client.post(
        f"/dich-vu-cong/ho-so/{dossier.code}/bo-sung",
        data={"csrf_token": csrf(mine), "names": names},
        files=[("files", ("late.pdf", PDF, "application/pdf"))],
    )
    assert again.status_code == 200
    assert "không có yêu cầu bổ sung" in again.text  # no_supplement_request, shown on the page
    lookup = client.get(f"/api/v1/onestop/lookup/{dossier.code}").json()
    assert "supplement_submitted" in [e["action"] for e in lookup["timeline"]]
    assert "Tờ khai thiếu chữ ký" not in str(lookup)  # the reason stays private


def test_supplement_rules(
    db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    from .conftest import officer

    who = officer(db, username="canbo.rules")
    from .conftest import citizen

    me = citizen(db, username="congdan.rules")
    dossier = file_online(citizen_id=me)

    def act(action: str, **kw: object) -> Dossier:
        return processing.act(
            db,
            settings=runtime.settings,
            blobs=runtime.blobs,
            code=dossier.code,
            action=action,
            officer=who,
            **kw,  # type: ignore[arg-type]
        )

    act("accept")
    for kw, code in (
        ({"reason": "Thiếu", "papers": [" "]}, "missing_supplement_papers"),
        ({"reason": "Thiếu", "papers": ["CCCD"], "days": 90}, "invalid_supplement_days"),
        ({"reason": " ", "papers": ["CCCD"]}, "missing_reason"),
    ):
        with pytest.raises(AppError) as caught:
            act("request_supplement", **kw)
        assert caught.value.code == code  # refused before anything is written
    act("request_supplement", reason="Thiếu", papers=["CCCD"])

    def answer(citizen_id: int | None, uploads: list[service.Upload]) -> str:
        with pytest.raises(AppError) as caught:
            supplements.answer(
                db,
                settings=runtime.settings,
                blobs=runtime.blobs,
                dossier=dossier,
                citizen_id=citizen_id,
                uploads=uploads,
            )
        return caught.value.code

    assert answer(None, []) == "not_your_dossier"
    assert answer(me, []) == "missing_papers"
    act("supplement_received")  # brought to the counter instead
    paper = service.Upload("CCCD", "cccd.pdf", io.BytesIO(PDF))
    assert answer(me, [paper]) == "no_supplement_request"


def test_no_source_remark_on_a_public_page(client: TestClient, db: Session) -> None:
    remark = re.compile(r"unverified|chưa xác minh|best guess|placeholder|sample", re.I)
    procedures = list(db.scalars(select(Procedure)))
    assert len(procedures) >= 28
    assert any(p.note and "fee: " in p.note for p in procedures)  # provenance kept in the data
    for p in procedures:
        page = client.get(f"/dich-vu-cong/thu-tuc/{p.national_code}").text
        assert not remark.search(page), p.national_code
        api = client.get(f"/api/v1/onestop/procedures/{p.national_code}").text
        assert not remark.search(api), p.national_code
    public, remarks = catalogue.split_provenance(
        "Lệ phí theo Nghị quyết HĐND tỉnh; 100.000 đ là mức phổ biến - mức chưa xác minh"
        " (0 = best guess); miễn khi nộp trực tuyến (Luật Hộ tịch Art. 11)"
    )
    assert (
        public == "Lệ phí theo Nghị quyết HĐND tỉnh; miễn khi nộp trực tuyến (Luật Hộ tịch Điều 11)"
    )
    assert len(remarks) == 2


def test_receipt_only_once_received(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    me = person(client, db, "congdan.phieu", [])
    dossier = file_online(citizen_id=me)
    db.commit()
    page = client.get(f"/dich-vu-cong/ho-so/{dossier.code}").text
    assert 'data-testid="receipt-link"' not in page
    assert 'data-testid="receipt-pending"' in page
    early = client.get(f"/dich-vu-cong/ho-so/{dossier.code}/phieu-tiep-nhan.pdf")
    assert early.status_code == 409  # "not_received_yet", shown as a page
    assert "chưa được tiếp nhận" in early.text
    from .conftest import officer

    processing.act(
        db,
        settings=runtime.settings,
        blobs=runtime.blobs,
        code=dossier.code,
        action="accept",
        officer=officer(db, username="canbo.phieu"),
    )
    db.commit()
    assert 'data-testid="receipt-link"' in client.get(f"/dich-vu-cong/ho-so/{dossier.code}").text
    slip = client.get(f"/dich-vu-cong/ho-so/{dossier.code}/phieu-tiep-nhan.pdf")
    assert slip.headers["content-type"] == "application/pdf"


def test_filing_form_keeps_values_and_marks_required_papers(
    client: TestClient, db: Session
) -> None:
    person(client, db, "congdan.form", [])
    form = client.get(f"/dich-vu-cong/nop/{EXTRACT}").text
    assert re.search(r'<input type="file" id="paper_0" [^>]*required', form)
    assert 'data-testid="required-legend"' in form
    answer = client.post(
        f"/dich-vu-cong/nop/{EXTRACT}",
        data={
            "csrf_token": csrf(form),
            "agency": HONG_GAI,
            "name": "Lê Văn Cường",
            "kind": "business",
            "id_number": "022190000999",
            "phone": "0987654321",
            "email": "cuong@example.vn",
            "address": "Tổ 5, khu 3, phường Hồng Gai",
        },
    )
    assert answer.status_code == 422
    page = answer.text
    assert 'data-testid="file-error"' in page
    assert f'value="{HONG_GAI}" selected' in page
    assert 'value="business" selected' in page
    for value in ("Lê Văn Cường", "022190000999", "0987654321", "cuong@example.vn", "Tổ 5"):
        assert value in page
    assert 'data-testid="paper-missing"' in page


def test_officer_page_offers_what_the_status_allows(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    person(client, db, "canbo.forms", [(HONG_GAI, Role.OFFICER)])
    accounts.create_user(
        db,
        username="vanthu.forms",
        full_name="Văn Thư Không Xử Lý",
        password="long enough",
        grants=[(HONG_GAI, Role.CLERK)],
    )
    dossier = file_online()
    dossier.applicant_address = "Số 1 Hạ Long"
    db.commit()
    url = f"/mot-cua/ho-so/{dossier.code}"
    page = client.get(url).text
    assert "022190000123" in page  # the ID number
    assert "Số 1 Hạ Long" in page  # and the address
    assert set(re.findall(r'data-testid="action-(\w+)"', page)) == {"accept", "refuse"}
    refused = client.post(url, data={"csrf_token": csrf(page), "action": "refuse", "reason": "x"})
    assert 'data-testid="action-error"' in refused.text  # "confirmation_needed"
    assert "Đánh dấu ô xác nhận" in refused.text
    db.expire_all()
    assert db.get_one(Dossier, dossier.id).status == 1
    client.post(url, data={"csrf_token": csrf(page), "action": "accept"})
    page = client.get(url).text
    assert "request_fee" in re.findall(r'data-testid="action-(\w+)"', page)
    assert "Văn Thư Không Xử Lý" not in page  # a clerk is no assignee
    db.get_one(Dossier, dossier.id).payment_state = "paid"
    db.commit()
    assert "request_fee" not in re.findall(r'data-testid="action-(\w+)"', client.get(url).text)


def test_leader_overview_counts(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    from .conftest import officer

    dossier = file_online()
    processing.act(
        db,
        settings=runtime.settings,
        blobs=runtime.blobs,
        code=dossier.code,
        action="accept",
        officer=officer(db, username="canbo.kpi"),
    )
    person(client, db, "lanhdao.kpi", [(HONG_GAI, Role.LEADER)])
    page = client.get("/tong-quan").text
    received = re.search(r'data-testid="kpi-received">(\d+)<', page)
    assert received
    assert int(received.group(1)) >= 1


def test_applicant_told_by_email_and_sms(
    smtp_server: SmtpServer,
    settings: Settings,
    session_factory: sessionmaker[Session],
    db: Session,
    file_online: Callable[..., Dossier],
) -> None:
    """Reception, the supplement request and the result reach a real SMTP server and the SMS
    gateway, each with the dossier code and what the applicant must know."""
    from .conftest import officer

    runtime = build_runtime(
        settings.model_copy(update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port})
    )
    who = officer(db, username="canbo.notice")
    dossier = file_online()  # e-mail binh@example.vn, phone 0912345678
    for action, kw in (
        ("accept", {}),
        ("request_supplement", {"reason": "Tờ khai chưa ký", "papers": ["Tờ khai có chữ ký"]}),
    ):
        processing.act(
            db,
            settings=runtime.settings,
            blobs=runtime.blobs,
            code=dossier.code,
            action=action,
            officer=who,
            **kw,  # type: ignore[arg-type]
        )
    db.commit()
    jobs.Worker(factory=session_factory, handlers=job_handlers(runtime)).run_until_idle()
    messages = wait_for(
        lambda: (m := smtp_server.messages()) and len(m) >= 2 and m, what="two e-mails"
    )
    subjects = sorted(str(make_header(decode_header(m["Subject"]))) for m in messages)
    assert subjects == [
        f"Hồ sơ {dossier.code} đã được tiếp nhận",
        f"Hồ sơ {dossier.code}: cần bổ sung giấy tờ",
    ]
    assert {m["To"] for m in messages} == {"binh@example.vn"}
    sms = [s for s in runtime.notifiers[notify.SMS].sent() if s["to"] == "0912345678"]  # type: ignore[attr-defined]
    texts = " | ".join(s["text"] for s in sms)
    assert "Hẹn trả kết quả" in texts
    assert "Tờ khai có chữ ký" in texts
    assert "Tờ khai chưa ký" in texts
    assert f"/tra-cuu?ma={dossier.code}" in texts


def test_rating_after_the_result_counts_in_the_kpis(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    from .conftest import officer

    me = person(client, db, "congdan.danhgia", [])
    who = officer(db, username="canbo.danhgia")
    dossier = file_online(citizen_id=me)
    db.commit()
    url = f"/dich-vu-cong/ho-so/{dossier.code}"
    assert 'data-testid="rating"' not in client.get(url).text  # no result yet
    early = refused_rating(db, dossier, me)
    assert early == "not_rateable_yet"
    for action in ("accept", "hand_over", "approve"):
        processing.act(
            db,
            settings=runtime.settings,
            blobs=runtime.blobs,
            code=dossier.code,
            action=action,
            officer=who,
        )
    db.commit()
    before = client.get(f"/api/v1/onestop/kpis?agency={HONG_GAI}").json()
    page = client.get(url).text
    assert 'data-testid="rating"' in page
    scores = {f"score_{c}": "2" for c in ratings.CRITERIA}
    incomplete = client.post(
        f"{url}/danh-gia", data={"csrf_token": csrf(page), "score_overall": "3"}
    )
    assert "Chọn mức đánh giá cho mọi tiêu chí" in incomplete.text  # "incomplete_rating"
    scores["score_attitude"] = "1"  # unhappy with the staff
    sent = client.post(f"{url}/danh-gia", data={"csrf_token": csrf(page), **scores})
    assert 'data-testid="rated-notice"' in sent.text
    assert 'data-testid="rated"' in sent.text
    after = client.get(f"/api/v1/onestop/kpis?agency={HONG_GAI}").json()
    assert after["counts"]["rated"] == before["counts"]["rated"] + 1
    assert after["counts"]["rated_unsatisfied"] == before["counts"]["rated_unsatisfied"] + 1
    finished = after["counts"]["finished"]
    expected = round(100 * (finished - after["counts"]["rated_unsatisfied"]) / finished, 2)
    assert after["rates"]["satisfied"] == expected
    assert refused_rating(db, dossier, me) == "already_rated"


def refused_rating(db: Session, dossier: Dossier, citizen_id: int) -> str:
    """The code `ratings.rate` refuses a full, happy rating with."""
    db.expire_all()
    with pytest.raises(AppError) as caught:
        ratings.rate(
            db,
            dossier=db.get_one(Dossier, dossier.id),
            citizen_id=citizen_id,
            scores=dict.fromkeys(ratings.CRITERIA, 3),
        )
    return caught.value.code


def test_electronic_fee_receipt_once_paid(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    from tests.onestop.test_slips import _codes_on_page_1, _text

    me = person(client, db, "congdan.bienlai", [])
    dossier = file_online(citizen_id=me)
    db.commit()
    url = f"/dich-vu-cong/ho-so/{dossier.code}"
    token = csrf(client.get(url).text)
    checkout = client.post(f"{url}/thanh-toan", data={"csrf_token": token}, follow_redirects=False)
    reference = checkout.headers["location"].rsplit("/", 1)[1]
    payment = db.scalars(select(Payment).where(Payment.reference == reference)).one()
    early = client.get(f"{url}/bien-lai/{payment.id}.pdf")
    assert early.status_code == 409  # "receipt_not_issued"
    client.post(f"/thanh-toan/local/{reference}", data={"choice": "pay"})
    page = client.get(url).text
    link = re.search(r'href="([^"]+/bien-lai/\d+\.pdf)" data-testid="fee-receipt"', page)
    assert link
    pdf = client.get(link.group(1))
    assert pdf.headers["content-type"] == "application/pdf"
    text = _text(pdf.content)
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in text
    assert "8.000 đồng" in text
    assert dossier.code in text
    assert _codes_on_page_1(pdf.content)["QRCode"].endswith(f"/tra-cuu?ma={dossier.code}")
    stranger = TestClient(client.app)
    person(stranger, db, "congdan.khac", [])
    assert stranger.get(link.group(1)).status_code == 404


def test_queue_search_and_filters(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    from .conftest import BIRTH

    person(client, db, "canbo.loc", [(HONG_GAI, Role.OFFICER)])
    extract = file_online()
    birth = file_online(procedure=BIRTH)
    birth.applicant_name = "Phạm Minh Châu"
    late = file_online()
    late.due_at = datetime.now(UTC) - timedelta(hours=1)
    db.commit()

    def codes(**params: str) -> set[str]:
        page = client.get("/mot-cua", params=params).text
        table = page[page.index('data-testid="queue"') :]
        return set(re.findall(r'<a href="/mot-cua/ho-so/([^"]+)"', table))

    assert {extract.code, birth.code, late.code} <= codes()
    birth_code = db.get_one(Procedure, birth.procedure_id).code
    assert codes(procedure=birth_code) == {birth.code}
    assert codes(q="Minh Châu") == {birth.code}
    assert codes(q=extract.code) == {extract.code}
    assert late.code in codes(due="late")
    assert extract.code not in codes(due="late")  # not received: no due date yet
    assert codes(q="100%_") == set()  # LIKE wildcards are taken literally


def test_officer_files_at_the_counter_for_a_citizen(client: TestClient, db: Session) -> None:
    person(client, db, "canbo.quay", [(HONG_GAI, Role.OFFICER)])
    assert "/mot-cua/nop" in client.get("/mot-cua").text
    start = client.get("/mot-cua/nop", params={"thu-tuc": EXTRACT}, follow_redirects=False)
    assert start.headers["location"] == f"/mot-cua/nop/{EXTRACT}"
    form = client.get(f"/mot-cua/nop/{EXTRACT}").text
    assert "Tiếp nhận hồ sơ tại quầy" in form
    assert not re.search(r'<input type="file"[^>]* required', form)  # papers come on paper
    options = re.findall(r'<option value="([^"]+)"', form[form.index('id="agency"') :])
    assert options[:2] == [HONG_GAI, "person"]  # the officer's own ward only, then "kind"
    answer = client.post(
        f"/mot-cua/nop/{EXTRACT}",
        data={"csrf_token": csrf(form), "agency": HONG_GAI, "name": "Đỗ Thị Hoa", "phone": "0900"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    code = answer.headers["location"].split("/")[-1].split("?")[0]
    dossier = db.scalars(select(Dossier).where(Dossier.code == code)).one()
    assert (dossier.channel, dossier.status, dossier.citizen_id) == ("counter", 2, None)
    assert dossier.due_at is not None
    page = client.get(answer.headers["location"]).text
    assert "Đỗ Thị Hoa" in page
    assert 'data-testid="receipt-link"' in page  # received at once: the slip is there
    empty = client.post(f"/mot-cua/nop/{EXTRACT}", data={"csrf_token": csrf(form), "phone": "0911"})
    assert empty.status_code == 422  # "missing_agency" shown on the form, the phone kept
    assert 'value="0911"' in empty.text


def test_vietqr_payment_matched_by_the_bank_notification(
    client: TestClient, db: Session, runtime: Runtime, file_online: Callable[..., Dossier]
) -> None:
    from vietnam_qr_pay import QRPay  # type: ignore[import-untyped]

    me = person(client, db, "congdan.vietqr", [])
    dossier = file_online(citizen_id=me)
    db.commit()
    url = f"/dich-vu-cong/ho-so/{dossier.code}"
    page = client.post(f"{url}/vietqr", data={"csrf_token": csrf(client.get(url).text)})
    assert 'data-testid="vietqr"' in page.text
    assert "<svg" in page.text
    payload = re.search(r'data-testid="vietqr-payload">([^<]+)<', page.text)
    assert payload
    reference = re.search(r'data-testid="vietqr-reference">([^<]+)<', page.text)
    assert reference
    decoded = QRPay(payload.group(1).replace("&amp;", "&"))
    assert decoded.is_valid  # its CRC checks
    assert decoded.amount == "8000"
    assert decoded.additional_data.purpose == reference.group(1)
    assert decoded.consumer.bank_bin == runtime.settings.onestop_vietqr_bank_bin

    def notify_transfer(content: str, amount: int, signed: bool = True) -> Any:
        body = json.dumps({"content": content, "amount": amount, "transaction_id": "FT1"}).encode()
        headers = {fees.SIGNATURE_HEADER: runtime.payments.sign(body) if signed else "00"}
        return client.post("/api/v1/onestop/payments/vietqr", content=body, headers=headers)

    ref = reference.group(1)
    assert notify_transfer(f"NGUYEN VAN AN CK {ref}", 8000, signed=False).status_code == 401
    assert notify_transfer(f"CK {ref}", 7000).json()["error"]["code"] == "amount_mismatch"
    assert notify_transfer("CK le phi ho so", 8000).json()["error"]["code"] == "unknown_payment"
    paid = notify_transfer(f"NGUYEN VAN AN chuyen tien {ref.lower()} FT1", 8000)
    assert paid.json() == {"reference": ref, "state": "paid", "changed": True}
    assert notify_transfer(f"{ref}", 8000).json()["changed"] is False  # a repeat changes nothing
    assert 'data-testid="fee-receipt"' in client.get(url).text
