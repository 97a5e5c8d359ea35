"""Both providers honour the DataProvider protocol; the upstream one against a real second
process (timeout, 5xx, too large, malformed JSON, circuit breaker); hosted imports are all or
nothing with every bad row listed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.accounts.models import Role
from lienthong.config import Settings
from lienthong.datashare import access, catalogue, gateway, hosted, seed
from lienthong.datashare.catalogue import Item
from lienthong.datashare.models import DataService, Dataset, HostedRecord
from lienthong.datashare.providers import DataProvider, HostedProvider, Providers, UpstreamProvider
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.kernel.events import LogEventSink
from lienthong.kernel.ratelimit import build_rate_limiter
from tests.datashare.conftest import make_system
from tests.fixtures.smtp import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.datashare.upstream_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ok/records", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, what="the upstream server")  # a loaded CI machine
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_both_providers_honour_the_protocol() -> None:
    for provider in (HostedProvider(), UpstreamProvider()):
        checked: DataProvider = provider  # mypy checks the structure
        for name in ("get", "search", "changes"):
            assert callable(getattr(checked, name))


def _upstream_dataset(
    db: Session, url: str, path: str = "", timeout_ms: int = 1000
) -> tuple[Dataset, DataService]:
    found = db.scalars(select(Dataset).where(Dataset.code == "dn-upstream")).first()
    if found is None:
        found = catalogue.create_dataset(
            db,
            code="dn-upstream",
            database="csdl-doanh-nghiep",
            owner_code=seed.FINANCE,
            name_vi="Doanh nghiệp (hệ thống riêng)",
            name_en="Enterprises (own system)",
            field="doanh_nghiep",
            key_item="ma_so_thue",
            subject_item="ma_so_thue",
            subject_kind="tax_code",
            items=[
                Item("ma_so_thue", "MST", "Tax code", "open"),
                Item("ten", "Tên", "Name", "open"),
                Item("nguoi_dai_dien", "Đại diện", "Representative", "restricted"),
                Item("trang_thai", "Tình trạng", "Status", "open"),
            ],
        )
    code = f"svc{len(catalogue.services_of(db, found))}"
    service = catalogue.add_service(
        db,
        dataset=found,
        code=code,
        kind="get",
        provider="upstream",
        upstream_url=url + path,
        timeout_ms=timeout_ms,
        max_response_bytes=100_000,
    )
    return found, service


def test_upstream_answers_records_and_absence(db: Session, datasets: None, upstream: str) -> None:
    dataset, service = _upstream_dataset(db, upstream, "/ok")
    provider = UpstreamProvider()
    record = provider.get(db, dataset=dataset, service=service, key="5700100256")
    assert record is not None
    assert record["ten"] == "Công ty Than Hòn Gai"
    assert provider.get(db, dataset=dataset, service=service, key="0100233488") is None
    page = provider.search(
        db,
        dataset=dataset,
        service=service,
        filters={"ten": "Công ty Than Hòn Gai"},
        offset=0,
        limit=10,
    )
    assert page.total == 1


@pytest.mark.parametrize(
    ("path", "code", "status"),
    [
        ("/slow", "upstream_timeout", 504),
        ("/broken", "upstream_error", 502),
        ("/huge", "upstream_too_large", 502),
        ("/garbled", "upstream_malformed", 502),
    ],
)
def test_upstream_failures(
    db: Session, datasets: None, upstream: str, path: str, code: str, status: int
) -> None:
    dataset, service = _upstream_dataset(db, upstream, path, timeout_ms=300)
    kind = "search" if path == "/huge" else "get"
    service.kind = kind
    provider = UpstreamProvider()

    def attempt() -> object:
        if kind == "search":
            return provider.search(
                db, dataset=dataset, service=service, filters={}, offset=0, limit=10
            )
        return provider.get(db, dataset=dataset, service=service, key="5700100256")

    with pytest.raises(AppError) as failure:
        attempt()
    assert failure.value.code == code
    assert failure.value.status_code == status


def test_breaker_opens_after_failures(db: Session, datasets: None, upstream: str) -> None:
    dataset, service = _upstream_dataset(db, upstream, "/broken")
    provider = UpstreamProvider(failure_threshold=2, open_seconds=60)
    codes = []
    for _ in range(3):
        try:
            provider.get(db, dataset=dataset, service=service, key="5700100256")
        except AppError as failure:
            codes.append(failure.code)
    assert codes == ["upstream_error", "upstream_error", "upstream_unavailable"]


def test_gateway_through_upstream_filters_items_and_logs_failures(
    db: Session, settings: Settings, datasets: None, upstream: str
) -> None:
    from lienthong.datashare import access
    from tests.datashare.conftest import ask, make_system

    dataset, service = _upstream_dataset(db, upstream, "/ok")
    broken = catalogue.add_service(
        db,
        dataset=dataset,
        code="hong",
        kind="get",
        provider="upstream",
        upstream_url=upstream + "/broken",
    )
    system = make_system(db, seed.HONG_GAI)
    for svc in (service, broken):
        request = access.request_access(
            db,
            settings=settings,
            consumer_code=seed.HONG_GAI,
            ask=ask(
                system.system_id,
                dataset="dn-upstream",
                service=svc.code,
                items=["ma_so_thue", "ten"],
            ),
            requested_by_id=None,
        )
        access.approve(db, request_id=request.id, acting_code=seed.FINANCE, actor_id=None)
    limiter = build_rate_limiter("memory://", None)

    def call(svc: str) -> gateway.Served | gateway.Refused:
        return gateway.call_logged(
            db,
            providers=Providers(),
            limiter=limiter,
            events=LogEventSink(),
            call=gateway.Call(
                dataset="dn-upstream",
                service=svc,
                system=system.system_id,
                agency_code=seed.HONG_GAI,
                purpose="x",
                key="5700100256",
            ),
        )

    served = call(service.code)
    assert isinstance(served, gateway.Served)
    assert served.body["records"] == [{"ma_so_thue": "5700100256", "ten": "Công ty Than Hòn Gai"}]
    refused = call("hong")
    assert isinstance(refused, gateway.Refused)
    assert refused.error.status_code == 502


def test_csv_import_all_or_nothing_with_every_bad_row(db: Session, datasets: None) -> None:
    dataset = catalogue.get_dataset(db, code="doanh-nghiep")
    before = db.scalar(select(func.count()).where(HostedRecord.dataset_id == dataset.id))
    text = "ma_so_thue,ten,khong_co\n0100233488,A,x\n0100233487,B,y\n,C,z\n"
    with pytest.raises(AppError) as bad:
        hosted.import_file(db, dataset=dataset, text=text, geojson=False)
    assert bad.value.code == "bad_rows"
    problems = bad.value.details["errors"]
    assert {p["line"] for p in problems} == {2, 3, 4}
    assert any("0100233487" in p["message_en"] for p in problems)
    assert db.scalar(select(func.count()).where(HostedRecord.dataset_id == dataset.id)) == before
    done = hosted.import_file(
        db,
        dataset=dataset,
        text="ma_so_thue,ten\n0100233488,Công ty A\n0314409058-002,Chi nhánh B\n",
        geojson=False,
    )
    assert (done.created, done.updated) == (2, 0)
    again = hosted.import_file(
        db, dataset=dataset, text="ma_so_thue,ten\n0100233488,Công ty A mới\n", geojson=False
    )
    assert again.updated == 1
    page = HostedProvider().changes(db, dataset=dataset, service=None, cursor=0, limit=1000)  # type: ignore[arg-type]
    assert page.records[-1]["ten"] == "Công ty A mới"


def test_geojson_import(db: Session, datasets: None) -> None:
    dataset = catalogue.get_dataset(db, code="tram-bts")
    good = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point",'
        '"coordinates":[107.08,20.95]},"properties":{"ma_tram":"QNH99999","nha_mang":"VNPT"}}]}'
    )
    assert hosted.import_file(db, dataset=dataset, text=good, geojson=True).created == 1
    record = HostedProvider().get(db, dataset=dataset, service=None, key="QNH99999")  # type: ignore[arg-type]
    assert record is not None
    assert record["lon"] == "107.08"
    with pytest.raises(AppError) as bad:
        hosted.import_file(
            db,
            dataset=dataset,
            geojson=True,
            text='{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{}}]}',
        )
    assert bad.value.code == "bad_rows"
    with pytest.raises(AppError) as garbled:
        hosted.import_file(db, dataset=dataset, geojson=True, text="{")
    assert garbled.value.code == "bad_geojson"


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "CSDL doanh nghiệp của Sở Tài chính", "version": "1"},
    "paths": {"/records/{key}": {"get": {"responses": {"200": {"description": "A record"}}}}},
}


def test_owner_registers_an_upstream_service_and_the_gateway_calls_it(
    client: TestClient, db: Session, datasets: None, upstream: str
) -> None:
    from tests.datashare.test_api import basic, person

    owner = person(client, db, "quantri.stc", [(seed.FINANCE, Role.ADMIN)])
    stranger = person(client, db, "quantri.khac", [(seed.HONG_GAI, Role.ADMIN)])
    body = {
        "code": "tra-cuu-goc",
        "kind": "get",
        "provider": "upstream",
        "upstream_url": upstream + "/ok",
        "upstream_openapi": OPENAPI,
        "timeout_ms": 1000,
    }
    path = "/api/v1/data/datasets/doanh-nghiep/services"
    refused = stranger.post(path, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_data_owner"
    bad = owner.post(path, json={**body, "upstream_openapi": {"openapi": "2.0", "paths": {}}})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_openapi"
    created = owner.post(path, json=body)
    assert created.status_code == 201, created.text
    again = owner.post(path, json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_service"

    system = make_system(db, seed.HONG_GAI)
    now = utcnow()
    request = access.request_access(
        db,
        settings=Settings(database_url="sqlite://"),
        consumer_code=seed.HONG_GAI,
        ask=access.Ask(
            dataset_code="doanh-nghiep",
            service_code="tra-cuu-goc",
            consumer_system=system.system_id,
            items=["ma_so_thue", "ten"],
            purpose="Kiểm tra",
            legal_basis="Nghị định 47/2020",
            frequency="Theo hồ sơ",
            period_from=now - timedelta(minutes=1),
            period_to=now + timedelta(days=1),
        ),
        requested_by_id=None,
    )
    access.approve(db, request_id=request.id, acting_code=seed.FINANCE, actor_id=None)
    db.commit()
    answer = client.get(
        "/api/v1/data/doanh-nghiep/tra-cuu-goc",
        params={"key": "5700100256"},
        headers={**basic(system), "Lienthong-Purpose": "hs-1"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["records"] == [{"ma_so_thue": "5700100256", "ten": "Công ty Than Hòn Gai"}]
