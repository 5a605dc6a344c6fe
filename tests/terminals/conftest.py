import pytest

from terminals.chip.apdu import Channel
from terminals.chip.emulator import VirtualHealthCard, VirtualSam
from terminals.chip.operations import HealthCard, Sam
from terminals.chip.transport import InProcessTransport

DEMO_ISSUER = {
    "card_type": "1",
    "spec_version": "0100",
    "issuer_name": "陕西省卫生健康委员会",
    "issuer_code": "61000000001",
    "issue_date": "20261121",
    "card_no": "610102199001011234",
    "security_code": "123",
    "city_code": "610100",
}
DEMO_HOLDER = {
    "name": "张三",
    "sex": 1,
    "ethnicity": "01",
    "birth_date": "19900101",
    "id_number": "610102199001011234",
}


@pytest.fixture
def virtual_card():
    return VirtualHealthCard(city_code="610100", cn=bytes.fromhex("0102030405060708"))


@pytest.fixture
def virtual_sam():
    return VirtualSam()


@pytest.fixture
def card_channel(virtual_card):
    transport = InProcessTransport(virtual_card)
    transport.connect()
    return Channel(transport, trace=[])


@pytest.fixture
def sam(virtual_sam):
    transport = InProcessTransport(virtual_sam)
    transport.connect()
    sam = Sam(Channel(transport, trace=[]))
    sam.verify_pin(b"\x12\x34\x56")
    return sam


@pytest.fixture
def blank_card(card_channel, sam, virtual_card):
    return HealthCard(card_channel, sam, virtual_card.atr, city_code="610100")


@pytest.fixture
def health_card(blank_card):
    blank_card.personalise(issuer=DEMO_ISSUER, holder=DEMO_HOLDER, card={"expiry": "20361121"})
    return blank_card
