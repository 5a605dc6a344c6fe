"""Demo data of the cards app (called by `manage.py seed_demo`; demo only, idempotent). City node only.

Three thousand holders across the city's counties (valid ID numbers, names, sex and age as a Chinese city
has them, phones, addresses, emergency contacts), imported in one bulk batch as the regional platform's file
would be; then a few hundred of them apply through every channel, and the applications travel the real
actions to cards in every Cards I state: production plans with a 97-99 % success rate (the failures go into
the next plan), stock-in, stock-out to the county hospitals, deliveries (most delivered, one in transit, some
cards still in stock), collection at the desk (about two thirds collected, the rest waiting), on-site issuance
(completed, in progress, aborted), and batch applications waiting for the city or the province, some
rejected.

Every write is a real action, one transaction each, so the seed costs what the clerks' work would cost: the
sizes below keep `make demo` at about a minute on two cores (about 10 s for this module on SQLite).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from stdnum.cn import ric

from cards import actions
from cards.actions.holders import clean_id_number
from cards.choices import (
    AddressType,
    ApplicantKind,
    ApplicationChannel,
    CancellationReason,
    CardStatus,
    ContactRelation,
    DocumentType,
    Ethnicity,
    ReplacementReason,
    ReviewDecision,
    ShipmentStatus,
)
from cards.models import Application, Card, PlanItem, ProductionPlan, Resident
from institutions.models import CardMaker, FinancialInstitution, MedicalInstitution
from registry.errors import DomainError
from registry.models import Region

SEED = "hc-demo-cards"
HOLDERS = 3000
APPLICANTS = 300  # counter, kiosk, bank and online applications
ONSITE = 36  # on-site issuance at a county hospital's counter: 30 completed, 3 in progress, 3 aborted
BATCH_SIZE = 20
COLLECTED_SHARE = 0.66  # of the cards delivered to an issuing point
# (card maker index, size cap, how far the plan goes, failures in its return file)
PLANS = [
    (0, 140, "delivered", 3),  # 97.9 %
    (1, 90, "delivered", 2),  # 97.8 %
    (0, 40, "stocked", 1),  # 97.5 %, half of it still in stock
    (1, 40, "in_production", 0),
    (0, 25, "submitted", 0),  # and a few approved applications still wait for a plan
]
STREETS = [
    "东大街", "西大街", "南大街", "北大街", "长乐路", "含光路", "电子正街", "小寨东路", "曲江池路", "雁塔北路",
    "丈八东路", "鱼化寨路", "张家堡路", "未央路", "凤城二路", "红庙坡路", "土门街", "桃园路", "枣园路",
    "纺织城路", "十里铺街", "韦曲南街", "郭杜路", "环山路", "人民路", "解放路", "建设路", "文化路",
]  # fmt: skip
ESTATES = ["幸福小区", "锦园小区", "阳光花园", "翠华苑", "金色家园", "和平里", "春晓苑", "新村", "家属院"]
SURNAMES = (
    "王王王王李李李李张张张刘刘刘陈陈杨杨赵赵黄周吴徐孙马马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶"
)
GIVEN = {
    # (born before 1960, 1960-1989, 1990 and later) x (male, female)
    "old": (
        ["建国", "德福", "志强", "长林", "国华", "振华", "建军", "福生", "宝山", "树林", "文斌", "有才"],
        ["秀英", "桂兰", "淑珍", "玉兰", "凤英", "桂英", "秀兰", "翠花", "素芳", "春梅", "淑华", "玉珍"],
    ),
    "middle": (
        ["伟", "磊", "强", "军", "勇", "涛", "杰", "斌", "鹏", "刚", "建华", "海涛", "晓东", "立新", "卫东"],
        ["敏", "静", "丽", "艳", "娟", "芳", "娜", "霞", "燕", "红梅", "晓燕", "丽华", "海燕", "雪梅"],
    ),
    "young": (
        ["浩然", "子轩", "宇航", "俊杰", "浩宇", "子涵", "一鸣", "博文", "思远", "宇轩", "梓豪", "晨阳"],
        ["欣怡", "梓萱", "子涵", "雨桐", "一诺", "思涵", "佳怡", "诗涵", "婷婷", "梦瑶", "可馨", "雨欣"],
    ),
}
# Age bands (lower, upper, weight): roughly the city's population pyramid.
AGES = [
    (0, 6, 6),
    (7, 14, 9),
    (15, 24, 11),
    (25, 34, 16),
    (35, 44, 15),
    (45, 54, 16),
    (55, 64, 13),
    (65, 74, 9),
    (75, 92, 5),
]
ETHNICITIES = [(Ethnicity.HAN, 985), (Ethnicity.HUI, 9), (Ethnicity.MANCHU, 2), (Ethnicity.MONGOL, 1),
               (Ethnicity.TUJIA, 1), (Ethnicity.ZHUANG, 1), (Ethnicity.MIAO, 1)]  # fmt: skip
OCCUPATIONS = ["1", "2", "2", "3", "4", "4", "5", "6", "6", "8"]  # GB/T 6565 major groups
BATCHES = [
    # (title, county, applicant ages, how far the review got)
    ("雁塔区育才小学2026年秋季学生", "610113", (7, 12), "approved"),
    ("长安区王莽街道南豆角村", "610116", (40, 80), "city_approved"),
    ("未央区某电子科技公司员工", "610112", (22, 45), "submitted"),
    ("莲湖区夕阳红养老院", "610104", (65, 90), "approved"),
]
REJECTIONS = ["照片不符合要求，请重新采集", "身份证件已过期，请更换后重新申请", "申请表信息不完整"]
ABORTS = ["写卡失败：芯片无响应", "读卡器故障，持卡人改日再来", "写卡校验失败"]
LOSS_NOTES = ["乘公交车时遗失", "钱包被盗", "搬家时丢失", "不慎遗失"]
CANCELLATIONS = [
    (CancellationReason.REQUEST, "持卡人本人申请注销"),
    (CancellationReason.EMIGRATION, "持卡人已移居国外"),
    (CancellationReason.DUPLICATE, "重复发卡，注销后发的一张"),
]
PERSON_ENTRIES = [("冒用他人身份办卡，医保局认定", 365), ("骗取医保基金，暂停用卡", 0)]


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def _mobile(rng: random.Random) -> str:
    return rng.choice(["13", "15", "17", "18", "19"]) + "".join(rng.choice("0123456789") for _ in range(9))


def _id_number(rng: random.Random, county: str, born: dt.date, male: bool) -> str:
    sequence = rng.randrange(0, 100)
    sex_digit = rng.choice("13579" if male else "02468")
    body = f"{county}{born:%Y%m%d}{sequence:02d}{sex_digit}"
    return body + ric.calc_check_digit(body + "0")


def _valid(number: str) -> bool:
    # The project's own rule, not stdnum's birth-year check: ID numbers were first issued in the 1980s, so a
    # holder born in 1950 carries the code their county had then (a code still current here).
    try:
        clean_id_number(number)
    except DomainError:
        return False
    return True


def _name(rng: random.Random, born: dt.date, male: bool, surname: str | None = None) -> str:
    era = "old" if born.year < 1960 else "middle" if born.year < 1990 else "young"
    return (surname or rng.choice(SURNAMES)) + rng.choice(GIVEN[era][0 if male else 1])


def _address(rng: random.Random, county: Region) -> str:
    return (
        f"陕西省西安市{county.name}{rng.choice(STREETS)}{rng.randint(1, 399)}号"
        f"{rng.choice(ESTATES)}{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{rng.randint(101, 2802)}室"
    )


def holder_rows(rng: random.Random, counties: list[Region], count: int) -> list[dict]:
    """Holders as the regional platform's file has them: identity, two addresses, phones, contacts, status."""
    today = timezone.localdate()
    rows, seen = [], set()
    weights = [3 if c.code in ("610113", "610112", "610116", "610104", "610103") else 2 for c in counties]
    while len(rows) < count:
        county = rng.choices(counties, weights)[0]
        low, high, _weight = rng.choices(AGES, [band[2] for band in AGES])[0]
        born = today - dt.timedelta(days=rng.randint(low * 365 + 1, high * 365 + 364))
        male = rng.random() < 0.51
        number = _id_number(rng, county.code, born, male)
        if number in seen or not _valid(number):
            continue
        seen.add(number)
        age = (today - born).days // 365
        surname = rng.choice(SURNAMES)
        row = {
            "document_type": DocumentType.ID_CARD,
            "document_number": number,
            "name": _name(rng, born, male, surname),
            "ethnicity": _weighted(rng, ETHNICITIES),
            "address1_type": AddressType.HOUSEHOLD,
            "address1": _address(rng, county),
            "contacts": _contacts(rng, born, male, surname),
        }
        if rng.random() < 0.3:
            row.update(address2_type=AddressType.RESIDENCE, address2=_address(rng, rng.choice(counties)))
        if age >= 12:
            row["phone1"] = _mobile(rng)
        if rng.random() < 0.2:
            row["phone2"] = f"029-8{rng.randint(1000000, 9999999)}"
        row.update(_education_and_status(rng, age))
        if rng.random() < 0.6:
            row["health_record_no"] = f"{county.code}{rng.randint(10**9, 10**10 - 1)}"
        if county.code in ("610115", "610116", "610117", "610118", "610122", "610124") and rng.random() < 0.5:
            row["rural_coop_no"] = f"NH{county.code}{rng.randint(10**7, 10**8 - 1)}"
        rows.append(row)
    return rows


def _contacts(rng: random.Random, born: dt.date, male: bool, surname: str) -> list[dict]:
    today = timezone.localdate()
    age = (today - born).days // 365
    contacts = []
    if age < 18:
        contacts.append(
            {"name": surname + rng.choice(GIVEN["middle"][0]), "relation": ContactRelation.PARENT}
        )
        contacts.append(
            {
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN["middle"][1]),
                "relation": ContactRelation.PARENT,
            }
        )
    else:
        if age >= 24 and rng.random() < 0.75:
            era = "old" if born.year < 1960 else "middle" if born.year < 1990 else "young"
            contacts.append(
                {
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN[era][1 if male else 0]),
                    "relation": ContactRelation.SPOUSE,
                }
            )
        if age >= 50 and rng.random() < 0.7:
            contacts.append(
                {
                    "name": surname + rng.choice(GIVEN["young"][rng.randint(0, 1)]),
                    "relation": ContactRelation.CHILD,
                }
            )
        if rng.random() < 0.3:
            contacts.append(
                {"name": surname + rng.choice(GIVEN["middle"][0]), "relation": ContactRelation.SIBLING}
            )
    for contact in contacts:
        contact["phone"] = _mobile(rng)
    return contacts[:3]


def _education_and_status(rng: random.Random, age: int) -> dict:
    values = {}
    if 7 <= age <= 12:
        values["education"] = "8"
    elif 13 <= age <= 15:
        values["education"] = "7"
    elif age >= 16:
        values["education"] = rng.choices(
            "1234678", [3, 14, 12, 6, 22, 30, 13] if age < 60 else [0, 3, 4, 2, 12, 35, 44]
        )[0]
    if age >= 18:
        if age < 25:
            values["marital_status"] = rng.choices("12", [85, 15])[0]
        elif age < 35:
            values["marital_status"] = rng.choices("124", [35, 62, 3])[0]
        elif age < 70:
            values["marital_status"] = rng.choices("1234", [4, 88, 3, 5])[0]
        else:
            values["marital_status"] = rng.choices("234", [60, 38, 2])[0]
        values["occupation"] = "8" if age >= 62 else rng.choice(OCCUPATIONS)
    return values


# --- Applications and cards --------------------------------------------------------------------------------


class Demo:
    def __init__(self, *, actor, rng: random.Random, city: Region):
        self.actor, self.rng, self.city = actor, rng, city
        self.today = timezone.localdate()
        self.hospitals = {
            h.region_id: h
            for h in MedicalInstitution.objects.filter(
                region__parent=city, name__endswith="人民医院"
            ).order_by("code")
        }
        self.kiosks = defaultdict(list)
        for hospital in MedicalInstitution.objects.filter(
            region__parent=city, category__in=("general_hospital", "tcm_hospital")
        ):
            self.kiosks[hospital.region_id].append(hospital)
        self.banks = list(FinancialInstitution.objects.order_by("code"))
        self.makers = list(CardMaker.objects.order_by("code"))
        self.guardians: dict[int, str] = {}  # application id -> the guardian's ID number (to collect with)

    def age(self, resident: Resident) -> int:
        return (self.today - resident.birth_date).days // 365

    def guardian_fields(self, resident: Resident) -> dict:
        if self.age(resident) >= 16:
            return {}
        rng = self.rng
        male = rng.random() < 0.5
        born = resident.birth_date.replace(year=resident.birth_date.year - rng.randint(24, 36), day=1)
        number = _id_number(rng, resident.region_id, born, male)
        return {
            "applicant_kind": ApplicantKind.GUARDIAN,
            "guardian_name": resident.name[0] + rng.choice(GIVEN["middle"][0 if male else 1]),
            "guardian_document_type": DocumentType.ID_CARD,
            "guardian_document_number": number,
            "guardian_relation": ContactRelation.PARENT,
        }

    def submit(self, resident: Resident, channel: str, **kwargs) -> Application | None:
        fields = self.guardian_fields(resident)
        try:
            application = actions.application_submit(
                actor=self.actor, resident=resident, channel=channel, **fields, **kwargs
            )
        except DomainError:
            return None  # e.g. a guardian's generated number: the demo simply skips that holder
        if fields:
            self.guardians[application.pk] = fields["guardian_document_number"]
        return application

    def service_point(self, resident: Resident, channel: str) -> dict:
        if channel == ApplicationChannel.KIOSK:
            return {
                "institution": self.rng.choice(
                    self.kiosks.get(resident.region_id) or list(self.hospitals.values())
                )
            }
        if channel == ApplicationChannel.BANK and self.banks:
            return {"institution": self.rng.choice(self.banks)}
        return {}

    # --- the steps ---

    def regular(self, residents: list[Resident]) -> int:
        channels = [(ApplicationChannel.COUNTER, 40), (ApplicationChannel.KIOSK, 25), (ApplicationChannel.BANK, 20),
                    (ApplicationChannel.ONLINE, 15)]  # fmt: skip
        done = []
        for resident in residents:
            channel = _weighted(self.rng, channels)
            application = self.submit(resident, channel, **self.service_point(resident, channel))
            if application is not None:
                done.append(application)
        for application, reason in zip(
            done[-5:],
            ["本人放弃申领", "已在外地办理", "信息有误，重新申请", "重复提交", "家属代为撤回"],
            strict=False,
        ):
            actions.application_withdraw(actor=self.actor, application=application, reason=reason)
        return len(done)

    def batches(self, residents_by_age) -> int:
        count = 0
        for title, county, (low, high), reached in BATCHES:
            region = Region.objects.get(code=county)
            point = self.hospitals.get(county)
            batch = actions.batch_create(actor=self.actor, title=title, region=region, institution=point)
            members = residents_by_age(low, high, county)[:BATCH_SIZE]
            applications = [
                a
                for a in (
                    self.submit(r, ApplicationChannel.BATCH, batch=batch, institution=point) for r in members
                )
                if a
            ]
            count += len(applications)
            rejected = (
                applications[:3]
                if reached == "submitted"
                else applications[:1]
                if reached == "approved"
                else []
            )
            for application, reason in zip(rejected, REJECTIONS, strict=False):
                actions.application_review(
                    actor=self.actor, application=application, decision=ReviewDecision.REJECT, reason=reason
                )
            if reached == "submitted":
                continue
            for application in applications[len(rejected) :]:
                actions.application_review(
                    actor=self.actor, application=application, decision=ReviewDecision.APPROVE
                )
                if reached == "approved":
                    actions.application_review(
                        actor=self.actor, application=application, decision=ReviewDecision.APPROVE
                    )
        return count

    def plans(self) -> dict[str, int]:
        figures = defaultdict(int)
        for maker_index, cap, reach, failures in PLANS:
            if not self.makers:
                break
            try:
                plan = actions.plan_generate(
                    actor=self.actor,
                    card_maker=self.makers[maker_index % len(self.makers)],
                    region=self.city,
                    size_cap=cap,
                    note="演示数据",
                )
            except DomainError:
                break  # nothing left to plan
            figures["plans"] += 1
            if reach == "draft":
                continue
            plan = actions.plan_submit(actor=self.actor, plan=plan)
            if Path(settings.HC_NODE_KEY_FILE).exists():  # the file is signed with the node's key
                actions.plan_personalisation_file(actor=self.actor, plan=plan)
            if reach == "submitted":
                continue
            plan = actions.plan_start(actor=self.actor, plan=plan)
            if reach == "in_production":
                continue
            actions.plan_return_apply(actor=self.actor, plan=plan, rows=self.return_rows(plan, failures))
            plan.refresh_from_db()
            actions.stock_in_record(
                actor=self.actor,
                plan=plan,
                responsible_unit="西安市居民健康卡注册管理中心",
                responsible_person="张库管",
            )
            cards = list(Card.objects.filter(plan_item__plan=plan).select_related("resident").order_by("id"))
            if reach == "stocked":
                cards = cards[: len(cards) // 2]  # the rest stays in stock
            figures["dispatched"] += self.dispatch(cards)
        return figures

    def return_rows(self, plan: ProductionPlan, failures: int) -> list[dict]:
        items = list(PlanItem.objects.filter(plan=plan).order_by("id"))
        failed = set(self.rng.sample(range(len(items)), min(failures, len(items))))
        rows = []
        for index, item in enumerate(items):
            if index in failed:
                rows.append(
                    {
                        "item_id": item.pk,
                        "result": "failed",
                        "failure_reason": self.rng.choice(
                            ["芯片初始化失败", "个人化数据写入校验错误", "卡面印刷不合格"]
                        ),
                    }
                )
            else:
                serial = f"{self.rng.getrandbits(40):010X}"
                rows.append({"item_id": item.pk, "result": "produced", "chip_serial": serial})
        return rows

    def dispatch(self, cards: list[Card]) -> int:
        """Cards go to their holder's county hospital; all deliveries arrive but one, still in transit."""
        by_point = defaultdict(list)
        for card in cards:
            point = self.hospitals.get(card.resident.region_id) or next(iter(self.hospitals.values()))
            by_point[point].append(card)
        shipments = []
        for point, point_cards in sorted(by_point.items(), key=lambda pair: pair[0].code):
            stock_out = actions.stock_out_record(
                actor=self.actor,
                institution=point,
                cards=point_cards,
                responsible_unit="西安市居民健康卡注册管理中心",
                responsible_person="李发货",
            )
            shipments.append(stock_out.shipment)
        for index, shipment in enumerate(shipments):
            waybill = f"SF{self.rng.randint(10**11, 10**12 - 1)}"
            actions.shipment_update(
                actor=self.actor,
                shipment=shipment,
                status=ShipmentStatus.SHIPPED,
                waybill=waybill,
                courier="顺丰速运",
            )
            if index:  # the first delivery of each plan is still on its way
                actions.shipment_update(actor=self.actor, shipment=shipment, status=ShipmentStatus.DELIVERED)
        return len(cards)

    def collect(self) -> int:
        waiting = list(
            Card.objects.filter(status=CardStatus.AWAITING_COLLECTION)
            .select_related("resident", "application")
            .order_by("id")
        )
        chosen = [card for card in waiting if self.rng.random() < COLLECTED_SHARE]
        for card in chosen:
            guardian = self.guardians.get(card.application_id)
            actions.card_collect(
                actor=self.actor,
                card=card,
                identity_document_type=DocumentType.ID_CARD,
                identity_document_number_seen=guardian or card.resident.document_number,
                collected_by_guardian=guardian is not None,
            )
        return len(chosen)

    def onsite(self, residents: list[Resident]) -> int:
        done = 0
        for index, resident in enumerate(residents):
            point = self.hospitals.get(resident.region_id) or next(iter(self.hospitals.values()))
            application = self.submit(resident, ApplicationChannel.ONSITE, institution=point)
            if application is None:
                continue
            card = actions.card_issue_onsite_allocate(
                actor=self.actor, application=application, institution=point
            )
            if index % 12 == 5:
                continue  # the chip is being written right now
            if index % 12 == 11:
                actions.card_issue_onsite_abort(
                    actor=self.actor, card=card, reason=ABORTS[index % len(ABORTS)]
                )
                continue
            actions.card_issue_onsite_complete(
                actor=self.actor, card=card, chip_serial=f"{self.rng.getrandbits(40):010X}"
            )
            done += 1
        return done

    def maintenance(self) -> dict[str, int]:
        """Cards II on the active cards: losses (some found again), replacements on site and through
        production, cancellations, deaths from the registry (one corrected), manual and person entries."""
        rng, actor = self.rng, self.actor
        active = list(
            Card.objects.filter(status=CardStatus.ACTIVE)
            .select_related("resident", "medical_institution", "financial_institution")
            .order_by("id")
        )
        rng.shuffle(active)
        figures: dict[str, int] = defaultdict(int)

        def identity(card):
            return {"document_type": DocumentType.ID_CARD, "document_number": card.resident.document_number}

        def next_cards(count):
            chosen, active[:] = active[:count], active[count:]
            return chosen

        for index, card in enumerate(next_cards(8)):
            try:
                actions.card_report_loss(
                    actor=actor, card=card, note=rng.choice(LOSS_NOTES), **identity(card)
                )
            except DomainError:
                continue  # a child's card: the guardian reports it at the counter
            figures["lost"] += 1
            if index < 2:
                actions.card_unreport_loss(actor=actor, card=card, note="卡片已找回", **identity(card))
                figures["found"] += 1
            elif index < 5:
                actions.card_replace(
                    actor=actor,
                    card=card,
                    reason=ReplacementReason.LOST,
                    note="挂失后补卡",
                    new_chip_serial=f"{rng.getrandbits(40):010X}",
                    institution=card.issuing_point,
                )
                figures["replaced"] += 1
        for card in next_cards(2):
            try:
                actions.card_replace(
                    actor=actor, card=card, reason=ReplacementReason.DAMAGED, note="卡面破损"
                )
            except DomainError:
                continue
            figures["replaced"] += 1
        for card, (reason, note) in zip(next_cards(3), CANCELLATIONS, strict=False):
            actions.card_cancel(actor=actor, card=card, reason=reason, note=note)
            figures["cancelled"] += 1
        for index, card in enumerate(next_cards(3)):
            actions.death_record_apply(
                actor=actor,
                id_number=card.resident.document_number,
                name=card.resident.name,
                registry="公安人口死亡登记",
                record_id=f"SW{self.today:%Y%m}{index:05d}",
                died_on=self.today - dt.timedelta(days=3 + index),
            )
            figures["deaths"] += 1
            if index == 0:
                actions.death_record_correct(actor=actor, card=card, note="公安机关更正：同名误报，本人健在")
                figures["deaths"] -= 1
        for card in next_cards(1):
            actions.card_blacklist_add(actor=actor, card=card, note="医院报告疑似冒用，待核实")
        for resident, (reason, days) in zip(
            (card.resident for card in next_cards(2)), PERSON_ENTRIES, strict=False
        ):
            actions.person_blacklist_add(
                actor=actor,
                resident=resident,
                reason=reason,
                valid_until=self.today + dt.timedelta(days=days) if days else None,
            )
            figures["persons"] += 1
        return figures


def seed(*, actor, stdout) -> str:
    if settings.HC_TIER != "city":
        return "no holders (only the city node has holders)"
    if Application.objects.exists():
        return "cards already seeded"
    city = Region.objects.get(code=settings.HC_REGION)
    counties = list(
        Region.objects.filter(parent=city, level="county").exclude(name__endswith="市辖区").order_by("code")
    )
    with _fewer_fsyncs():
        return _seed(actor=actor, stdout=stdout, city=city, counties=counties)


@contextmanager
def _fewer_fsyncs():
    """SQLite (the demo's database) in WAL mode with synchronous=NORMAL: each of the seed's ~1,500 commits stays
    atomic and consistent, only the last ones could be lost on a power cut; the fsync per commit would cost
    more than the seed's own work on a slow disk. Restored afterwards; other databases (and a seed run inside
    a transaction, as in the tests) are left alone."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        before = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={int(before)}")


def _seed(*, actor, stdout, city: Region, counties: list[Region]) -> str:
    rng = random.Random(SEED)
    rows = holder_rows(rng, counties, HOLDERS)
    created, _updated = actions.holder_import_batch(actor=actor, rows=rows, reason="seed_demo")
    residents = list(
        Resident.objects.only(
            "id", "name", "document_type", "document_number", "birth_date", "region_id"
        ).order_by("id")
    )
    demo = Demo(actor=actor, rng=rng, city=city)
    pool = rng.sample(residents, len(residents))
    taken: set[int] = set()

    def take(count: int, predicate=lambda r: True) -> list[Resident]:
        chosen = []
        for resident in pool:
            if len(chosen) == count:
                break
            if resident.pk not in taken and predicate(resident):
                taken.add(resident.pk)
                chosen.append(resident)
        return chosen

    def by_age(low: int, high: int, county: str) -> list[Resident]:
        return take(BATCH_SIZE, lambda r: r.region_id == county and low <= demo.age(r) <= high)

    applied = demo.regular(take(APPLICANTS))
    applied += demo.batches(by_age)
    figures = demo.plans()
    collected = demo.collect()
    onsite = demo.onsite(take(ONSITE, lambda r: demo.age(r) >= 16))
    kept = demo.maintenance()
    uses = card_uses(actor=actor, rng=rng, city=city)
    states = ", ".join(f"{status} {count}" for status, count in sorted(_states().items()))
    return (
        f"{created} holders, {applied + ONSITE} applications, {figures['plans']} production plans, "
        f"{collected} cards collected at the desk, {onsite} issued on site; {kept['lost']} losses "
        f"({kept['found']} found again), {kept['replaced']} replacements, {kept['cancelled']} cancellations, "
        f"{kept['deaths']} deaths, {kept['persons']} persons blacklisted; {uses} card uses; cards by state: {states}"
    )


def _states() -> dict[str, int]:
    return dict(Card.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))


USE_WEEKS = 13  # a quarter of card use records before today
USE_SCENARIOS = [
    ("registration", 30),
    ("consultation", 30),
    ("pharmacy", 20),
    ("lab", 10),
    ("settlement", 7),
    ("inpatient_admission", 2),
    ("rural_coop_settlement", 1),
]


def card_uses(*, actor, rng: random.Random, city: Region) -> int:
    """A quarter of card uses at the city's hospitals by the cards in their holders' hands: one batch per hospital
    and week (batch ids are stable, so a second run is answered from the first), a few unknown cards rejected."""
    from cards.actions.uses import card_use_ingest_batch

    hospitals = list(
        MedicalInstitution.objects.filter(region__code__startswith=city.code[:4], status="active").order_by(
            "code"
        )
    )
    held = [
        (card.card_no, card.chip_serial)
        for card in Card.objects.filter(status__in=Card.IN_HAND).exclude(chip_serial="").order_by("id")
    ]
    if not hospitals or not held:
        return 0
    scenarios, weights = zip(*USE_SCENARIOS, strict=True)
    tz = timezone.get_current_timezone()
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday() + 7 * USE_WEEKS)
    accepted = 0
    for week in range(USE_WEEKS):
        start = monday + dt.timedelta(weeks=week)
        for hospital in hospitals:
            records = []
            for card_no, chip in rng.sample(held, min(len(held), rng.randint(15, 40))):
                day = start + dt.timedelta(days=rng.randint(0, 6))
                at = dt.datetime.combine(day, dt.time(rng.randint(7, 17), rng.randint(0, 59)), tzinfo=tz)
                for step, scenario in enumerate(rng.choices(scenarios, weights, k=rng.randint(1, 3))):
                    unknown = rng.random() < 0.01
                    records.append(
                        {
                            "card_no": card_no,
                            "chip_serial": "FFFF" + chip[4:] if unknown else chip,
                            "used_at": (at + dt.timedelta(minutes=20 * step)).isoformat(),
                            "scenario": scenario,
                        }
                    )
            result = card_use_ingest_batch(
                actor=actor, institution=hospital, batch_id=f"DEMO-{start:%G-W%V}", records=records
            )
            accepted += result.accepted
    return accepted
