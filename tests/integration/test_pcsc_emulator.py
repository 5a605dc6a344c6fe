"""Real PC/SC: pcscd with the vpcd driver, the emulated card on 35963 and the SAM on 35964, pyscard in
between. Every file group is written and read back through the reader.

Without pcscd/vpcd these skip; with CI=true they fail instead (`.ci/run` installs and starts them).
"""

from __future__ import annotations

import pytest

from terminals.chip.apdu import Channel, SecurityStatusNotSatisfied
from terminals.chip.emulator import VirtualHealthCard, VirtualSam

from .conftest import service_missing

pytestmark = pytest.mark.service

ISSUER = {
    "card_type": "1",
    "spec_version": "0100",
    "issuer_name": "陕西省卫生健康委员会",
    "issuer_code": "61000000001",
    "issue_date": "20261121",
    "card_no": "610102199001011234",
    "city_code": "610100",
}


@pytest.fixture(scope="module")
def pcsc_devices():
    """The emulated card and SAM attached to pcscd's vpcd readers; (card transport, SAM transport)."""
    try:
        from terminals.chip import pcsc
        from terminals.chip.vpcd import CARD_PORT, SAM_PORT, VpcdCard
    except ImportError as exc:  # pragma: no cover
        service_missing(f"pyscard is not importable ({exc})")
    try:
        names = pcsc.list_readers()
    except Exception as exc:  # pyscard raises its own errors when pcscd is down
        service_missing(f"pcscd does not answer ({exc}); start it with `pcscd -f -a &`")
    if len([n for n in names if "Virtual PCD" in n]) < 2:
        service_missing(f"no vpcd readers ({names}); install vsmartcard-vpcd and restart pcscd")
    card, sam = VirtualHealthCard(city_code="610100"), VirtualSam()
    attached = [VpcdCard(card, port=CARD_PORT).start(), VpcdCard(sam, port=SAM_PORT).start()]
    try:
        card_reader, sam_reader = pcsc.find_reader("Virtual PCD 00 00"), pcsc.find_reader("Virtual PCD 00 01")
        for reader in (card_reader, sam_reader):
            if not pcsc.wait_for_card(reader, timeout=10):
                service_missing(f"pcscd did not see the emulated card in {reader}")
        card_t, sam_t = pcsc.PcscTransport(card_reader), pcsc.PcscTransport(sam_reader)
        yield card, card_t, sam_t
        card_t.disconnect()
        sam_t.disconnect()
    finally:
        for a in attached:
            a.stop()


def test_every_file_group_through_pyscard(pcsc_devices):
    from terminals.chip.operations import HealthCard, Sam

    virtual, card_t, sam_t = pcsc_devices
    atr = card_t.connect()
    sam_t.connect()
    assert atr == virtual.atr
    sam = Sam(Channel(sam_t))
    sam.verify_pin(b"\x12\x34\x56")
    assert sam.serial() == "SAM0000001"
    card = HealthCard(Channel(card_t), sam, atr, city_code="610100")
    card.personalise(
        issuer=ISSUER,
        holder={
            "name": "王五",
            "sex": 2,
            "ethnicity": "01",
            "birth_date": "19850505",
            "id_number": ISSUER["card_no"],
        },
        card={"expiry": "20361121", "phone1": "13800000000"},
    )
    card.write_file("DF01/EF05", {"address1_type": "1", "address1": "西安市碑林区"})
    card.write_file("DF02/EF05", {"abo": 2, "rh": "1", "diabetes": 1})
    card.add_immunisation(vaccine="流感疫苗", date="20261101")
    card.add_allergy(allergen="花粉", reaction="鼻炎")
    card.write_record("outpatient", 1, {"institution_name": "西安市第四医院", "visited_on": "20261120"})
    card.write_record("inpatient", 1, {"admitted_on": "20260301", "discharge_diagnosis": "阑尾炎"})
    card.write_photo(b"\xff\xd8photo")

    # A fresh session reads it all back through the reader.
    atr = card_t.connect()
    card = HealthCard(Channel(card_t), sam, atr)
    everything = card.read_all()
    assert everything["DDF1/EF06"]["name"] == "王五"
    assert everything["DDF1/EF05"]["chip_serial"] == virtual.chip_serial[:10]
    assert everything["DDF1/EF08"]["expiry"] == "20361121"
    assert everything["DF01/EF05"]["address1"] == "西安市碑林区"
    assert everything["DF02/EF05"]["diabetes"] == 1
    assert everything["immunisations"] == [{"vaccine": "流感疫苗", "date": "20261101"}]
    assert everything["allergies"] == [{"allergen": "花粉", "reaction": "鼻炎"}]
    assert everything["outpatient"][0]["institution_name"] == "西安市第四医院"
    assert everything["inpatient"][0]["discharge_diagnosis"] == "阑尾炎"
    assert card.read_photo() == b"\xff\xd8photo"


def test_protected_read_without_auth_is_refused_through_the_reader(pcsc_devices):
    from terminals.chip import apdu as A

    _, card_t, _ = pcsc_devices
    channel = Channel(card_t)
    card_t.connect()
    channel.send(A.select(0xDF02))
    channel.send(A.select(0xEF08))
    with pytest.raises(SecurityStatusNotSatisfied):
        channel.send(A.read_record(1))
