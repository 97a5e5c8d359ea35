"""Agency electronic identifier codes of QĐ 20/2020/QĐ-TTg: `V1V2V3.Z1Z2.Y1Y2.Lnn`.

Read right to left: the level-1 code (a letter and two digits: H49 = UBND tỉnh Quảng Ninh),
then two digits for level 2, two for level 3 and three for level 4. Unused lower levels are
zeros, so the level is that of the leftmost non-zero group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lienthong.kernel.errors import Invalid

_LEVEL1 = re.compile(r"[A-Z]\d{2}")
_GROUPS = (
    # (index in the split code, width, Vietnamese name, English name)
    (0, 3, "nhóm cấp 4 (V1V2V3)", "level-4 group (V1V2V3)"),
    (1, 2, "nhóm cấp 3 (Z1Z2)", "level-3 group (Z1Z2)"),
    (2, 2, "nhóm cấp 2 (Y1Y2)", "level-2 group (Y1Y2)"),
)
FORMAT_HINT = "V1V2V3.Z1Z2.Y1Y2.Lnn, ví dụ 000.00.00.H49"
# The same rules as `parse_code`, as a regular expression for the API's description: a lower
# group is set only when the groups above it are (000.05.00.H49 is not a code).
_NZ2, _NZ3 = r"(0[1-9]|[1-9][0-9])", r"(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})"
PATTERN = (
    rf"^(000\.00\.00|000\.00\.{_NZ2}|000\.{_NZ2}\.{_NZ2}|{_NZ3}\.{_NZ2}\.{_NZ2})"
    r"\.[A-Za-z][0-9]{2}$"
)


class InvalidAgencyCode(Invalid):
    code = "invalid_agency_code"


@dataclass(frozen=True)
class AgencyCode:
    level4: str
    level3: str
    level2: str
    level1: str

    def __str__(self) -> str:
        return f"{self.level4}.{self.level3}.{self.level2}.{self.level1}"

    @property
    def level(self) -> int:
        if self.level4 != "000":
            return 4
        if self.level3 != "00":
            return 3
        if self.level2 != "00":
            return 2
        return 1

    @property
    def implied_parent(self) -> AgencyCode | None:
        """The code one level up, by the code's own structure (000.01.01.H53 → 000.00.01.H53)."""
        level = self.level
        if level == 4:
            return AgencyCode("000", self.level3, self.level2, self.level1)
        if level == 3:
            return AgencyCode("000", "00", self.level2, self.level1)
        if level == 2:
            return AgencyCode("000", "00", "00", self.level1)
        return None


def _fail(part_vi: str, part_en: str, raw: str, value: str) -> InvalidAgencyCode:
    return InvalidAgencyCode(
        f"Mã định danh '{raw}' không hợp lệ: {part_vi}. Dạng đúng: {FORMAT_HINT}.",
        f"Agency code '{raw}' is invalid: {part_en}. Expected V1V2V3.Z1Z2.Y1Y2.Lnn, "
        "e.g. 000.00.00.H49.",
        details={"code": raw, "part": value},
    )


def parse_code(raw: str) -> AgencyCode:
    """Validate a code and say which part is wrong. Letters are accepted in either case."""
    text = (raw or "").strip().upper()
    if not text:
        raise _fail("mã đang để trống", "the code is empty", raw, "code")
    if len(text) > 35:
        raise _fail("dài quá 35 ký tự", "it is longer than 35 characters", raw, "code")
    parts = text.split(".")
    if len(parts) != 4:
        raise _fail(
            f"cần 4 nhóm ngăn bởi dấu chấm, đang có {len(parts)}",
            f"it needs 4 dot-separated groups, it has {len(parts)}",
            raw,
            "code",
        )
    if not _LEVEL1.fullmatch(parts[3]):
        raise _fail(
            f"mã cấp 1 '{parts[3]}' phải là một chữ cái và hai chữ số (như H49)",
            f"the level-1 code '{parts[3]}' must be one letter and two digits (like H49)",
            raw,
            "level1",
        )
    for index, width, name_vi, name_en in _GROUPS:
        value = parts[index]
        if len(value) != width or not value.isdigit() or not value.isascii():
            raise _fail(
                f"{name_vi} '{value}' phải gồm đúng {width} chữ số",
                f"the {name_en} '{value}' must be exactly {width} digits",
                raw,
                ("level4", "level3", "level2")[index],
            )
    code = AgencyCode(parts[0], parts[1], parts[2], parts[3])
    # A lower level cannot be set while the level above it is zero: 000.05.00.H49 names a
    # level-3 unit under no level-2 unit.
    if code.level3 != "00" and code.level2 == "00":
        raise _fail(
            "có nhóm cấp 3 nhưng nhóm cấp 2 bằng 00",
            "the level-3 group is set but the level-2 group is 00",
            raw,
            "level2",
        )
    if code.level4 != "000" and code.level3 == "00":
        raise _fail(
            "có nhóm cấp 4 nhưng nhóm cấp 3 bằng 00",
            "the level-4 group is set but the level-3 group is 00",
            raw,
            "level3",
        )
    return code


def normalise(raw: str) -> str:
    return str(parse_code(raw))
