"""Demo data of the vendors app (called by `manage.py seed_demo`; demo only, idempotent).

At the ministry: eight filed manufacturers and sixteen products, entered through the real actions (one
revoked, one suspended, one expired). At the province and the city: the same filings applied with
`filing_apply` as if synced from the ministry (deterministic payloads), which is what those nodes show: a
read-only copy. Of the demo city's two card makers, 陕西秦川金卡制造有限公司 has valid card filings and
西安长城智能卡科技有限公司 only a revoked one (and a reader, which is no card), so the admin flags it. The
card makers' codes are random per node, so the city's makers are matched by name (selectors). At the city:
a few dozen actual-use rows across its hospitals and banks.
"""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings
from django.utils import timezone
from stdnum.cn import uscc

from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.choices import Channel
from registry.models import Region
from vendors import actions
from vendors.choices import ActualUseStatus, FilingStatus, ProductType
from vendors.models import ActualUse, FiledProduct, Manufacturer

SEED = "hc-demo-vendors"
VALID_YEARS = 5

# (name, region, code body after "91" + region, address, contact person, phone)
MANUFACTURERS = [
    ("陕西秦川金卡制造有限公司", "610116", "MA01QC017", "西安市长安区航天中路88号", "孙工", "029-85690211"),
    ("西安长城智能卡科技有限公司", "610113", "MA01CC021", "西安市雁塔区科技路27号", "周工", "029-88326514"),
    (
        "陕西航天金卡信息技术有限公司",
        "610113",
        "MA01HT035",
        "西安市雁塔区丈八一路10号",
        "钱工",
        "029-81887620",
    ),
    (
        "深圳华卡智能科技有限公司",
        "440305",
        "MA01HK048",
        "深圳市南山区科技园高新南一道9号",
        "黄工",
        "0755-86530912",
    ),
    ("北京中健芯微电子有限公司", "110108", "MA01JX052", "北京市海淀区上地信息路26号", "刘工", "010-62987731"),
    ("上海申康自助设备有限公司", "310115", "MA01PK066", "上海市浦东新区张江路665号", "陈工", "021-50276318"),
    (
        "江苏金陵读写器技术有限公司",
        "320114",
        "MA01JL073",
        "南京市雨花台区软件大道101号",
        "吴工",
        "025-52108836",
    ),
    (
        "成都蜀信智能终端有限公司",
        "510107",
        "MA01TX089",
        "成都市武侯区天府大道中段1268号",
        "杨工",
        "028-85214470",
    ),
]
# (manufacturer index, type, name, model, filing number, years ago filed, month, status, reason, test report)
PRODUCTS = [
    (0, ProductType.USER_CARD, "居民健康卡(CPU卡)", "QC-HC01", "JKKBA-QC-001", 2, 3, "valid", "", "NITS-2023-0411"),
    (0, ProductType.SAM_CARD, "居民健康卡SAM卡", "QC-SAM02", "JKKBA-QC-002", 2, 3, "valid", "", "NITS-2023-0412"),
    (1, ProductType.USER_CARD, "居民健康卡(CPU卡)", "CC-HC2018", "JKKBA-CC-001", 4, 6, "revoked", "抽检不合格，撤销备案", "NITS-2021-0198"),
    (1, ProductType.READER, "桌面式读写器", "CC-R300", "JKKBA-CC-002", 1, 9, "valid", "", "NITS-2024-0733"),
    (2, ProductType.USER_CARD, "居民健康卡(双界面CPU卡)", "HT-HC05", "JKKBA-HT-001", 3, 5, "valid", "", "NITS-2022-0307"),
    (2, ProductType.CHIP_OS, "健康卡芯片操作系统", "HT-COS3.0", "JKKBA-HT-002", 3, 5, "valid", "", "NITS-2022-0308"),
    (3, ProductType.USER_CARD, "居民健康卡(CPU卡)", "HK-JK200", "JKKBA-HK-001", 1, 2, "valid", "", "NITS-2024-0120"),
    (3, ProductType.CHIP_OS, "健康卡COS", "HK-COS2", "JKKBA-HK-002", 2, 11, "suspended", "检测报告复核中，暂停备案", "NITS-2023-0955"),
    (4, ProductType.CHIP_OS, "安全芯片及COS", "ZJ-SC16", "JKKBA-ZJ-001", 2, 7, "valid", "", "NITS-2023-0621"),
    (4, ProductType.SAM_CARD, "PSAM卡", "ZJ-PSAM1", "JKKBA-ZJ-002", 6, 4, "valid", "", "NITS-2019-0266"),
    (5, ProductType.KIOSK, "自助发卡机", "SK-K800", "JKKBA-SK-001", 1, 4, "valid", "", "NITS-2024-0318"),
    (5, ProductType.KIOSK, "自助查询终端", "SK-Q300", "JKKBA-SK-002", 2, 8, "valid", "", "NITS-2023-0702"),
    (6, ProductType.READER, "非接触式读写器", "JL-R10", "JKKBA-JL-001", 3, 1, "valid", "", "NITS-2022-0045"),
    (6, ProductType.READER, "双界面读写器", "JL-R20", "JKKBA-JL-002", 1, 6, "valid", "", "NITS-2024-0517"),
    (7, ProductType.READER, "移动支付终端", "SX-POS6", "JKKBA-SX-001", 2, 10, "valid", "", "NITS-2023-0880"),
    (7, ProductType.KIOSK, "医院自助服务一体机", "SX-K9", "JKKBA-SX-002", 3, 9, "valid", "", "NITS-2022-0811"),
]  # fmt: skip


def manufacturer_code(region: str, body: str) -> str:
    head = f"91{region}{body}"
    return head + uscc.calc_check_digit(head)


def _filing_dates(years_ago: int, month: int) -> tuple[dt.date, dt.date]:
    filed = dt.date(timezone.localdate().year - years_ago, month, 15)
    return filed, filed.replace(year=filed.year + VALID_YEARS) - dt.timedelta(days=1)


def _at(day: dt.date) -> str:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(9, 30))).isoformat()


def filing_payloads() -> list[tuple[str, dict]]:
    """The ministry's filings as journal rows: what the lower tiers apply (deterministic for a given year)."""
    rows = []
    first_filed: dict[int, dt.date] = {}
    for product in PRODUCTS:
        maker, filed = product[0], _filing_dates(product[5], product[6])[0]
        first_filed[maker] = min(first_filed.get(maker, filed), filed)
    for index, (name, region, body, address, contact, phone) in enumerate(MANUFACTURERS):
        when = _at(first_filed[index])
        rows.append(
            (
                actions.MANUFACTURER_KIND,
                {
                    "name": name,
                    "code": manufacturer_code(region, body),
                    "address": address,
                    "contact_person": contact,
                    "phone": phone,
                    "status": FilingStatus.VALID.value,
                    "status_reason": "",
                    "region": region,
                    "status_changed_at": None,
                    "registered_at": when,
                    "changed_at": when,
                },
            )
        )
    for maker, ptype, name, model, number, years, month, status, reason, report in PRODUCTS:
        filed, until = _filing_dates(years, month)
        changed = filed + dt.timedelta(days=200) if status != "valid" else filed
        rows.append(
            (
                actions.PRODUCT_KIND,
                {
                    "product_type": ptype.value,
                    "name": name,
                    "model": model,
                    "filing_number": number,
                    "test_report": report,
                    "status": status,
                    "status_reason": reason,
                    "manufacturer": manufacturer_code(MANUFACTURERS[maker][1], MANUFACTURERS[maker][2]),
                    "filing_date": filed.isoformat(),
                    "valid_until": until.isoformat(),
                    "status_changed_at": _at(changed) if status != "valid" else None,
                    "registered_at": _at(filed),
                    "changed_at": _at(changed),
                },
            )
        )
    return rows


def seed_ministry(actor) -> int:
    created = 0
    makers = {}
    for name, region, body, address, contact, phone in MANUFACTURERS:
        code = manufacturer_code(region, body)
        maker = Manufacturer.objects.filter(code=code).first()
        if maker is None:
            maker = actions.manufacturer_register(
                actor=actor,
                code=code,
                name=name,
                region=Region.objects.get(code=region),
                address=address,
                contact_person=contact,
                phone=phone,
            )
            created += 1
        makers[code] = maker
    for maker_index, ptype, name, model, number, years, month, status, reason, report in PRODUCTS:
        product = FiledProduct.objects.filter(filing_number=number).first()
        if product is None:
            filed, until = _filing_dates(years, month)
            product = actions.product_register(
                actor=actor,
                manufacturer=makers[manufacturer_code(*MANUFACTURERS[maker_index][1:3])],
                product_type=ptype,
                name=name,
                model=model,
                filing_number=number,
                filing_date=filed,
                valid_until=until,
                test_report=report,
            )
            created += 1
        # Once only: a product someone reinstated since (its status changed before) stays as it is.
        if status != FilingStatus.VALID and product.status_changed_at is None:
            perform = actions.product_revoke if status == FilingStatus.REVOKED else actions.product_suspend
            perform(actor=actor, product=product, reason=reason)
    return created


def seed_copy() -> int:
    """Apply the ministry's filings as sync would; unchanged payloads write nothing."""
    sync = Actor.system(channel=Channel.SYNC, label="seed_demo: filings as synced from the ministry")
    before = Manufacturer.objects.count() + FiledProduct.objects.count()
    for kind, payload in filing_payloads():
        actions.filing_apply(actor=sync, kind=kind, payload=payload)
    return Manufacturer.objects.count() + FiledProduct.objects.count() - before


# Which products an institution of a kind uses, and how many: (product type, low, high).
HOSPITAL_USE = [(ProductType.READER, 4, 60), (ProductType.SAM_CARD, 4, 60), (ProductType.KIOSK, 1, 8)]
CLINIC_USE = [(ProductType.READER, 1, 3), (ProductType.SAM_CARD, 1, 3)]
BANK_USE = [(ProductType.USER_CARD, 5000, 60000), (ProductType.READER, 20, 200), (ProductType.KIOSK, 5, 40)]


def seed_actual_use(actor) -> int:
    rng = random.Random(SEED)
    valid = list(FiledProduct.objects.valid().order_by("filing_number"))
    by_type = {ptype: [p for p in valid if p.product_type == ptype] for ptype in ProductType.values}
    hospitals = list(
        MedicalInstitution.objects.filter(status="active", category__endswith="hospital").order_by("name")
    )
    others = list(
        MedicalInstitution.objects.filter(
            status="active", category__in=["community_centre", "township_centre", "maternal_child"]
        ).order_by("name")
    )
    banks = list(FinancialInstitution.objects.filter(status="active").order_by("name"))
    chosen = (
        [(h, HOSPITAL_USE) for h in rng.sample(hospitals, min(14, len(hospitals)))]
        + [(o, CLINIC_USE) for o in rng.sample(others, min(10, len(others)))]
        + [(b, BANK_USE) for b in banks]
    )
    today = timezone.localdate()
    created = 0
    for institution, uses in chosen:
        for ptype, low, high in uses:
            if not by_type.get(ptype) or rng.random() < 0.2:
                continue
            product = rng.choice(by_type[ptype])
            quantity = rng.randint(low, high)
            since = max(product.filing_date, today - dt.timedelta(days=rng.randint(30, 1200)))
            field = (
                "medical_institution"
                if isinstance(institution, MedicalInstitution)
                else "financial_institution"
            )
            if ActualUse.objects.filter(
                **{field: institution}, product=product, status=ActualUseStatus.IN_USE
            ).exists():
                continue
            actions.actual_use_register(
                actor=actor, institution=institution, product=product, quantity=quantity, since=since
            )
            created += 1
    return created


def seed(*, actor, stdout) -> str:
    if settings.HC_TIER == "ministry":
        return f"{seed_ministry(actor)} filings entered"
    applied = seed_copy()
    uses = seed_actual_use(actor) if settings.HC_TIER == "city" else 0
    return f"{applied} filings applied as synced, {uses} actual-use registrations"
