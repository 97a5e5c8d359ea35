"""Officers, citizens and dossiers for the one-stop tests."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.accounts.models import Role
from lienthong.onestop import processing, service
from lienthong.runtime import Runtime

HONG_GAI = "000.00.84.H49"
HA_LONG = "000.00.85.H49"
EXTRACT = "2.000635"  # Cấp bản sao trích lục hộ tịch: commune level, 8,000 đ, 1 working day
BIRTH = "1.001193"  # Đăng ký khai sinh: commune level, no fee
PDF = b"%PDF-1.4\n%%EOF\n"


def officer(
    db: Session, agency: str = HONG_GAI, username: str = "canbo.test"
) -> processing.Officer:
    user = accounts.create_user(
        db,
        username=username,
        full_name="Cán bộ thử",
        password="long enough",
        grants=[(agency, Role.OFFICER)],
    )
    return processing.Officer(user.id, user.full_name, (agency,))


def citizen(db: Session, username: str = "congdan.test") -> int:
    return accounts.create_user(
        db, username=username, full_name="Trần Thị Bình", password="long enough", grants=[]
    ).id


@pytest.fixture
def file_online(db: Session, runtime: Runtime) -> Callable[..., service.Dossier]:
    def file(
        procedure: str = EXTRACT,
        agency: str | None = HONG_GAI,
        citizen_id: int | None = None,
        uploads: list[service.Upload] | None = None,
        channel: str = "online",
        content: bytes = PDF,
    ) -> service.Dossier:
        from lienthong.onestop import catalogue

        p = catalogue.get_procedure(db, code=procedure)
        if uploads is None:
            uploads = [
                service.Upload(paper["name"], "giay-to.pdf", io.BytesIO(content))
                for paper in p.papers
                if paper["required"]
            ]
        filing = service.Filing(
            procedure_code=procedure,
            applicant=service.Applicant(
                name="Trần Thị Bình",
                id_number="022190000123",
                phone="0912345678",
                email="binh@example.vn",
            ),
            channel=channel,
            agency_code=agency,
            uploads=uploads,
            citizen_id=citizen_id,
        )
        return service.file_dossier(
            db, settings=runtime.settings, blobs=runtime.blobs, filing=filing
        )

    return file
