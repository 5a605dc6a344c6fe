"""Fixtures of the stats tests: Cards I data made through the real actions, and a helper to run each step."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from stdnum.cn import ric

from cards import actions
from cards.choices import ApplicationChannel, CardStatus
from cards.models import Card
from institutions.models import CardMaker
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import Region
from tests.institutions.conftest import make_institution, make_uscc  # noqa: F401

_people = itertools.count(1)
_chips = itertools.count(1)


def unique_id_number(county: str) -> str:
    """A valid ID number never used before in this run (the birth date carries the counter)."""
    n = next(_people)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=n // 90)
    body = f"{county}{born:%Y%m%d}{n % 90 + 10:02d}1"
    return body + ric.calc_check_digit(body + "0")


class CardsWorld:
    """Cards I actions as one clerk of the province would run them, each step tolerant of refusals."""

    def __init__(self, actor, hospitals: dict[str, object], makers: list[CardMaker]):
        self.actor = actor
        self.hospitals = hospitals
        self.makers = makers

    def apply(self, county: str, at_hospital: bool = True):
        holder = actions.holder_register(
            actor=self.actor, document_number=unique_id_number(county), name="王小明"
        )
        return actions.application_submit(
            actor=self.actor,
            resident=holder,
            channel=ApplicationChannel.COUNTER,
            institution=self.hospitals[county] if at_hospital else None,
        )

    def produce(self, city: str, maker_index: int, fail_every: int = 0):
        maker = self.makers[maker_index % len(self.makers)]
        try:
            plan = actions.plan_generate(
                actor=self.actor, card_maker=maker, region=Region.objects.get(code=city), size_cap=50
            )
        except DomainError:
            return None  # nothing to plan
        actions.plan_submit(actor=self.actor, plan=plan)
        actions.plan_start(actor=self.actor, plan=plan)
        rows = []
        for i, item in enumerate(plan.items.select_related("application__resident").order_by("id")):
            failed = fail_every and i % fail_every == 0
            rows.append(
                {
                    "item_id": item.pk,
                    "card_no": item.application.resident.document_number,
                    "result": "failed" if failed else "produced",
                    "chip_serial": "" if failed else f"AC{next(_chips):08d}",
                    "failure_reason": "chip fault" if failed else "",
                }
            )
        actions.plan_return_apply(actor=self.actor, plan=plan, rows=rows)
        return plan

    def stock_in(self, plan):
        try:
            actions.stock_in_record(
                actor=self.actor, plan=plan, responsible_unit="卡管中心", responsible_person="张库管"
            )
        except (DomainError, IllegalTransition):
            pass

    def deliver(self, county: str):
        hospital = self.hospitals[county]
        cards = list(
            Card.objects.filter(status=CardStatus.IN_STOCK, region__code__startswith=county[:4])[:20]
        )
        if not cards:
            return
        stock_out = actions.stock_out_record(
            actor=self.actor,
            institution=hospital,
            cards=cards,
            responsible_unit="卡管中心",
            responsible_person="李",
        )
        actions.shipment_update(
            actor=self.actor, shipment=stock_out.shipment, status="shipped", waybill="SF1"
        )
        actions.shipment_update(actor=self.actor, shipment=stock_out.shipment, status="delivered")

    def collect(self, how_many: int):
        for card in Card.objects.filter(status=CardStatus.AWAITING_COLLECTION).order_by("id")[:how_many]:
            actions.card_collect(
                actor=self.actor,
                card=card,
                identity_document_type="01",
                identity_document_number_seen=card.resident.document_number,
            )

    def onsite(self, county: str):
        application = self.apply(county)
        card = actions.card_issue_onsite_allocate(
            actor=self.actor, application=application, institution=self.hospitals[county]
        )
        actions.card_issue_onsite_complete(actor=self.actor, card=card, chip_serial=f"OS{next(_chips):08d}")

    def withdraw(self):
        from cards.choices import ApplicationStatus
        from cards.models import Application

        application = Application.objects.filter(status=ApplicationStatus.APPROVED).order_by("-id").first()
        if application is not None:
            actions.application_withdraw(actor=self.actor, application=application, reason="不再需要")


COUNTIES = ("610113", "610102", "610302")


@pytest.fixture
def world(db, make_institution, system_actor):  # noqa: F811
    hospitals = {county: make_institution(county, name=f"{county}医院") for county in COUNTIES}
    makers = [
        make_institution("610100", model=CardMaker, name="甲制卡公司"),
        make_institution("610100", model=CardMaker, name="乙制卡公司"),
    ]
    return CardsWorld(system_actor, hospitals, makers)
