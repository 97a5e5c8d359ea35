"""Directory versions and the feed between nodes: what changed is published once, in order, and
applying a peer's records here is all or nothing and idempotent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from lienthong import migrations
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.federation import directory
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid
from lienthong.registry import service as registry
from lienthong.registry import versioning
from lienthong.registry.codes import InvalidAgencyCode
from lienthong.registry.models import Agency, AgencyEvent, AgencyKind, Succession
from lienthong.registry.schemas import AgencyCreate, AgencyUpdate
from lienthong.registry.versioning import current_version, stamp_unversioned

from ..conftest import create_database

OWN = "H49"
MINISTRY = "000.00.00.G99"  # not in the seed: stands for an agency of another node
OTHER_MINISTRY = "000.00.00.G98"
HANOI = "000.00.00.H26"
HANOI_DEPT = "000.00.01.H26"


def version_of(db: Session, code: str) -> int:
    return registry.get_agency(db, code=code).dir_version


def record(code: str, **fields: Any) -> dict[str, Any]:
    """A feed record as a peer would send it; only what the test cares about differs."""
    out: dict[str, Any] = {
        "code": code,
        "name": f"Cơ quan {code}",
        "kind": "ministry",
        "status": "active",
        "serving_node": "VN",
    }
    out.update(fields)
    return out


def from_elsewhere(
    db: Session, make: Callable[[], object], *, node_code: str | None = None
) -> list[dict[str, Any]]:
    """The records another node would publish after `make`: done in a savepoint that is then
    rolled back, so this registry is left as it was."""
    head = current_version(db)
    savepoint = db.begin_nested()
    make()
    db.flush()
    records: list[dict[str, Any]] = directory.feed(db, since=head, node_code=node_code)["records"]
    savepoint.rollback()
    db.expire_all()
    return records


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without the version, which each node numbers on its own."""
    return sorted(({k: v for k, v in r.items() if k != "version"} for r in records), key=str)


def count(db: Session, model: type[Any]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def add(db: Session, code: str, name: str, **extra: Any) -> Agency:
    data = AgencyCreate(
        code=code, name=name, kind=extra.pop("kind", AgencyKind.DEPARTMENT), **extra
    )
    return registry.create_agency(db, data=data, actor="test", default_node=OWN)


# ---- versions ----------------------------------------------------------------------------


def test_the_seed_has_one_distinct_version_per_agency(db: Session) -> None:
    versions = list(db.scalars(select(Agency.dir_version)))
    assert min(versions) > 0
    assert len(set(versions)) == len(versions)
    assert current_version(db) == max(versions)


def test_create_update_and_merge_take_new_distinct_versions(db: Session) -> None:
    head = current_version(db)
    first = add(db, "000.00.97.H49", "Sở Thử nghiệm")
    second = add(db, "000.00.98.H49", "Sở Thử nghiệm 2")
    child = add(db, "000.01.97.H49", "Phòng của Sở Thử nghiệm")
    assert head < first.dir_version < second.dir_version < child.dir_version

    before = first.dir_version
    registry.update_agency(db, code=first.code, data=AgencyUpdate(name="Sở Đổi tên"), actor="t")
    assert first.dir_version > max(before, child.dir_version)

    merged_at = current_version(db)
    registry.merge(
        db, source_codes=[first.code], successor_code=second.code, effective_on=None, actor="t"
    )
    # The source (status, successors) and its child (now under the successor) changed; the
    # successor itself did not.
    assert first.status == "merged"
    assert first.dir_version > merged_at
    assert child.dir_version > merged_at
    assert child.parent is second
    assert second.dir_version < merged_at
    versions = list(db.scalars(select(Agency.dir_version)))
    assert len(set(versions)) == len(versions)
    assert current_version(db) == max(versions)


def test_installing_the_listener_again_changes_nothing(db: Session) -> None:
    versioning.install()
    head = current_version(db)
    assert add(db, "000.00.97.H49", "Sở Thử nghiệm").dir_version == head + 1 == current_version(db)


def test_a_flush_without_a_real_change_takes_no_version(db: Session) -> None:
    agency = registry.get_agency(db, code="000.00.01.H49")
    head, before = current_version(db), agency.dir_version
    agency.name = agency.name  # set, but to the same value
    agency.parent = agency.parent
    db.flush()
    registry.update_agency(db, code=agency.code, data=AgencyUpdate(name=agency.name), actor="t")
    assert (current_version(db), agency.dir_version) == (head, before)


def test_agencies_without_a_version_get_one(db: Session) -> None:
    old = [registry.get_agency(db, code=c) for c in ("000.00.02.H49", "000.00.01.H49")]
    head = current_version(db)
    for agency in old:
        agency.dir_version = 0  # as rows from before the counter; not itself a change
    db.flush()
    assert current_version(db) == head
    assert stamp_unversioned(db) == 2
    assert [a.dir_version for a in old] == [head + 2, head + 1]  # in code order
    assert stamp_unversioned(db) == 0
    assert current_version(db) == head + 2


def test_succession_rows_version_their_predecessor(db: Session) -> None:
    source = registry.get_agency(db, code="000.00.01.H49")
    heir = registry.get_agency(db, code="000.00.02.H49")
    before, heir_before = source.dir_version, heir.dir_version
    link = Succession(predecessor_id=source.id, successor_id=heir.id, effective_on=date.today())
    db.add(link)
    db.flush()
    added = source.dir_version
    assert added > before
    db.delete(link)
    db.flush()
    assert source.dir_version > added
    assert heir.dir_version == heir_before


def test_rename_keeps_the_old_code(db: Session) -> None:
    agency = registry.get_agency(db, code="000.00.01.H49")
    before = agency.dir_version
    registry.rename(db, code="000.00.01.H49", new_code="000.00.97.h49", actor="t")
    assert (agency.code, agency.old_code) == ("000.00.97.H49", "000.00.01.H49")
    assert "000.00.97.h49" in agency.search_text
    assert agency.dir_version > before
    assert registry.history(db, code=agency.code)[0][0].action == "rename"
    with pytest.raises(Conflict) as taken:
        registry.rename(db, code=agency.code, new_code="000.00.02.H49", actor="t")
    assert taken.value.code == "agency_code_taken"
    with pytest.raises(InvalidAgencyCode):
        registry.rename(db, code=agency.code, new_code="000.05.00.H49", actor="t")


# ---- the feed ----------------------------------------------------------------------------


def test_feed_pages_from_since_to_head(db: Session) -> None:
    head = current_version(db)
    first = directory.feed(db, since=head - 5, limit=3)
    assert first["head"] == head
    assert first["since"] == head - 5
    assert first["more"] is True
    versions = [r["version"] for r in first["records"]]
    assert versions == sorted(versions)
    assert len(versions) == 3
    assert versions[0] > head - 5
    rest = directory.feed(db, since=versions[-1], limit=3)
    assert rest["more"] is False
    assert [r["version"] for r in rest["records"]][-1] == head
    assert len(versions) + len(rest["records"]) == 5
    assert directory.feed(db, since=head) == {
        "since": head,
        "head": head,
        "records": [],
        "more": False,
    }
    with pytest.raises(Invalid):
        directory.feed(db, since=0, limit=0)


def test_feed_records_carry_successors(db: Session) -> None:
    (merged,) = [
        r
        for r in directory.feed(db, since=0, limit=10_000)["records"]
        if r["code"] == "000.00.00.G04"
    ]
    assert merged["deleted"] is True
    assert merged["status"] == "merged"
    assert merged["successors"] == ["000.00.00.G17"]
    assert merged["status_effective_on"] == "2025-03-01"


def test_feed_for_one_node(db: Session) -> None:
    records = directory.feed(db, since=0, limit=10_000, node_code="H26")["records"]
    assert [r["code"] for r in records] == [HANOI]
    everything = directory.feed(db, since=0, limit=10_000)
    assert len(everything["records"]) == count(db, Agency)
    assert not everything["more"]


# ---- applying a peer's records -----------------------------------------------------------


def make_national_agencies(db: Session) -> None:
    add(db, MINISTRY, "Bộ Thử nghiệm", kind=AgencyKind.MINISTRY, serving_node="VN")
    add(db, OTHER_MINISTRY, "Bộ Thử nghiệm khác", kind=AgencyKind.MINISTRY, serving_node="VN")
    add(
        db,
        HANOI_DEPT,
        "Sở Thử nghiệm Hà Nội",
        serving_node="H26",
        short_name="Sở TN",
        address="Hà Nội",
        email="so@hanoi.gov.vn",
        phone="024",
        fax="025",
        website="https://hanoi.gov.vn",
        organization_in_charge="UBND TP Hà Nội",
        admin_code="00001",
        illustrative=True,
    )


def test_records_round_trip(db: Session) -> None:
    published = from_elsewhere(db, lambda: make_national_agencies(db))
    assert {r["code"] for r in published} == {MINISTRY, OTHER_MINISTRY, HANOI_DEPT}
    assert registry.find_agency(db, code=MINISTRY) is None

    head = current_version(db)
    result = directory.apply(db, records=published, own_node=OWN, actor="sync:VN")
    assert (result.created, result.updated, result.unchanged, result.skipped) == (3, 0, 0, 0)
    here = directory.feed(db, since=head)["records"]
    assert comparable(here) == comparable(published)
    assert all(r["version"] > head for r in here)
    dept = registry.get_agency(db, code=HANOI_DEPT)
    assert dept.parent is not None
    assert dept.parent.code == HANOI
    assert registry.history(db, code=HANOI_DEPT)[0][0].action == "sync"


def test_applying_twice_changes_nothing(db: Session) -> None:
    published = from_elsewhere(db, lambda: make_national_agencies(db))
    directory.apply(db, records=published, own_node=OWN, actor="sync:VN")
    head, events = current_version(db), count(db, AgencyEvent)
    again = directory.apply(db, records=published, own_node=OWN, actor="sync:VN")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (current_version(db), count(db, AgencyEvent)) == (head, events)


def test_a_merge_at_the_source_arrives_with_its_successor(db: Session) -> None:
    directory.apply(
        db, records=from_elsewhere(db, lambda: make_national_agencies(db)), own_node=OWN, actor="s"
    )
    merge = from_elsewhere(
        db,
        lambda: registry.merge(
            db,
            source_codes=[OTHER_MINISTRY],
            successor_code=MINISTRY,
            effective_on=date(2025, 3, 1),
            actor="source",
        ),
    )
    assert [r["code"] for r in merge] == [OTHER_MINISTRY]
    head = current_version(db)
    result = directory.apply(db, records=merge, own_node=OWN, actor="sync:VN")
    assert (result.created, result.updated) == (0, 1)
    source = registry.get_agency(db, code=OTHER_MINISTRY)
    assert (source.status, source.status_effective_on) == ("merged", date(2025, 3, 1))
    assert registry.links_for(db, [source.id])[source.id].successor_codes == [MINISTRY]
    # One change, one new version: fields and successor rows went in the same flush.
    assert source.dir_version == head + 1 == current_version(db)
    changes = registry.history(db, code=OTHER_MINISTRY)[0][0].changes
    assert changes["status"] == ["active", "merged"]
    assert changes["successors"] == [[], [MINISTRY]]


def test_a_renamed_agency_is_followed_by_its_old_code(db: Session) -> None:
    directory.apply(db, records=[record(OTHER_MINISTRY)], own_node=OWN, actor="s")
    agency_id = registry.get_agency(db, code=OTHER_MINISTRY).id
    renamed = record("000.00.00.G97", old_code=OTHER_MINISTRY, name="Bộ Mới")
    result = directory.apply(db, records=[renamed], own_node=OWN, actor="s")
    assert (result.renamed, result.updated, result.created) == (1, 1, 0)
    agency = registry.get_agency(db, code="000.00.00.G97")
    assert (agency.id, agency.old_code, agency.name) == (agency_id, OTHER_MINISTRY, "Bộ Mới")
    assert registry.find_agency(db, code=OTHER_MINISTRY) is None


def test_unknown_parents_and_successors_are_left_out(db: Session) -> None:
    records = [
        record(HANOI_DEPT, kind="department", serving_node="H26", parent_code="000.00.00.H99"),
        record(OTHER_MINISTRY, status="merged", successors=[MINISTRY, "000.00.00.G96", MINISTRY]),
        record(MINISTRY),
    ]
    result = directory.apply(db, records=records, own_node=OWN, actor="s")
    assert (result.created, result.missing_parents, result.missing_successors) == (3, 1, 1)
    assert registry.get_agency(db, code=HANOI_DEPT).parent is None
    merged = registry.get_agency(db, code=OTHER_MINISTRY)
    assert registry.links_for(db, [merged.id])[merged.id].successor_codes == [MINISTRY]
    assert directory.apply(db, records=records, own_node=OWN, actor="s").unchanged == 3


def test_a_bad_record_refuses_the_whole_batch(db: Session) -> None:
    head, agencies = current_version(db), count(db, Agency)
    records = [
        record(MINISTRY),
        record("000.05.00.G98"),
        {"code": OTHER_MINISTRY, "kind": "palace", "serving_node": "VN"},
        record(MINISTRY, name="again"),
        "not a record",
    ]
    with pytest.raises(Invalid) as refused:
        directory.apply(db, records=records, own_node=OWN, actor="s")  # type: ignore[arg-type]
    assert refused.value.code == "bad_directory_record"
    details = refused.value.details
    assert [e["index"] for e in details["errors"]] == [1, 2, 3, 4]
    assert details["errors"][0]["code"] == "000.05.00.G98"
    assert {p["field"] for p in details["errors"][1]["problems"]} == {"name", "kind"}
    assert (current_version(db), count(db, Agency)) == (head, agencies)


def test_a_push_may_only_carry_the_pushers_agencies(db: Session) -> None:
    head = current_version(db)
    mine = record(HANOI_DEPT, kind="department", serving_node="H26")
    with pytest.raises(Forbidden) as foreign:
        directory.apply(
            db, records=[mine, record(MINISTRY)], own_node="VN", only_node="H26", actor="push"
        )
    assert foreign.value.code == "not_your_agency"
    assert [r["code"] for r in foreign.value.details["records"]] == [MINISTRY]
    # Claiming an agency that another node serves here is refused too.
    hijack = record("000.00.00.H05", kind="provincial_committee", serving_node="H26")
    with pytest.raises(Forbidden):
        directory.apply(db, records=[mine, hijack], own_node="VN", only_node="H26", actor="push")
    assert registry.find_agency(db, code=HANOI_DEPT) is None
    assert current_version(db) == head

    result = directory.apply(db, records=[mine], own_node="VN", only_node="H26", actor="push")
    assert result.created == 1


def test_a_push_cannot_claim_codes_outside_the_pushers_range(db: Session) -> None:
    outside = record("000.00.05.H26", kind="department", serving_node="H49")
    with pytest.raises(Forbidden) as refused:
        directory.apply(db, records=[outside], own_node="VN", only_node="H49", actor="push")
    assert refused.value.code == "not_your_agency"
    # A province's node speaks for its People's Committee, Party and Council groups alike.
    assert directory.in_code_range("H49", "000.00.02.H49")
    assert directory.in_code_range("H49", "000.00.00.A49")
    assert directory.in_code_range("H49", "000.00.00.K49")
    assert not directory.in_code_range("H49", "000.00.00.H26")
    assert not directory.in_code_range("VN", "000.00.00.G12")


def test_an_old_code_cannot_take_over_another_nodes_agency(db: Session) -> None:
    """A record naming a ministry of the national axis as its old code neither passes a push
    nor renames that ministry when pulled."""
    directory.apply(db, records=[record(MINISTRY)], own_node=OWN, actor="s")
    mine = record(HANOI_DEPT, kind="department", serving_node="H26")
    directory.apply(db, records=[mine], own_node="VN", only_node="H26", actor="push")
    takeover = {**mine, "old_code": MINISTRY}
    with pytest.raises(Forbidden):
        directory.apply(db, records=[takeover], own_node="VN", only_node="H26", actor="push")
    fresh = {**record("000.00.03.H26", kind="department", serving_node="H26"), "old_code": MINISTRY}
    directory.apply(db, records=[fresh], own_node=OWN, actor="pull")
    ministry = registry.get_agency(db, code=MINISTRY)
    assert (ministry.serving_node, ministry.name) == ("VN", f"Cơ quan {MINISTRY}")
    assert registry.get_agency(db, code="000.00.03.H26").serving_node == "H26"


def test_records_of_this_nodes_own_agencies_are_skipped(db: Session) -> None:
    province = registry.get_agency(db, code="000.00.00.H49")
    name, head = province.name, current_version(db)
    records = [
        record("000.00.00.H49", name="Tên khác", kind="provincial_committee", serving_node=OWN),
        # The feed may not hand one of ours to another node either.
        record("000.00.01.H49", name="Tên khác", kind="department", serving_node="H26"),
    ]
    result = directory.apply(db, records=records, own_node=OWN, actor="s")
    assert (result.skipped, result.created, result.updated) == (2, 0, 0)
    assert province.name == name
    assert current_version(db) == head


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)


def test_a_large_batch_takes_a_bounded_number_of_queries(
    db: Session, statements: list[str]
) -> None:
    provinces = [f"H{n:02d}" for n in range(1, 63) if n != 49]
    records = [
        record(
            f"000.{n // 90:02d}.{n % 90 + 1:02d}.{level1}",
            kind="other",
            serving_node=level1,
            parent_code=f"000.00.{n % 90 + 1:02d}.{level1}" if n >= 90 else f"000.00.00.{level1}",
            successors=[f"000.00.00.{level1}"] if n % 10 == 0 else [],
            status="dissolved" if n % 10 == 0 else "active",
        )
        for level1 in provinces[:5]
        for n in range(600)
    ]
    first = directory.apply(db, records=records, own_node=OWN, actor="s")
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert first.created == 3000
    assert first.missing_parents == 0
    assert len(selects) <= 40, len(selects)
    statements.clear()
    again = directory.apply(db, records=records, own_node=OWN, actor="s")
    assert again.unchanged == 3000
    assert len(statements) <= 40, len(statements)


# ---- concurrency -------------------------------------------------------------------------


def new_agency(code: str) -> Agency:
    now = utcnow()
    return Agency(
        code=code,
        name=code,
        kind="other",
        level=1,
        serving_node="VN",
        search_text=code,
        created_at=now,
        updated_at=now,
    )


def test_concurrent_transactions_take_disjoint_versions(tmp_path: Path) -> None:
    url, drop = create_database(tmp_path, "versions")
    engine = make_engine(url)
    try:
        migrations.upgrade(url)
        factory = make_session_factory(engine)
        first = factory()
        first.add_all([new_agency("000.00.00.G91"), new_agency("000.00.00.G92")])
        first.flush()
        taken: list[int] = []

        def second() -> None:
            with unit_of_work(factory) as session:
                agency = new_agency("000.00.00.G93")
                session.add(agency)
                session.flush()
                taken.append(agency.dir_version)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second writer must wait for the first one's versions"
        first.commit()
        first.close()
        thread.join(timeout=30)
        with unit_of_work(factory) as session:
            versions = {c: v for c, v in session.execute(select(Agency.code, Agency.dir_version))}
            assert current_version(session) == 3
        assert versions == {"000.00.00.G91": 1, "000.00.00.G92": 2, "000.00.00.G93": 3}
        assert taken == [3]
    finally:
        engine.dispose()
        drop()  # type: ignore[operator]
