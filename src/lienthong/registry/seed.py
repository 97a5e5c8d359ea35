"""The Quảng Ninh registry that a node ships with, built as import rows so that seeding and
CSV import are one code path (and seeding twice changes nothing).

Only 000.00.00.H49 is a published code. Every other code of the province is generated in the
QĐ 20/2020 form and flagged `illustrative`, for an operator to replace by import:
  000.00.01–29.H49  provincial offices, departments and centres (in file order)
  000.00.30–42.H49  the 13 former district-level units, dissolved on 2025-07-01
  000.NN.DD.H49     former communes under former district DD, numbered in file order
  000.00.43–96.H49  the 54 commune-level units in force from 2025-07-01 (NQ 1679, by khoản)
  000.00.00.A49 / .K49 and below: the provincial Party committee and People's Council
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session
from vietnam_provinces import Province, ProvinceCode, VietNamDivisionType

from lienthong.registry import transfer
from lienthong.registry.models import AgencyKind, AgencyStatus
from lienthong.registry.schemas import ImportResult

PROVINCE_CODE = "000.00.00.H49"
REORGANISED_ON = date(2025, 7, 1)
MINISTRIES_MERGED_ON = date(2025, 3, 1)
NATIONAL_NODE = "VN"
DISTRICTS = (
    "Thành phố Hạ Long",
    "Thành phố Cẩm Phả",
    "Thành phố Uông Bí",
    "Thành phố Móng Cái",
    "Thành phố Đông Triều",
    "Thị xã Quảng Yên",
    "Huyện Vân Đồn",
    "Huyện Cô Tô",
    "Huyện Tiên Yên",
    "Huyện Bình Liêu",
    "Huyện Đầm Hà",
    "Huyện Hải Hà",
    "Huyện Ba Chẽ",
)
FIRST_DISTRICT_SLOT = 30
FIRST_COMMUNE_SLOT = 43
NEW_KINDS = {
    "xa": AgencyKind.COMMUNE,
    "phuong": AgencyKind.WARD,
    "dac_khu": AgencyKind.SPECIAL_ZONE,
}
FORMER_KINDS = {
    "xa": AgencyKind.COMMUNE,
    "phuong": AgencyKind.WARD,
    "thi_tran": AgencyKind.TOWNSHIP,
}
GROUP_LEVEL1 = {"H": "H49", "A": "A49", "K": "K49"}


def _read(name: str) -> Iterator[tuple[int, dict[str, str]]]:
    text = resources.files("lienthong.registry").joinpath("seed", name).read_text(encoding="utf-8")
    yield from transfer.read_csv(text)[1]


def _row(**values: Any) -> dict[str, str]:
    out = dict.fromkeys(transfer.COLUMNS, "")
    for key, value in values.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, list | tuple):
            out[key] = ";".join(value)
        elif value is not None:
            out[key] = str(value)
    return out


def _ubnd_name(unit: str) -> str:
    """'Phường Hồng Gai' → 'UBND phường Hồng Gai' (the agency is the unit's People's Committee)."""
    kind, _, rest = unit.partition(" ")
    if kind in ("Thành", "Thị", "Đặc"):  # two-word kind prefixes
        second, _, rest = rest.partition(" ")
        kind = f"{kind} {second}"
    return f"UBND {kind.lower()} {rest}"


def _merged_on(entry: dict[str, str]) -> date | None:
    if entry.get("status") != AgencyStatus.MERGED.value:
        return None
    # Ministries were restructured from 2025-03-01 (Government apparatus reform); provinces
    # merged on 2025-07-01 (NQ 202/2025/QH15).
    return MINISTRIES_MERGED_ON if entry["kind"] == AgencyKind.MINISTRY.value else REORGANISED_ON


def build_rows() -> list[tuple[int, dict[str, str]]]:
    rows: list[dict[str, str]] = []
    rows.append(
        _row(
            code=PROVINCE_CODE,
            name="Ủy ban nhân dân tỉnh Quảng Ninh",
            short_name="UBND tỉnh Quảng Ninh",
            kind=AgencyKind.PROVINCIAL_COMMITTEE.value,
            address="Phường Hồng Gai, tỉnh Quảng Ninh",
            serving_node="H49",
            illustrative=False,
        )
    )

    # Provincial bodies: UBND side (H49), Party side (A49), People's Council side (K49).
    slots: dict[str, int] = defaultdict(int)
    heads: dict[str, str] = {"H": PROVINCE_CODE}
    for _, body in _read("provincial_bodies.csv"):
        group = body["group"]
        level1 = GROUP_LEVEL1[group]
        if group not in heads:
            code, parent = f"000.00.00.{level1}", ""
            heads[group] = code
        else:
            slots[group] += 1
            code, parent = f"000.00.{slots[group]:02d}.{level1}", heads[group]
        rows.append(
            _row(
                code=code,
                name=body["name"],
                short_name=body.get("short_name"),
                kind=body["kind"],
                parent_code=parent,
                serving_node="H49",
                illustrative=True,
            )
        )

    # The 54 commune-level units in force from 2025-07-01.
    new_code: dict[str, str] = {}
    for _, unit in _read("communes_2025.csv"):
        code = f"000.00.{FIRST_COMMUNE_SLOT + int(unit['seq']) - 1:02d}.H49"
        new_code[unit["seq"]] = code
        rows.append(
            _row(
                code=code,
                name=_ubnd_name(unit["name"]),
                short_name=unit["name"],
                kind=NEW_KINDS[unit["kind"]].value,
                parent_code=PROVINCE_CODE,
                admin_code=unit["admin_code"],
                serving_node="H49",
                illustrative=True,
            )
        )

    # The former district-level units and their communes, dissolved on 2025-07-01.
    district_code = {
        name: f"000.00.{FIRST_DISTRICT_SLOT + i:02d}.H49" for i, name in enumerate(DISTRICTS)
    }
    district_successors: dict[str, set[str]] = defaultdict(set)
    former: list[dict[str, str]] = []
    commune_slots: dict[str, int] = defaultdict(int)
    for _, unit in _read("former_units.csv"):
        district = unit["district"]
        commune_slots[district] += 1
        parent = district_code[district]
        code = f"000.{commune_slots[district]:02d}.{parent[7:9]}.H49"
        successors = [new_code[s] for s in unit["successor_seqs"].split(";") if s]
        district_successors[district].update(successors)
        former.append(
            _row(
                code=code,
                name=f"{_ubnd_name(unit['name'])} ({district})",
                short_name=unit["name"],
                kind=FORMER_KINDS[unit["kind"]].value,
                parent_code=parent,
                status=AgencyStatus.DISSOLVED.value,
                effective_on=REORGANISED_ON,
                successor_codes=successors,
                serving_node="H49",
                illustrative=True,
            )
        )
    for _, former_district in _read("former_districts.csv"):
        name = former_district["name"]
        rows.append(
            _row(
                code=district_code[name],
                name=_ubnd_name(name),
                short_name=name,
                kind=AgencyKind.DISTRICT.value,
                parent_code=PROVINCE_CODE,
                status=AgencyStatus.DISSOLVED.value,
                effective_on=REORGANISED_ON,
                successor_codes=sorted(district_successors[name]),
                serving_node="H49",
                illustrative=True,
            )
        )
    rows.extend(former)

    # The level-1 directory served by the national axis: ministries and the other provinces.
    for _, entry in _read("national_directory.csv"):
        is_province = entry["kind"] == AgencyKind.PROVINCIAL_COMMITTEE.value
        rows.append(
            _row(
                code=entry["code"],
                name=province_committee_name(int(entry["province_code"]))
                if entry.get("province_code")
                else entry["name"],
                kind=entry["kind"],
                status=entry.get("status") or "active",
                effective_on=_merged_on(entry),
                successor_codes=[entry["successor_code"]] if entry.get("successor_code") else [],
                serving_node=entry["code"][-3:] if is_province else NATIONAL_NODE,
                illustrative="unverified" in (entry.get("note") or ""),
            )
        )
    return list(enumerate(rows, start=2))


def province_committee_name(statistical_code: int) -> str:
    """The People's Committee of a province in force since 01/07/2025, named from the
    `vietnam-provinces` package (the 34 provinces and their statistical codes, kept up to date
    there): "UBND tỉnh An Giang", "UBND thành phố Hà Nội"."""
    province = Province.from_code(ProvinceCode(statistical_code))
    if province.division_type == VietNamDivisionType.THANH_PHO_TRUNG_UONG:
        return "UBND thành phố " + province.name.removeprefix("Thành phố ")
    return "UBND tỉnh " + province.name.removeprefix("Tỉnh ")


def seed_registry(session: Session, *, progress: transfer.Progress | None = None) -> ImportResult:
    return transfer.import_rows(
        session, build_rows(), actor="seed", default_node="H49", progress=progress
    )


def seed_files_present() -> bool:
    folder = resources.files("lienthong.registry").joinpath("seed")
    return all(
        folder.joinpath(name).is_file()
        for name in (
            "communes_2025.csv",
            "former_units.csv",
            "former_districts.csv",
            "provincial_bodies.csv",
            "national_directory.csv",
        )
    )
