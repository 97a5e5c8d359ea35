import pytest

from lienthong.registry.codes import InvalidAgencyCode, parse_code


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("000.00.00.H49", 1, None),
        ("000.00.01.H53", 2, "000.00.00.H53"),
        ("000.01.01.H53", 3, "000.00.01.H53"),
        ("001.01.01.H53", 4, "000.01.01.H53"),
        (" 000.00.00.g22 ", 1, None),
    ],
)
def test_level_and_parent_follow_from_the_code(code: str, level: int, parent: str | None) -> None:
    parsed = parse_code(code)
    assert parsed.level == level
    assert (str(parsed.implied_parent) if parsed.implied_parent else None) == parent
    assert str(parsed) == code.strip().upper()


@pytest.mark.parametrize(
    ("code", "part", "says"),
    [
        ("000.00.H49", "code", "4 dot-separated groups"),
        ("000.00.00.49", "level1", "level-1 code '49'"),
        ("000.00.00.HH9", "level1", "one letter and two digits"),
        ("000.00.1A.H49", "level2", "level-2 group (Y1Y2) '1A'"),
        ("000.000.01.H49", "level3", "level-3 group (Z1Z2) '000'"),
        ("00.00.01.H49", "level4", "level-4 group (V1V2V3) '00'"),
        ("000.05.00.H49", "level2", "level-3 group is set but the level-2 group is 00"),
        ("001.00.05.H49", "level3", "level-4 group is set but the level-3 group is 00"),
        ("", "code", "empty"),
        ("０００.00.00.H49", "level4", "level-4 group"),
    ],
)
def test_invalid_codes_say_which_part_is_wrong(code: str, part: str, says: str) -> None:
    with pytest.raises(InvalidAgencyCode) as caught:
        parse_code(code)
    assert caught.value.details["part"] == part
    assert says in caught.value.message_en
    assert caught.value.code == "invalid_agency_code"
    assert "V1V2V3.Z1Z2.Y1Y2.Lnn" in caught.value.message_vi
