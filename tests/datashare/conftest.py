"""Demo datasets, a consumer system and its grant, for the shared-data tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.config import Settings
from lienthong.datashare import access, seed
from lienthong.kernel.clock import utcnow

CONSUMER = seed.SERVICE_CENTRE
OTHER = seed.HONG_GAI
BIRTH_ITEMS = ["so_dinh_danh", "ho_ten", "ngay_sinh"]


@dataclass(frozen=True)
class System:
    system_id: str
    secret: str
    agency: str


def ask(
    system: str,
    *,
    dataset: str = "khai-sinh",
    items: list[str] | None = None,
    service: str = "tra-cuu",
) -> access.Ask:
    now = utcnow()
    return access.Ask(
        dataset_code=dataset,
        service_code=service,
        consumer_system=system,
        items=items or BIRTH_ITEMS,
        purpose="Giải quyết thủ tục khai sinh",
        legal_basis="Nghị định 47/2020/NĐ-CP",
        frequency="Theo hồ sơ",
        period_from=now - timedelta(minutes=1),
        period_to=now + timedelta(days=30),
    )


@pytest.fixture
def datasets(db: Session) -> None:
    seed.seed_datasets(db, records_each=20)
    db.flush()


def make_system(db: Session, agency: str) -> System:
    system_id, secret = accounts.issue_credential(db, agency_code=agency)
    return System(system_id, secret, agency)


@pytest.fixture
def consumer(db: Session, datasets: None) -> System:
    return make_system(db, CONSUMER)


@pytest.fixture
def granted(db: Session, settings: Settings, consumer: System) -> System:
    request = access.request_access(
        db,
        settings=settings,
        consumer_code=CONSUMER,
        ask=ask(consumer.system_id),
        requested_by_id=None,
    )
    access.approve(db, request_id=request.id, acting_code=seed.JUSTICE, actor_id=None)
    db.commit()
    return consumer
