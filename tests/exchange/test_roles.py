"""Who may do what on the document axis, agency × role × action, on the API and the pages:
clerks and the agency's software send, receive and answer; leaders read and assign (04);
one-stop officers, administrators and citizens have no part in official correspondence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.accounts.deps import SESSION_COOKIE
from lienthong.accounts.models import Role
from lienthong.runtime import Runtime
from tests.accounts.test_signin import csrf_from

from .conftest import HA_LONG, HONG_GAI, SNV, Software, draft_package, send, signed

SENDER, RECIPIENT, THIRD = SNV, HONG_GAI, HA_LONG
PLACES = {"sender": SENDER, "recipient": RECIPIENT, "third": THIRD}
ROLES = ("clerk", "leader", "officer", "admin", "citizen")


@dataclass
class Person:
    role: str
    place: str
    token: str

    @property
    def agency(self) -> str:
        return PLACES[self.place]


@pytest.fixture
def people(db: Session) -> dict[tuple[str, str], Person]:
    found = {}
    for place, code in PLACES.items():
        for role in ROLES:
            grants = [] if role == "citizen" else [(code, Role(role))]
            user = accounts.create_user(
                db,
                username=f"{role}.{place}",
                full_name=f"{role} {place}",
                password="correct horse",
                grants=grants,
            )
            found[(role, place)] = Person(
                role, place, accounts.open_session(db, user=user, hours=1)
            )
    db.commit()
    return found


@pytest.fixture
def document(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    run_jobs: Callable[[], int],
) -> int:
    answer = send(
        client,
        software(SENDER),
        signed(keyed, draft_package(db, keyed, sender=SENDER, to=[RECIPIENT])),
    )
    assert answer.status_code == 202, answer.text
    run_jobs()
    return int(answer.json()["id"])


@pytest.fixture
def as_person(client: TestClient) -> Iterator[Callable[[Person], TestClient]]:
    def use(person: Person) -> TestClient:
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, person.token)
        return client

    yield use
    client.cookies.clear()


READER = {"clerk", "leader"}


def expected_read(person: Person) -> int:
    if person.role not in READER:
        return 403
    return 404 if person.place == "third" else 200


def test_reading(
    people: dict[tuple[str, str], Person], document: int, as_person: Callable[[Person], TestClient]
) -> None:
    failures = []
    for person in people.values():
        c = as_person(person)
        got = {
            "inbox": c.get("/api/v1/documents/inbox").status_code,
            "sent": c.get("/api/v1/documents/sent").status_code,
            "document": c.get(f"/api/v1/documents/{document}").status_code,
            "package": c.get(f"/api/v1/documents/{document}/package").status_code,
            "attachment": c.get(f"/api/v1/documents/{document}/attachments/0").status_code,
            "inbox page": c.get("/documents", follow_redirects=False).status_code,
            "document page": c.get(f"/documents/{document}", follow_redirects=False).status_code,
        }
        want = {
            "inbox": 200 if person.role in READER else 403,
            "sent": 200 if person.role in READER else 403,
            "document": expected_read(person),
            "package": expected_read(person),
            "attachment": expected_read(person),
            "inbox page": 200 if person.role in READER else 403,
            "document page": expected_read(person),
        }
        if got != want:
            failures.append((person.role, person.place, got, want))
    assert failures == []


def test_sending_and_composing(
    people: dict[tuple[str, str], Person],
    db: Session,
    keyed: Runtime,
    as_person: Callable[[Person], TestClient],
) -> None:
    failures = []
    for person in people.values():
        if person.place == "third":
            continue  # the third agency has no signing key in this fixture
        package = draft_package(
            db, keyed, sender=person.agency, to=[THIRD], subject=f"Từ {person.role}"
        )
        c = as_person(person)
        got = (
            c.post("/api/v1/documents", content=signed(keyed, package)).status_code,
            c.get("/documents/new", follow_redirects=False).status_code,
        )
        want = (202, 200) if person.role == "clerk" else (403, 403)
        if got != want:
            failures.append((person.role, person.place, got, want))
    assert failures == []


def _status(c: TestClient, document: int, code: str) -> int:
    return c.post(f"/api/v1/documents/{document}/status", json={"code": code}).status_code


def test_answering_and_assigning(
    people: dict[tuple[str, str], Person], document: int, as_person: Callable[[Person], TestClient]
) -> None:
    clerk = people[("clerk", "recipient")]
    leader = people[("leader", "recipient")]
    failures = []
    for person in people.values():
        if person is clerk:
            continue
        got = _status(as_person(person), document, "03")
        want = {
            ("clerk", "sender"): 422,  # the sender does not accept its own document
            ("clerk", "third"): 404,  # not its document: told like a missing one
        }.get((person.role, person.place), 403)
        if got != want:
            failures.append((person.role, person.place, "03", got, want))
    assert failures == []
    assert _status(as_person(leader), document, "03") == 403  # leaders assign, they do not accept
    assert _status(as_person(clerk), document, "03") == 201
    assert _status(as_person(people[("officer", "recipient")]), document, "04") == 403
    assert _status(as_person(leader), document, "04") == 201  # the leader assigns it


def test_recalling(
    people: dict[tuple[str, str], Person], document: int, as_person: Callable[[Person], TestClient]
) -> None:
    clerk = people[("clerk", "sender")]
    failures = []
    for person in people.values():
        if person is clerk:
            continue
        got = (
            as_person(person)
            .post(f"/api/v1/documents/{document}/recall", json={"reason": "Gửi nhầm"})
            .status_code
        )
        want = {("clerk", "recipient"): 422, ("clerk", "third"): 404}.get(
            (person.role, person.place), 403
        )
        if got != want:
            failures.append((person.role, person.place, got, want))
    assert failures == []
    assert (
        as_person(clerk)
        .post(f"/api/v1/documents/{document}/recall", json={"reason": "Gửi nhầm"})
        .status_code
        == 201
    )


def test_the_pages_follow_the_same_rules(
    people: dict[tuple[str, str], Person], document: int, as_person: Callable[[Person], TestClient]
) -> None:
    leader = people[("leader", "recipient")]
    clerk = people[("clerk", "recipient")]

    def page_status(person: Person, code: str) -> int:
        c = as_person(person)
        token = csrf_from(c.get(f"/documents/{document}").text)
        return c.post(
            f"/documents/{document}/status",
            data={"code": code, "csrf_token": token},
            follow_redirects=False,
        ).status_code

    leader_page = as_person(leader).get(f"/documents/{document}").text
    assert 'value="03"' not in leader_page  # no accept button for the leader
    assert page_status(leader, "03") == 403
    clerk_page = as_person(clerk).get(f"/documents/{document}").text
    assert 'value="03"' in clerk_page
    assert page_status(clerk, "03") == 303
    assert 'value="04"' in as_person(leader).get(f"/documents/{document}").text
    assert page_status(leader, "04") == 303
    officer = people[("officer", "recipient")]
    assert (
        as_person(officer).get(f"/documents/{document}", follow_redirects=False).status_code == 403
    )
