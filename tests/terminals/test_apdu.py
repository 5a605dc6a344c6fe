"""APDU encoding, status words as named errors, GET RESPONSE on 61xx and the re-issue on 6Cxx."""

import pytest

from terminals.chip import apdu as A
from terminals.chip.apdu import Apdu, Channel


def test_apdu_bytes_and_parse():
    assert A.select(0xDDF1).to_bytes() == bytes.fromhex("00A4000002DDF1")
    assert A.get_challenge().to_bytes() == bytes.fromhex("0084000008")
    assert A.read_record(3).to_bytes() == bytes.fromhex("00B2030400")
    cmd = Apdu(0x80, 0xFA, 0, 0, b"\x01" * 16, 0x10)
    assert Apdu.parse(cmd.to_bytes()) == cmd


def test_status_words_are_named():
    assert isinstance(A.error_for(0x6982), A.SecurityStatusNotSatisfied)
    assert isinstance(A.error_for(0x6A82), A.FileNotFound)
    wrong = A.error_for(0x63C2)
    assert isinstance(wrong, A.WrongPin) and wrong.tries_left == 2
    assert "6A83" in str(A.error_for(0x6A83, "read"))


class Scripted:
    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def transmit(self, command):
        self.sent.append(command)
        return self.answers.pop(0)


def test_get_response_after_61xx():
    t = Scripted([bytes.fromhex("6110"), bytes(16) + b"\x90\x00"])
    assert Channel(t).send(A.sam_cipher(0, bytes(16))) == bytes(16)
    assert t.sent[1] == bytes.fromhex("00C0000010")


def test_reissue_after_6cxx():
    t = Scripted([bytes.fromhex("6C08"), b"12345678\x90\x00"])
    assert Channel(t).send(A.get_challenge(4)) == b"12345678"
    assert t.sent[1] == bytes.fromhex("0084000008")


def test_error_raised():
    with pytest.raises(A.FileNotFound):
        Channel(Scripted([bytes.fromhex("6A82")])).send(A.select(0x1234))


def test_emulated_card_answers_6c_and_channel_recovers(card_channel):
    assert len(card_channel.send(A.get_challenge(4))) == 8
