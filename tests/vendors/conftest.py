"""Vendors fixtures, built through the real actions: filings at the ministry, actual use at a city."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.test import override_settings
from django.utils import timezone

from registry.actors import Actor
from registry.choices import Channel
from registry.models import Region
from tests.institutions.conftest import bank, card_maker, make_institution, make_uscc  # noqa: F401 (fixtures)
from vendors import actions

_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def filing_hook_installed():
    """What VendorsConfig.ready() does at start-up, again: a test elsewhere that swaps the institutions hook
    and clears it afterwards (tests/institutions/test_actions.py) must not leave these tests without it."""
    from django.apps import apps

    apps.get_app_config("vendors").ready()


@pytest.fixture
def ministry(settings):
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"


@pytest.fixture
def city(settings):
    settings.HC_TIER, settings.HC_REGION = "city", "610100"


@pytest.fixture
def province(settings):
    settings.HC_TIER, settings.HC_REGION = "province", "610000"


@pytest.fixture
def sync_actor() -> Actor:
    return Actor.system(channel=Channel.SYNC, label="sync from the ministry")


def at_ministry():
    """Filings are entered at the ministry; tests of a lower tier make them there, then look from below."""
    return override_settings(HC_TIER="ministry", HC_REGION="100000")


@pytest.fixture
def make_manufacturer(db, system_actor):
    def make(name: str | None = None, *, code: str | None = None, region: str = "440305", **fields):
        with at_ministry():
            return actions.manufacturer_register(
                actor=system_actor,
                code=code or make_uscc(region, "91"),
                name=name or f"测试卡厂{next(_serial)}有限公司",
                region=Region.objects.get(code=region),
                **fields,
            )

    return make


@pytest.fixture
def make_product(db, system_actor, make_manufacturer):
    def make(manufacturer=None, *, product_type: str = "user_card", **fields):
        today = timezone.localdate()
        number = next(_serial)
        values = {
            "name": f"测试产品{number}",
            "model": f"M-{number}",
            "filing_number": f"JKKBA-T-{number:04d}",
            "filing_date": today - dt.timedelta(days=365),
            "valid_until": today + dt.timedelta(days=365),
            "test_report": f"NITS-{number}",
        }
        values.update(fields)
        with at_ministry():
            return actions.product_register(
                actor=system_actor,
                manufacturer=manufacturer or make_manufacturer(),
                product_type=product_type,
                **values,
            )

    return make


@pytest.fixture
def make_use(db, system_actor, make_product):
    """Register actual use at the city node (610100) unless told otherwise."""

    def make(
        institution, product=None, *, quantity: int = 1, since: dt.date | None = None, node="610100", **kw
    ):
        tier = "city" if node.endswith("00") and not node.endswith("0000") else "province"
        with override_settings(HC_TIER=tier, HC_REGION=node):
            return actions.actual_use_register(
                actor=system_actor,
                institution=institution,
                product=product or make_product(product_type="reader"),
                quantity=quantity,
                since=since or timezone.localdate() - dt.timedelta(days=30),
                **kw,
            )

    return make
