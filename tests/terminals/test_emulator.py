"""The emulated card and SAM: access rules, MACs, every file group through the operations."""

import pytest

from terminals.chip import apdu as A
from terminals.chip import layout
from terminals.chip.codecs import ItemError
from terminals.chip.operations import HealthCard

from .conftest import DEMO_HOLDER


def test_sam_identity(sam):
    assert sam.serial() == "SAM0000001"
    assert sam.terminal_number() == "610101000001"
    certs = sam.certificates()
    assert len(certs["issuer"]) == 180 and len(certs["sam"]) == 190


def test_sam_needs_its_pin(virtual_sam):
    from terminals.chip.apdu import Channel
    from terminals.chip.operations import Sam
    from terminals.chip.transport import InProcessTransport

    t = InProcessTransport(virtual_sam)
    t.connect()
    sam = Sam(Channel(t))
    with pytest.raises(A.SecurityStatusNotSatisfied):
        sam.diversify(0x31, bytes(16))
    with pytest.raises(A.WrongPin) as err:
        sam.verify_pin(b"\x00\x00\x00")
    assert err.value.tries_left == 2


def test_read_without_auth_gets_security_status_error(health_card, card_channel):
    card_channel.transport.connect()  # a fresh power-up: nothing authenticated
    card_channel.send(A.select(0xDDF1))
    card_channel.send(A.select(0xEF06))
    with pytest.raises(A.SecurityStatusNotSatisfied):
        card_channel.send(A.read_record(1))


def test_issuer_file_reads_without_auth(health_card, card_channel):
    card_channel.send(A.select(0xDDF1))
    card_channel.send(A.select(0xEF05))
    assert card_channel.send(A.read_record(1))[:2] == b"\x01\x01"


def test_external_authenticate_with_a_wrong_cryptogram_fails(health_card, card_channel):
    card_channel.send(A.select(0xDF02))
    card_channel.send(A.get_challenge())
    with pytest.raises(A.AuthenticationFailed):
        card_channel.send(
            A.external_authenticate(0x84, bytes(8) + bytes.fromhex("1122334455667788") + b"\x01")
        )


def test_write_with_a_wrong_mac_is_refused(health_card, card_channel, sam, virtual_card):
    health_card.update_auth("DDF1")
    ef = layout.DDF1_EF08
    card_channel.send(A.select(ef.fid))
    r3 = card_channel.send(A.get_challenge())
    from terminals.chip.codecs import tlv_encode
    from terminals.chip.crypto import pad80

    record = tlv_encode(ef.item("phone1"), "13800000000")
    sam.diversify(0x39, health_card.cn + r3)
    ct = sam.encrypt(pad80(bytes([len(record)]) + record))
    with pytest.raises(A.SecureMessagingError):
        card_channel.send(A.Apdu(0x04, 0xDC, 2, 0x04, ct + b"\x00\x00\x00\x00"))
    assert virtual_card.records["DDF1/EF08"][1] == bytearray(22)


def test_write_without_update_auth_is_refused(health_card, card_channel):
    card_channel.send(A.select(0xDF02))
    card_channel.send(A.select(0xEF08))
    with pytest.raises(A.SecurityStatusNotSatisfied):
        card_channel.send(A.update_record_cyclic(bytes(24)))


def test_personalised_card_reads_back(health_card):
    assert health_card.read_file("DDF1/EF06") == DEMO_HOLDER
    issuer = health_card.read_file("DDF1/EF05")
    assert issuer["card_no"] == "610102199001011234" and issuer["chip_serial"] == "0102030405"
    assert health_card.read_file("DDF1/EF08")["expiry"] == "20361121"


def test_every_tlv_file_group_round_trips(health_card):
    data = {
        "DDF1/EF08": {"phone1": "13800000000", "payment1": "1"},
        "DF01/EF05": {"address1_type": "1", "address1": "陕西省西安市雁塔区"},
        "DF01/EF06": {"contact1_name": "李四", "contact1_relation": "2", "contact1_phone": "13900000000"},
        "DF01/EF07": {"education": "3", "marital_status": "2", "occupation": "A01"},
        "DF01/EF08": {"document_type": "1", "document_number": "610102199001011234"},
        "DF02/EF05": {"abo": 1, "rh": "1", "asthma": 1, "other_warning": "青霉素过敏史"},
        "DF02/EF06": {"psychiatric": 0},
    }
    for key, values in data.items():
        health_card.write_file(key, values)
    for key, values in data.items():
        back = health_card.read_file(key)
        assert {k: back[k] for k in values} == values


def test_cyclic_files_newest_first_and_bounded(health_card):
    for n in range(12):
        health_card.add_immunisation(vaccine=f"乙肝疫苗{n}", date="20260101")
    shots = health_card.read_immunisations()
    assert len(shots) == 10 and shots[0]["vaccine"] == "乙肝疫苗11" and shots[-1]["vaccine"] == "乙肝疫苗2"
    health_card.add_allergy(allergen="青霉素", reaction="皮疹")
    assert health_card.read_allergies() == [{"allergen": "青霉素", "reaction": "皮疹"}]


def test_clinical_records_write_read_erase(health_card):
    assert health_card.read_records("outpatient") == []
    health_card.write_record(
        "outpatient", 2, {"institution_name": "西安市第一医院", "visited_on": "20261120"}
    )
    health_card.write_record("inpatient", 1, {"admitted_on": "20260101", "discharge_diagnosis": "肺炎"})
    out = health_card.read_records("outpatient")
    assert [r["slot"] for r in out] == [2] and out[0]["institution_name"] == "西安市第一医院"
    assert health_card.read_records("inpatient")[0]["discharge_diagnosis"] == "肺炎"
    assert health_card.next_free_slot("outpatient") == 1
    health_card.erase_record("outpatient", 2)
    assert health_card.read_records("outpatient") == []


def test_photo(health_card):
    health_card.write_photo(b"\xff\xd8" + bytes(1000))
    assert health_card.read_photo() == b"\xff\xd8" + bytes(1000)
    with pytest.raises(ItemError, match="photo"):
        health_card.write_photo(bytes(4000))


def test_too_long_value_names_the_item_before_anything_is_written(health_card, card_channel):
    sent = len(card_channel.trace)
    with pytest.raises(ItemError, match="Address 1"):
        health_card.write_file("DF01/EF05", {"address1": "长" * 60})
    assert len(card_channel.trace) == sent


def test_blank_card_has_no_holder(blank_card):
    assert blank_card.read_file("DDF1/EF06") == {it.name: None for it in layout.DDF1_EF06.items}


def test_card_for_another_province_does_not_authenticate(card_channel, sam, virtual_card):
    card = HealthCard(card_channel, sam, virtual_card.atr, city_code="110100")  # wrong PF for DF02
    with pytest.raises(A.AuthenticationFailed):
        card.read_allergies()
