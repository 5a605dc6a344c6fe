"""Filings (ministry only, journaled), the read-only copy below (filing_apply), validity, deletion, actual use."""

import datetime as dt

import pytest
from django.utils import timezone

from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import AuditEntry, JournalEntry, Region
from tests.institutions.conftest import make_uscc
from vendors import actions
from vendors.models import ActualUse, FiledProduct, Manufacturer

from .conftest import at_ministry


def journal(kind):
    return list(JournalEntry.objects.filter(kind=kind).order_by("seq"))


# --- The ministry enters filings, and every change is journaled ------------------------------------------


@pytest.mark.django_db
def test_ministry_edits_are_audited_and_journaled_with_the_full_record(ministry, system_actor):
    code = make_uscc("440305", "91")
    maker = actions.manufacturer_register(
        actor=system_actor, code=code, name="深圳某某卡厂", region=Region.objects.get(code="440305")
    )
    today = timezone.localdate()
    product = actions.product_register(
        actor=system_actor,
        manufacturer=maker,
        product_type="user_card",
        name="居民健康卡",
        model="HC-1",
        filing_number="JKKBA-2026-001",
        filing_date=today,
        valid_until=today + dt.timedelta(days=1000),
        test_report="NITS-1",
    )
    actions.manufacturer_update(actor=system_actor, manufacturer=maker, phone="0755-1", reason="换号")
    actions.product_revoke(actor=system_actor, product=product, reason="抽检不合格")

    makers = journal("vendors.manufacturer")
    assert [row.key for row in makers] == [code, code]
    assert makers[-1].payload == Manufacturer.objects.get().journal_payload()
    assert makers[-1].payload["phone"] == "0755-1" and makers[-1].payload["region"] == "440305"
    products = journal("vendors.product")
    assert [row.key for row in products] == ["JKKBA-2026-001"] * 2
    last = products[-1].payload
    assert last["status"] == "revoked" and last["status_reason"] == "抽检不合格"
    assert (
        last["manufacturer"] == code and last["valid_until"] == (today + dt.timedelta(days=1000)).isoformat()
    )
    assert set(last) >= {"product_type", "name", "model", "filing_date", "test_report", "registered_at"}
    actions_audited = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "manufacturer.register",
        "manufacturer.update",
        "filedproduct.register",
        "filedproduct.revoke",
    } <= (actions_audited)


@pytest.mark.django_db
@pytest.mark.parametrize("tier,region", [("province", "610000"), ("city", "610100")])
def test_lower_tiers_cannot_enter_or_change_filings(settings, system_actor, make_product, tier, region):
    product = make_product()
    settings.HC_TIER, settings.HC_REGION = tier, region
    attempts = [
        lambda: actions.manufacturer_register(
            actor=system_actor,
            code=make_uscc("610113", "91"),
            name="x",
            region=Region.objects.get(code="610113"),
        ),
        lambda: actions.manufacturer_update(actor=system_actor, manufacturer=product.manufacturer, phone="1"),
        lambda: actions.product_update(actor=system_actor, product=product, name="y"),
        lambda: actions.product_revoke(actor=system_actor, product=product, reason="r"),
        lambda: actions.product_delete(actor=system_actor, product=product),
        lambda: actions.manufacturer_suspend(
            actor=system_actor, manufacturer=product.manufacturer, reason="r"
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as error:
            attempt()
        assert error.value.code == "filing_read_only" and error.value.status == 403
        assert "部" in error.value.message_zh
    product.refresh_from_db()
    assert product.status == "valid" and product.name.startswith("测试产品")


@pytest.mark.django_db
def test_filing_checks(ministry, system_actor, make_manufacturer, make_product):
    maker = make_manufacturer()
    with pytest.raises(DomainError) as bad_code:
        actions.manufacturer_register(
            actor=system_actor, code="91440305123", name="x", region=Region.objects.get(code="440305")
        )
    assert bad_code.value.code == "invalid_uscc"
    with pytest.raises(DomainError) as duplicate:
        actions.manufacturer_register(
            actor=system_actor, code=maker.code, name="x", region=Region.objects.get(code="440305")
        )
    assert duplicate.value.code == "duplicate_code"
    product = make_product(maker)
    with pytest.raises(DomainError) as same_number:
        make_product(maker, filing_number=product.filing_number)
    assert same_number.value.code == "duplicate_filing_number"
    today = timezone.localdate()
    with pytest.raises(DomainError) as dates:
        make_product(maker, filing_date=today, valid_until=today - dt.timedelta(days=1))
    assert dates.value.code == "filing_dates"


# --- Validity ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_revoked_product_stops_counting_as_valid_and_revocation_is_final(
    ministry, system_actor, make_product
):
    product = make_product()
    assert product.is_valid_on() and FiledProduct.objects.valid().filter(pk=product.pk).exists()
    actions.product_revoke(actor=system_actor, product=product, reason="抽检不合格")
    product.refresh_from_db()
    assert product.status == "revoked" and not product.is_valid_on()
    assert not FiledProduct.objects.valid().exists()
    with pytest.raises(IllegalTransition) as error:
        actions.product_reinstate(actor=system_actor, product=product, reason="复核")
    assert "撤销" in error.value.message_zh


@pytest.mark.django_db
def test_suspension_expiry_and_the_manufacturer_status_all_end_validity(ministry, system_actor, make_product):
    today = timezone.localdate()
    suspended, expired, future, other = (
        make_product(),
        make_product(filing_date=today - dt.timedelta(days=900), valid_until=today - dt.timedelta(days=1)),
        make_product(filing_date=today + dt.timedelta(days=3), valid_until=today + dt.timedelta(days=900)),
        make_product(),
    )
    actions.product_suspend(actor=system_actor, product=suspended, reason="复核中")
    assert list(FiledProduct.objects.valid()) == [other]
    actions.product_reinstate(actor=system_actor, product=suspended, reason="复核通过")
    assert set(FiledProduct.objects.valid()) == {other, suspended}
    actions.manufacturer_suspend(actor=system_actor, manufacturer=other.manufacturer, reason="整改")
    assert list(FiledProduct.objects.valid()) == [suspended]
    assert not expired.is_valid_on() and not future.is_valid_on()
    assert future.is_valid_on(today + dt.timedelta(days=3))


# --- Delete only what nothing refers to --------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_is_refused_while_referenced_and_tells_to_revoke(
    ministry, system_actor, make_product, make_institution, make_use
):
    product = make_product(product_type="reader")
    with pytest.raises(DomainError) as maker_error:
        actions.manufacturer_delete(actor=system_actor, manufacturer=product.manufacturer)
    assert maker_error.value.code == "filing_referenced" and "撤销" in maker_error.value.message_zh

    make_use(make_institution("610113"), product)
    journal_before = JournalEntry.objects.count()
    with pytest.raises(DomainError) as product_error:
        actions.product_delete(actor=system_actor, product=product)
    assert product_error.value.code == "filing_referenced"
    assert "Revoke" in product_error.value.message_en
    assert FiledProduct.objects.filter(pk=product.pk).exists()
    assert JournalEntry.objects.count() == journal_before  # the refused delete left nothing behind

    spare = make_product(product.manufacturer)
    actions.product_delete(actor=system_actor, product=spare, reason="录入错误")
    assert not FiledProduct.objects.filter(pk=spare.pk).exists()
    gone = JournalEntry.objects.filter(kind="vendors.product", key=spare.filing_number).last()
    assert gone.op == "delete" and gone.payload["filing_number"] == spare.filing_number
    assert AuditEntry.objects.filter(action="filedproduct.delete", reason="录入错误").exists()


# --- The read-only copy below the ministry -------------------------------------------------------------------


def manufacturer_payload(code="91440305MA01QC0171", **changes):
    payload = {
        "name": "深圳某某卡厂",
        "code": code,
        "address": "深圳市南山区",
        "contact_person": "黄工",
        "phone": "0755-1",
        "status": "valid",
        "status_reason": "",
        "region": "440305",
        "status_changed_at": None,
        "registered_at": "2024-03-15T09:30:00+08:00",
        "changed_at": "2024-03-15T09:30:00+08:00",
    }
    return {**payload, **changes}


def product_payload(maker_code, **changes):
    payload = {
        "product_type": "user_card",
        "name": "居民健康卡",
        "model": "HC-1",
        "filing_number": "JKKBA-2024-001",
        "test_report": "NITS-1",
        "status": "valid",
        "status_reason": "",
        "manufacturer": maker_code,
        "filing_date": "2024-03-15",
        "valid_until": (timezone.localdate() + dt.timedelta(days=300)).isoformat(),
        "status_changed_at": None,
        "registered_at": "2024-03-15T09:30:00+08:00",
        "changed_at": "2024-03-15T09:30:00+08:00",
    }
    return {**payload, **changes}


@pytest.fixture
def maker_code():
    return make_uscc("440305", "91")


@pytest.mark.django_db
def test_filing_apply_is_idempotent_and_rejournals(city, sync_actor, maker_code):
    maker = manufacturer_payload(maker_code)
    product = product_payload(maker_code)
    for _round in range(2):
        actions.filing_apply(actor=sync_actor, kind="vendors.manufacturer", payload=maker)
        actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=product)
    assert Manufacturer.objects.count() == 1 and FiledProduct.objects.count() == 1
    assert AuditEntry.objects.filter(action__endswith=".apply").count() == 2
    rows = JournalEntry.objects.order_by("seq")
    assert [(r.kind, r.key, r.payload) for r in rows] == [
        ("vendors.manufacturer", maker_code, maker),
        ("vendors.product", "JKKBA-2024-001", product),
    ]
    copy = FiledProduct.objects.get()
    assert copy.is_valid_on() and copy.manufacturer.code == maker_code
    assert copy.journal_payload()["registered_at"].startswith("2024-03-15T01:30:00")  # the same instant, UTC

    revoked = {
        **product,
        "status": "revoked",
        "status_reason": "抽检不合格",
        "changed_at": "2025-01-02T10:00:00+08:00",
    }
    actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=revoked)
    actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=revoked)
    copy.refresh_from_db()
    assert copy.status == "revoked" and not copy.is_valid_on()
    assert AuditEntry.objects.filter(action="filedproduct.apply").count() == 2
    assert JournalEntry.objects.filter(kind="vendors.product").last().payload == revoked


@pytest.mark.django_db
def test_the_ministrys_own_payload_applies_to_an_identical_copy_as_no_change(
    settings, system_actor, sync_actor, make_product
):
    make_product()  # entered at the ministry: one manufacturer row and one product row journaled
    rows = list(JournalEntry.objects.filter(kind__startswith="vendors.").order_by("seq"))
    settings.HC_TIER, settings.HC_REGION = "province", "610000"
    before = (AuditEntry.objects.count(), JournalEntry.objects.count())
    for row in rows:
        actions.filing_apply(actor=sync_actor, kind=row.kind, payload=row.payload)
    assert (AuditEntry.objects.count(), JournalEntry.objects.count()) == before


@pytest.mark.django_db
def test_filing_apply_refusals(settings, city, system_actor, sync_actor, maker_code):
    with pytest.raises(DomainError) as unknown_maker:
        actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=product_payload(maker_code))
    assert unknown_maker.value.code == "filing_manufacturer_unknown"
    with pytest.raises(DomainError) as web:
        actions.filing_apply(
            actor=system_actor, kind="vendors.manufacturer", payload=manufacturer_payload(maker_code)
        )
    assert web.value.code == "filing_apply_channel"
    with pytest.raises(DomainError) as broken:
        actions.filing_apply(
            actor=sync_actor,
            kind="vendors.manufacturer",
            payload=manufacturer_payload(maker_code, status="gone"),
        )
    assert broken.value.code == "filing_payload_invalid"
    with pytest.raises(DomainError) as kind:
        actions.filing_apply(actor=sync_actor, kind="vendors.other", payload={})
    assert kind.value.code == "filing_kind_unknown"
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    with pytest.raises(DomainError) as source:
        actions.filing_apply(
            actor=sync_actor, kind="vendors.manufacturer", payload=manufacturer_payload(maker_code)
        )
    assert source.value.code == "filing_apply_at_source"


@pytest.mark.django_db
def test_a_synced_delete_removes_the_copy_unless_something_here_refers_to_it(
    city, sync_actor, maker_code, make_institution, system_actor
):
    actions.filing_apply(
        actor=sync_actor, kind="vendors.manufacturer", payload=manufacturer_payload(maker_code)
    )
    product = product_payload(maker_code, product_type="reader")
    actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=product)
    actions.actual_use_register(
        actor=system_actor,
        institution=make_institution("610113"),
        product=FiledProduct.objects.get(),
        quantity=2,
        since=timezone.localdate(),
    )
    with pytest.raises(DomainError) as error:
        actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=product, op="delete")
    assert error.value.code == "filing_referenced"
    ActualUse.objects.all().delete()  # the registration is gone (test setup), so the delete can apply
    actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=product, op="delete")
    actions.filing_apply(actor=sync_actor, kind="vendors.product", payload=product, op="delete")
    assert not FiledProduct.objects.exists()
    assert JournalEntry.objects.filter(kind="vendors.product", op="delete").count() == 1


# --- Actual use ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_actual_use_register_update_retire_is_journaled_upward(
    city, system_actor, make_institution, make_product
):
    hospital = make_institution("610113")
    product = make_product(product_type="kiosk")
    use = actions.actual_use_register(
        actor=system_actor, institution=hospital, product=product, quantity=3, since=timezone.localdate()
    )
    assert use.region_id == "610113"
    actions.actual_use_update(actor=system_actor, use=use, quantity=5, reason="新增两台")
    actions.actual_use_retire(actor=system_actor, use=use, reason="设备报废")
    rows = journal("vendors.actualuse")
    assert [r.key for r in rows] == [str(use.uid)] * 3
    assert [r.payload["quantity"] for r in rows] == [3, 5, 5]
    assert rows[-1].payload["status"] == "retired"
    assert (
        rows[0].payload["institution"] == hospital.code
        and rows[0].payload["product"] == product.filing_number
    )
    with pytest.raises(DomainError) as retired:
        actions.actual_use_update(actor=system_actor, use=use, quantity=6)
    assert retired.value.code == "actual_use_retired"


@pytest.mark.django_db
def test_actual_use_refusals(settings, city, system_actor, make_institution, make_product, make_user):
    hospital = make_institution("610113")
    today = timezone.localdate()
    revoked = make_product()
    with at_ministry():
        actions.product_revoke(actor=system_actor, product=revoked, reason="撤销")
    with pytest.raises(DomainError) as invalid:
        actions.actual_use_register(
            actor=system_actor, institution=hospital, product=revoked, quantity=1, since=today
        )
    assert invalid.value.code == "product_not_valid"
    good = make_product()
    with pytest.raises(DomainError) as zero:
        actions.actual_use_register(
            actor=system_actor, institution=hospital, product=good, quantity=0, since=today
        )
    assert zero.value.code == "quantity_invalid"
    with pytest.raises(DomainError) as future:
        actions.actual_use_register(
            actor=system_actor,
            institution=hospital,
            product=good,
            quantity=1,
            since=today + dt.timedelta(days=1),
        )
    assert future.value.code == "since_future"
    baoji = make_institution("610302")
    with pytest.raises(DomainError) as outside:
        actions.actual_use_register(
            actor=system_actor, institution=baoji, product=good, quantity=1, since=today
        )
    assert outside.value.code == "institution_out_of_scope"
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    with pytest.raises(DomainError) as ministry:
        actions.actual_use_register(
            actor=system_actor, institution=hospital, product=good, quantity=1, since=today
        )
    assert ministry.value.code == "actual_use_read_only"


@pytest.mark.django_db
def test_actual_use_apply_above_is_idempotent(
    settings, city, system_actor, sync_actor, make_institution, make_product
):
    use = actions.actual_use_register(
        actor=system_actor,
        institution=make_institution("610113"),
        product=make_product(),
        quantity=4,
        since=timezone.localdate(),
    )
    payload = JournalEntry.objects.filter(kind="vendors.actualuse").get().payload
    settings.HC_TIER, settings.HC_REGION = "province", "610000"
    before = JournalEntry.objects.count()
    assert actions.actual_use_apply(actor=sync_actor, payload=payload) == use  # same rows: nothing to do
    assert JournalEntry.objects.count() == before
    changed = {**payload, "quantity": 9}
    actions.actual_use_apply(actor=sync_actor, payload=changed)
    actions.actual_use_apply(actor=sync_actor, payload=changed)
    assert ActualUse.objects.get().quantity == 9
    assert JournalEntry.objects.count() == before + 1
