"""The card's encodings: round trips (hypothesis), every item's length limit, errors that name the item."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminals.chip import layout
from terminals.chip.codecs import (
    ItemError,
    an_decode,
    an_encode,
    cn_decode,
    cn_encode,
    decode_item,
    encode_item,
    map_decode,
    map_encode,
    tlv_decode,
    tlv_encode,
)
from terminals.chip.layout import Encoding, Structure


def gbk_text(max_bytes):
    chars = st.characters(codec="gbk", exclude_characters="\x00")
    return st.text(chars, max_size=max_bytes).filter(lambda s: len(s.encode("gbk")) <= max_bytes)


@given(gbk_text(100))
def test_an_round_trip(text):
    raw = an_encode(text, 100)
    assert len(raw) == 100 and an_decode(raw) == text


@given(st.text(alphabet="0123456789", max_size=8))
def test_cn_round_trip(digits):
    raw = cn_encode(digits, 4)
    assert len(raw) == 4 and cn_decode(raw) == digits


@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2099, 12, 31)))
def test_cn_dates(day):
    assert cn_decode(cn_encode(day, 4)) == day.strftime("%Y%m%d")


def test_encodings_match_the_card():
    assert an_encode("张三", 6) == "张三".encode("gbk") + b"\x00\x00"
    assert cn_encode("610", 3) == bytes.fromhex("610FFF")
    assert cn_encode("1", 1) == bytes.fromhex("1F")


ITEMS = [
    (ef, it)
    for ef in layout.ALL_FILES
    for it in ef.items
    if not (it.encoding == Encoding.B and it.length > 1)
]


@pytest.mark.parametrize("ef,item", ITEMS, ids=[f"{ef.key}:{it.name}" for ef, it in ITEMS])
def test_every_item_takes_its_full_length_and_refuses_one_more(ef, item):
    if item.encoding == Encoding.AN:
        full, over = "A" * item.length, "A" * (item.length + 1)
    elif item.encoding == Encoding.CN:
        full, over = "9" * (2 * item.length), "9" * (2 * item.length + 1)
    else:
        full, over = 255, 256
    assert decode_item(item, encode_item(item, full)) == full
    with pytest.raises(ItemError) as err:
        encode_item(item, over)
    assert item.label in str(err.value) and item.name in str(err.value)


def test_unencodable_value_names_the_item():
    name = layout.DDF1_EF06.item("name")
    with pytest.raises(ItemError, match=r"Name \(name\).*GBK"):
        encode_item(name, "Ω😀")
    with pytest.raises(ItemError, match=r"Birth date \(birth_date\).*digits"):
        encode_item(layout.DDF1_EF06.item("birth_date"), "1990-01-01")


@given(gbk_text(30))
def test_tlv_round_trip(text):
    item = layout.DDF1_EF06.item("name")
    raw = tlv_encode(item, text)
    assert raw[:2] == bytes([item.tag, 30])
    assert tlv_decode(item, raw) == text


def test_tlv_wrong_tag_names_the_item():
    with pytest.raises(ItemError, match="ID number"):
        tlv_decode(layout.DDF1_EF06.item("id_number"), bytes([0x09, 18]) + b"1" * 18)


@given(gbk_text(20), st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_immunisation_record_round_trip(vaccine, day):
    ef = layout.DF02_EF08
    raw = map_encode(ef.items, {"vaccine": vaccine, "date": day}, ef.record_size)
    assert len(raw) == 24
    assert map_decode(ef.items, raw) == {"vaccine": vaccine, "date": day}


def test_binary_record_maps_add_up():
    for ef in layout.INPATIENT_FILES + layout.OUTPATIENT_FILES:
        assert ef.structure == Structure.TRANSPARENT
        last = ef.items[-1]
        assert last.offset + last.length == ef.size
    assert layout.INPATIENT_SIZE == 1893 and layout.OUTPATIENT_SIZE == 3267
    raw = map_encode(
        layout.INPATIENT_MAP, {"institution_name": "西安市中心医院", "admitted_on": "20260101"}, 1893
    )
    back = map_decode(layout.INPATIENT_MAP, raw)
    assert back["institution_name"] == "西安市中心医院" and back["admitted_on"] == "20260101"


def test_table_has_every_file():
    keys = set(layout.FILES)
    for df in ("DDF1", "DF01", "DF02"):
        for fid in ("EF05", "EF06", "EF07", "EF08"):
            assert f"{df}/{fid}" in keys
    assert {"DF03/EF05", "DF03/EF06", "DF03/EE01", "DF03/EE03", "DF03/ED01", "DF03/ED05"} <= keys
