"""Demo datasets for nine of the province's specialised databases, with generated but
well-formed records (every one marked illustrative), two grants and a few calls in the log."""

from __future__ import annotations

import csv
import random
from datetime import timedelta
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.accounts import service as accounts
from lienthong.accounts.models import User
from lienthong.config import Settings
from lienthong.datashare import access, catalogue, gateway, hosted, sharelog
from lienthong.datashare.catalogue import Item
from lienthong.datashare.identifiers import make_person_id, make_tax_code
from lienthong.datashare.models import Dataset, HostedRecord
from lienthong.datashare.providers import Providers
from lienthong.kernel.clock import utcnow
from lienthong.kernel.events import LogEventSink
from lienthong.kernel.ratelimit import build_rate_limiter
from lienthong.registry.models import Agency

FINANCE = "000.00.03.H49"  # Sở Tài chính (business registration since 2025)
JUSTICE = "000.00.04.H49"  # Sở Tư pháp
CONSTRUCTION = "000.00.06.H49"  # Sở Xây dựng (transport since 2025)
AGRI_ENV = "000.00.07.H49"  # Sở Nông nghiệp và Môi trường
SCIENCE = "000.00.08.H49"  # Sở Khoa học và Công nghệ (telecom since 2025)
CULTURE = "000.00.11.H49"  # Sở Văn hóa, Thể thao và Du lịch
POLICE = "000.00.17.H49"  # Công an tỉnh
SERVICE_CENTRE = "000.00.16.H49"  # Trung tâm Phục vụ hành chính công tỉnh
HONG_GAI = "000.00.84.H49"
DEMO_SUBJECT = "022090001234"  # the demo citizen's personal ID number (male, 1990)

SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Thu", "Hữu", "Ngọc", "Quang")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Lan", "Long", "Mai", "Nam", "Sơn")
LAND_USE = ("ODT", "ONT", "LUC", "CLN", "NTS", "RSX", "TMD", "SKK", "DGT")
LICENCE_CLASSES = ("A1", "A", "B1", "B", "C1", "C", "D1", "D2", "D", "BE", "C1E", "CE", "DE")
STAY_TYPES = ("khach_san", "biet_thu", "can_ho", "tau_thuy", "nha_nghi", "homestay")
NATIONALITIES = ("CHN", "KOR", "JPN", "USA", "FRA", "RUS", "AUS", "DEU", "THA")


def _i(name: str, vi: str, en: str, cls: str = "shared") -> Item:
    return Item(name, vi, en, cls)


def _wards() -> list[str]:
    path = resources.files("lienthong.registry") / "seed" / "communes_2025.csv"
    with path.open(encoding="utf-8") as f:
        return [r["name"] for r in csv.DictReader(f)]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _date(rng: random.Random, start: int, end: int) -> str:
    return f"{rng.randint(start, end)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


ILLUSTRATIVE = "Dữ liệu minh họa, sinh tự động; không phải dữ liệu thật."


def _datasets() -> list[dict[str, Any]]:
    return [
        {
            "code": "doanh-nghiep",
            "database": "csdl-doanh-nghiep",
            "owner_code": FINANCE,
            "name_vi": "Đăng ký doanh nghiệp",
            "name_en": "Enterprise registry",
            "field": "doanh_nghiep",
            "key_item": "ma_so_thue",
            "subject_item": "ma_so_thue",
            "subject_kind": "tax_code",
            "legal_basis": "Luật Doanh nghiệp 2020; Nghị định 168/2025",
            "items": [
                _i("ma_so_thue", "Mã số doanh nghiệp", "Tax code", "open"),
                _i("ten", "Tên doanh nghiệp", "Name", "open"),
                _i("loai_hinh", "Loại hình", "Type", "open"),
                _i("trang_thai", "Tình trạng hoạt động", "Status", "open"),
                _i("ngay_thanh_lap", "Ngày thành lập", "Founded", "open"),
                _i("dia_chi", "Địa chỉ trụ sở", "Head office"),
                _i("phuong_xa", "Phường, xã", "Ward"),
                _i(
                    "nguoi_dai_dien",
                    "Người đại diện theo pháp luật",
                    "Legal representative",
                    "restricted",
                ),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search"), ("thay-doi", "changes")],
        },
        {
            "code": "thua-dat",
            "database": "csdl-dat-dai",
            "owner_code": AGRI_ENV,
            "name_vi": "Thửa đất",
            "name_en": "Land parcels",
            "field": "dat_dai",
            "key_item": "ma_thua",
            "subject_item": "so_dinh_danh_chu",
            "subject_kind": "person_id",
            "legal_basis": "Luật Đất đai 2024",
            "items": [
                _i("ma_thua", "Mã thửa", "Parcel id", "open"),
                _i("phuong_xa", "Phường, xã", "Commune", "open"),
                _i("so_to", "Số hiệu tờ bản đồ", "Map sheet", "open"),
                _i("so_thua", "Số thứ tự thửa", "Parcel number", "open"),
                _i("dien_tich", "Diện tích (m²)", "Area (m²)", "open"),
                _i("muc_dich", "Mục đích sử dụng", "Land use", "open"),
                _i("chu_su_dung", "Người sử dụng đất", "Land user", "restricted"),
                _i(
                    "so_dinh_danh_chu", "Số định danh người sử dụng", "Land user's ID", "restricted"
                ),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search")],
        },
        {
            "code": "khai-sinh",
            "database": "csdl-ho-tich",
            "owner_code": JUSTICE,
            "name_vi": "Đăng ký khai sinh",
            "name_en": "Birth records",
            "field": "ho_tich",
            "key_item": "so_dinh_danh",
            "subject_item": "so_dinh_danh",
            "subject_kind": "person_id",
            "legal_basis": "Luật Hộ tịch 60/2014, Điều 14",
            "items": [
                _i("so_dinh_danh", "Số định danh cá nhân", "Personal ID number"),
                _i("ho_ten", "Họ và tên", "Full name"),
                _i("gioi_tinh", "Giới tính", "Sex"),
                _i("ngay_sinh", "Ngày sinh", "Birth date"),
                _i("noi_sinh", "Nơi sinh", "Place of birth"),
                _i("dan_toc", "Dân tộc", "Ethnicity"),
                _i("quoc_tich", "Quốc tịch", "Nationality"),
                _i("ho_ten_me", "Họ tên mẹ", "Mother's name", "restricted"),
                _i("ho_ten_cha", "Họ tên cha", "Father's name", "restricted"),
                _i("noi_dang_ky", "Nơi đăng ký", "Registered at"),
                _i("so_dang_ky", "Số đăng ký", "Register number"),
            ],
            "services": [("tra-cuu", "get")],
        },
        {
            "code": "giay-phep-lai-xe",
            "database": "csdl-giay-phep-lai-xe",
            "owner_code": POLICE,
            "name_vi": "Giấy phép lái xe",
            "name_en": "Driving licences",
            "field": "giao_thong",
            "key_item": "so_gplx",
            "subject_item": "so_dinh_danh",
            "subject_kind": "person_id",
            "legal_basis": "Luật Trật tự, an toàn giao thông đường bộ 2024, Điều 57",
            "items": [
                _i("so_gplx", "Số giấy phép", "Licence number"),
                _i("so_dinh_danh", "Số định danh", "Personal ID number"),
                _i("ho_ten", "Họ và tên", "Full name"),
                _i("hang", "Hạng", "Class"),
                _i("ngay_cap", "Ngày cấp", "Issued"),
                _i("ngay_het_han", "Ngày hết hạn", "Expires"),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search")],
        },
        {
            "code": "phuong-tien-thuy",
            "database": "csdl-phuong-tien-thuy-noi-dia",
            "owner_code": CONSTRUCTION,
            "name_vi": "Phương tiện thủy nội địa",
            "name_en": "Inland waterway vehicles",
            "field": "giao_thong",
            "key_item": "so_dang_ky",
            "legal_basis": "Thông tư 75/2014/TT-BGTVT; Nghị định 48/2019",
            "items": [
                _i("so_dang_ky", "Số đăng ký", "Registration number", "open"),
                _i("ten_phuong_tien", "Tên phương tiện", "Name", "open"),
                _i("loai", "Loại phương tiện", "Type", "open"),
                _i("trong_tai_tan", "Trọng tải toàn phần (tấn)", "Deadweight (t)", "open"),
                _i("suc_cho_nguoi", "Sức chở người", "Passengers", "open"),
                _i("chu_phuong_tien", "Chủ phương tiện", "Owner", "restricted"),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search")],
        },
        {
            "code": "co-so-luu-tru",
            "database": "csdl-du-lich",
            "owner_code": CULTURE,
            "name_vi": "Cơ sở lưu trú du lịch",
            "name_en": "Tourist accommodation",
            "field": "du_lich",
            "key_item": "ma_co_so",
            "legal_basis": "Luật Du lịch 09/2017, Điều 48-50",
            "items": [
                _i("ma_co_so", "Mã cơ sở", "Id", "open"),
                _i("ten", "Tên cơ sở", "Name", "open"),
                _i("loai", "Loại cơ sở", "Type", "open"),
                _i("hang_sao", "Hạng sao", "Stars", "open"),
                _i("so_phong", "Số buồng", "Rooms", "open"),
                _i("phuong_xa", "Phường, xã", "Ward", "open"),
                _i("ma_so_thue", "Mã số thuế", "Tax code", "shared"),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search")],
        },
        {
            "code": "giay-phep-moi-truong",
            "database": "csdl-moi-truong",
            "owner_code": AGRI_ENV,
            "name_vi": "Giấy phép môi trường",
            "name_en": "Environmental permits",
            "field": "moi_truong",
            "key_item": "so_giay_phep",
            "subject_item": "ma_so_thue",
            "subject_kind": "tax_code",
            "legal_basis": "Luật Bảo vệ môi trường 72/2020, Điều 40",
            "items": [
                _i("so_giay_phep", "Số giấy phép", "Permit number", "open"),
                _i("co_so", "Tên cơ sở", "Facility", "open"),
                _i("ma_so_thue", "Mã số thuế", "Tax code", "open"),
                _i(
                    "luu_luong_nuoc_thai",
                    "Lưu lượng nước thải tối đa (m³/ngày)",
                    "Max wastewater (m³/day)",
                    "shared",
                ),
                _i(
                    "chat_thai_nguy_hai", "Mã chất thải nguy hại", "Hazardous waste codes", "shared"
                ),
                _i("ngay_cap", "Ngày cấp", "Issued", "open"),
                _i("thoi_han", "Thời hạn (năm)", "Term (years)", "open"),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search")],
        },
        {
            "code": "tram-bts",
            "database": "csdl-vien-thong-gis",
            "owner_code": SCIENCE,
            "name_vi": "Trạm thu phát sóng (BTS)",
            "name_en": "Base stations (BTS)",
            "field": "vien_thong",
            "key_item": "ma_tram",
            "geometry": True,
            "legal_basis": "Luật Viễn thông 2023",
            "items": [
                _i("ma_tram", "Mã trạm", "Station id", "open"),
                _i("nha_mang", "Doanh nghiệp viễn thông", "Operator", "open"),
                _i("cong_nghe", "Công nghệ", "Technology", "open"),
                _i("phuong_xa", "Phường, xã", "Ward", "open"),
                _i("lon", "Kinh độ", "Longitude", "open"),
                _i("lat", "Vĩ độ", "Latitude", "open"),
            ],
            "services": [("tra-cuu", "get"), ("tim-kiem", "search")],
        },
        {
            "code": "luu-tru-nguoi-nuoc-ngoai",
            "database": "csdl-xuat-nhap-canh",
            "owner_code": POLICE,
            "name_vi": "Khai báo tạm trú người nước ngoài",
            "name_en": "Foreigners' residence declarations",
            "field": "xuat_nhap_canh",
            "key_item": "ma_khai_bao",
            "subject_item": "so_ho_chieu",
            "subject_kind": "passport",
            "legal_basis": "Luật 47/2014/QH13, Điều 33; Thông tư 53/2016/TT-BCA",
            "items": [
                _i("ma_khai_bao", "Mã khai báo", "Declaration id", "restricted"),
                _i("ho_ten", "Họ và tên", "Full name", "restricted"),
                _i("gioi_tinh", "Giới tính", "Sex", "restricted"),
                _i("ngay_sinh", "Ngày sinh", "Birth date", "restricted"),
                _i("quoc_tich", "Quốc tịch", "Nationality", "restricted"),
                _i("so_ho_chieu", "Số hộ chiếu", "Passport number", "restricted"),
                _i("co_so_luu_tru", "Cơ sở lưu trú", "Accommodation", "restricted"),
                _i("tu_ngay", "Từ ngày", "From", "restricted"),
                _i("den_ngay", "Đến ngày", "Until", "restricted"),
            ],
            "services": [("tra-cuu", "get")],
        },
    ]


def _records(code: str, rng: random.Random, wards: list[str], n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k in range(1, n + 1):
        ward = rng.choice(wards)
        if code == "doanh-nghiep":
            out.append(
                {
                    "ma_so_thue": make_tax_code(rng),
                    "ten": f"Công ty TNHH {rng.choice(GIVEN)} "
                    f"{rng.choice(('Hạ Long', 'Vân Đồn', 'Bãi Cháy', 'Cẩm Phả', 'Móng Cái'))} {k}",
                    "loai_hinh": rng.choice(
                        (
                            "TNHH một thành viên",
                            "TNHH hai thành viên trở lên",
                            "Cổ phần",
                            "Doanh nghiệp tư nhân",
                        )
                    ),
                    "trang_thai": rng.choice(("Đang hoạt động",) * 8 + ("Tạm ngừng kinh doanh",)),
                    "ngay_thanh_lap": _date(rng, 2005, 2025),
                    "dia_chi": f"Số {rng.randint(1, 300)}, {ward}, tỉnh Quảng Ninh",
                    "phuong_xa": ward,
                    "nguoi_dai_dien": _name(rng),
                }
            )
        elif code == "thua-dat":
            sheet, parcel = rng.randint(1, 80), rng.randint(1, 900)
            owner_id = (
                DEMO_SUBJECT
                if k == 1
                else make_person_id(rng, year=rng.randint(1950, 2000), female=rng.random() < 0.5)
            )
            out.append(
                {
                    "ma_thua": f"{k:06d}-{sheet}-{parcel}",
                    "phuong_xa": ward,
                    "so_to": str(sheet),
                    "so_thua": str(parcel),
                    "dien_tich": f"{rng.uniform(40, 2000):.1f}",
                    "muc_dich": rng.choice(LAND_USE),
                    "chu_su_dung": "Nguyễn Văn An" if k == 1 else _name(rng),
                    "so_dinh_danh_chu": owner_id,
                }
            )
        elif code == "khai-sinh":
            female = rng.random() < 0.5
            year = rng.randint(1960, 2025)
            pid = DEMO_SUBJECT if k == 1 else make_person_id(rng, year=year, female=female)
            out.append(
                {
                    "so_dinh_danh": pid,
                    "ho_ten": "Nguyễn Văn An" if k == 1 else _name(rng),
                    "gioi_tinh": "Nam" if k == 1 or not female else "Nữ",
                    "ngay_sinh": "1990-05-12" if k == 1 else _date(rng, year, year),
                    "noi_sinh": f"{ward}, tỉnh Quảng Ninh",
                    "dan_toc": "Kinh",
                    "quoc_tich": "Việt Nam",
                    "ho_ten_me": _name(rng),
                    "ho_ten_cha": _name(rng),
                    "noi_dang_ky": f"UBND {ward}",
                    "so_dang_ky": f"{k}/{year}",
                }
            )
        elif code == "giay-phep-lai-xe":
            issued = rng.randint(2015, 2025)
            pid = (
                DEMO_SUBJECT
                if k == 1
                else make_person_id(rng, year=rng.randint(1960, 2005), female=rng.random() < 0.4)
            )
            out.append(
                {
                    "so_gplx": f"22{rng.randrange(10**9, 10**10)}",
                    "so_dinh_danh": pid,
                    "ho_ten": "Nguyễn Văn An" if k == 1 else _name(rng),
                    "hang": rng.choice(LICENCE_CLASSES),
                    "ngay_cap": _date(rng, issued, issued),
                    "ngay_het_han": _date(rng, issued + 10, issued + 10),
                }
            )
        elif code == "phuong-tien-thuy":
            out.append(
                {
                    "so_dang_ky": f"QN-{k:04d}",
                    "ten_phuong_tien": f"{rng.choice(('Hạ Long', 'Tuần Châu', 'Cô Tô', 'Vân Đồn'))} {k:02d}",
                    "loai": rng.choice(("Tàu khách", "Tàu lưu trú du lịch", "Sà lan", "Tàu hàng")),
                    "trong_tai_tan": str(rng.randint(5, 1500)),
                    "suc_cho_nguoi": str(rng.randint(0, 120)),
                    "chu_phuong_tien": _name(rng),
                }
            )
        elif code == "co-so-luu-tru":
            kind = rng.choice(STAY_TYPES)
            out.append(
                {
                    "ma_co_so": f"LT-{k:04d}",
                    "ten": f"{'Khách sạn' if kind == 'khach_san' else 'Cơ sở'} {rng.choice(GIVEN)} {k}",
                    "loai": kind,
                    "hang_sao": str(rng.randint(1, 5)) if kind == "khach_san" else "",
                    "so_phong": str(rng.randint(5, 400)),
                    "phuong_xa": ward,
                    "ma_so_thue": make_tax_code(rng),
                }
            )
        elif code == "giay-phep-moi-truong":
            out.append(
                {
                    "so_giay_phep": f"{k}/GPMT-UBND",
                    "co_so": f"Nhà máy {rng.choice(GIVEN)} {k}",
                    "ma_so_thue": make_tax_code(rng),
                    "luu_luong_nuoc_thai": str(rng.randint(10, 5000)),
                    "chat_thai_nguy_hai": ", ".join(
                        rng.sample(("16 01 06", "17 02 03", "18 02 01", "07 03 11"), 2)
                    ),
                    "ngay_cap": _date(rng, 2022, 2025),
                    "thoi_han": str(rng.choice((5, 7, 10))),
                }
            )
        elif code == "tram-bts":
            out.append(
                {
                    "ma_tram": f"QNH{k:05d}",
                    "nha_mang": rng.choice(("Viettel", "VNPT", "MobiFone")),
                    "cong_nghe": rng.choice(("4G", "5G", "4G/5G")),
                    "phuong_xa": ward,
                    "lon": f"{rng.uniform(106.6, 108.0):.5f}",
                    "lat": f"{rng.uniform(20.8, 21.6):.5f}",
                }
            )
        else:
            start = _date(rng, 2026, 2026)
            out.append(
                {
                    "ma_khai_bao": f"NA17-{k:05d}",
                    "ho_ten": f"GUEST {k}",
                    "gioi_tinh": rng.choice(("M", "F")),
                    "ngay_sinh": _date(rng, 1950, 2005),
                    "quoc_tich": rng.choice(NATIONALITIES),
                    "so_ho_chieu": f"P{rng.randrange(10**7, 10**8)}",
                    "co_so_luu_tru": f"LT-{rng.randint(1, 150):04d}",
                    "tu_ngay": start,
                    "den_ngay": start,
                }
            )
    return out


def seed_datasets(session: Session, *, records_each: int = 120) -> int:
    """The demo datasets and their records; a second run adds nothing."""
    rng = random.Random(47)  # noqa: S311 - demo data, the same on every node
    wards = _wards()
    made = 0
    for spec in _datasets():
        if session.scalars(select(Dataset).where(Dataset.code == spec["code"])).first():
            continue
        services = spec.pop("services")
        dataset = catalogue.create_dataset(
            session, description=ILLUSTRATIVE, illustrative=True, **spec
        )
        for code, kind in services:
            catalogue.add_service(session, dataset=dataset, code=code, kind=kind)
        rows = _records(dataset.code, rng, wards, records_each)
        hosted.store(session, dataset=dataset, rows=list(enumerate(rows, start=1)))
        made += 1
    return made


def seed_demo(session: Session, *, settings: Settings) -> None:
    """Datasets, and once: two grants (the province's service centre reads birth records, the
    Hồng Gai ward reads the enterprise registry), a few calls, the demo citizen's ID."""
    seed_datasets(session)
    if access.list_grants(session, consumer_ids=_ids(session, SERVICE_CENTRE, HONG_GAI))[1]:
        return
    now = utcnow()
    calls: list[gateway.Call] = []
    for consumer, dataset, items, purpose in (
        (
            SERVICE_CENTRE,
            "khai-sinh",
            ["so_dinh_danh", "ho_ten", "gioi_tinh", "ngay_sinh", "noi_sinh"],
            "Giải quyết thủ tục hành chính",
        ),
        (
            HONG_GAI,
            "doanh-nghiep",
            ["ma_so_thue", "ten", "trang_thai", "dia_chi"],
            "Kiểm tra hồ sơ đăng ký hộ kinh doanh",
        ),
    ):
        system, _secret = accounts.issue_credential(session, agency_code=consumer)
        ask = access.Ask(
            dataset_code=dataset,
            service_code="tra-cuu",
            consumer_system=system,
            items=items,
            purpose=purpose,
            legal_basis="Nghị định 47/2020/NĐ-CP; Nghị định 194/2025/NĐ-CP",
            frequency="Theo từng hồ sơ",
            period_from=now,
            period_to=now + timedelta(days=365),
        )
        request = access.request_access(
            session, settings=settings, consumer_code=consumer, ask=ask, requested_by_id=None
        )
        owner = catalogue.get_dataset(session, code=dataset)
        owner_agency = session.get(Agency, owner.owner_agency_id)
        assert owner_agency is not None
        access.approve(session, request_id=request.id, acting_code=owner_agency.code, actor_id=None)
        calls.append(
            gateway.Call(
                dataset=dataset,
                service="tra-cuu",
                system=system,
                agency_code=consumer,
                purpose=f"{consumer}-demo",
                key=None,
                path=f"/api/v1/data/{dataset}/tra-cuu",
            )
        )
    first = hosted_key(session, "doanh-nghiep")
    limiter = build_rate_limiter("memory://", None)
    for call, key in ((calls[0], DEMO_SUBJECT), (calls[0], "022090009999"), (calls[1], first)):
        gateway.call_logged(
            session,
            providers=Providers(),
            limiter=limiter,
            events=LogEventSink(),
            call=gateway.Call(**{**call.__dict__, "key": key}),
        )
    # A refused one: the ward's system asks for an item outside its grant.
    gateway.call_logged(
        session,
        providers=Providers(),
        limiter=limiter,
        events=LogEventSink(),
        call=gateway.Call(**{**calls[1].__dict__, "key": first, "fields": ("nguoi_dai_dien",)}),
    )
    citizen = session.scalars(select(User).where(User.username == "congdan")).first()
    if citizen is not None:
        sharelog.link_subject(session, user_id=citizen.id, subject=DEMO_SUBJECT, kind="person_id")


def hosted_key(session: Session, dataset_code: str) -> str:
    dataset = catalogue.get_dataset(session, code=dataset_code)
    key = session.scalar(
        select(HostedRecord.key)
        .where(HostedRecord.dataset_id == dataset.id)
        .order_by(HostedRecord.seq)
        .limit(1)
    )
    assert key is not None
    return key


def _ids(session: Session, *codes: str) -> list[int]:
    return list(session.scalars(select(Agency.id).where(Agency.code.in_(codes))))
