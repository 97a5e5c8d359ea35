from hypothesis import given
from hypothesis import strategies as st

from lienthong.kernel.text import escape_like, fold


def test_fold_examples() -> None:
    assert fold("Hạ Long") == "ha long"
    assert fold("  ĐẶC KHU   Vân Đồn ") == "dac khu van don"
    assert fold("Phường Hồng Gai") == "phuong hong gai"
    # Decomposed input (as some keyboards send it) folds the same as precomposed.
    assert fold("Ha\u0323 Long") == "ha long"


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ "
)


@given(st.text(alphabet=VIETNAMESE + VIETNAMESE.upper()))
def test_vietnamese_folds_to_plain_latin(text: str) -> None:
    assert all(ch in "abcdefghijklmnopqrstuvwxyz " for ch in fold(text))


def test_escape_like() -> None:
    assert escape_like("50%_a\\b") == "50\\%\\_a\\\\b"
