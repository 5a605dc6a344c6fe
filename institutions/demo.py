"""Demo data of the institutions app (called by `manage.py seed_demo`; demo only, idempotent).

At the city node: a few hundred medical institutions across the city's counties (the big hospitals, each
county's people's, TCM and maternal-and-child hospitals and CDC, community centres, township health
centres, village clinics, private clinics), two card makers, three banks and one hospital API key whose
secret is written to the node's var dir so `make demo` can print it. At the province: one card maker.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from django.conf import settings
from stdnum.cn import uscc

from institutions import actions
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution
from registry.models import Region

SEED = "hc-demo-institutions"
DEMO_KEY_LABEL = "demo: hospital information system"

# The big hospitals every Xi'an resident knows (names as in public registers; codes here are made up).
LANDMARK_HOSPITALS = [
    ("西安交通大学第一附属医院", "610113", "general_hospital", "3a"),
    ("陕西省人民医院", "610103", "general_hospital", "3a"),
    ("西安市中心医院", "610102", "general_hospital", "3a"),
    ("西安市第一医院", "610103", "general_hospital", "3a"),
    ("陕西省中医医院", "610104", "tcm_hospital", "3a"),
    ("西安市儿童医院", "610104", "specialist_hospital", "3a"),
    ("陕西省妇幼保健院", "610113", "maternal_child", "3a"),
    ("西安市第三医院", "610112", "general_hospital", "3a"),
]
STREETS = [
    "东关",
    "西关",
    "南街",
    "北街",
    "长乐",
    "含光",
    "电子城",
    "小寨",
    "曲江",
    "大雁塔",
    "丈八沟",
    "鱼化寨",
    "张家堡",
    "未央宫",
    "草滩",
    "红庙坡",
    "土门",
    "桃园",
    "枣园",
    "纺织城",
    "十里铺",
    "韦曲",
    "郭杜",
    "滦镇",
]
TOWNS = [
    "汤峪",
    "玉山",
    "蓝关",
    "厚镇",
    "焦岱",
    "哑柏",
    "终南",
    "楼观",
    "马召",
    "集贤",
    "祖庵",
    "甘亭",
    "余下",
    "庞光",
    "石井",
    "涝店",
    "斗门",
    "马王",
    "崇皇",
    "通远",
    "耿镇",
    "武屯",
    "关山",
    "新丰",
]
VILLAGES = ["王家", "李家", "张家", "刘家", "杨家", "赵家", "周家", "吴家", "孙家", "马家", "胡家", "郭家"]
RURAL = {"610115", "610116", "610117", "610118", "610122", "610124", "610114"}
CARD_MAKERS = [
    ("西安长城智能卡科技有限公司", "610113", "ZK-2021-018"),
    ("陕西秦川金卡制造有限公司", "610116", "ZK-2019-007"),
]
BANKS = [
    ("中国工商银行股份有限公司西安分行", "610103", "102791000014"),
    ("中国建设银行股份有限公司陕西省分行", "610104", "105791000013"),
    ("长安银行股份有限公司", "610113", "313791000016"),
]
PROVINCE_CARD_MAKER = ("陕西航天金卡信息技术有限公司", "610113", "ZK-2018-002")


def make_code(rng: random.Random, region: str, kind: str) -> str:
    body = f"{kind}{region}" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return body + uscc.calc_check_digit(body)


def _register(model, *, actor, rng, region: str, name: str, kind: str, **fields) -> bool:
    if model.objects.filter(name=name, region_id=region).exists():
        return False
    actions.organisation_register(
        actor=actor,
        model=model,
        code=make_code(rng, region, kind),
        name=name,
        region=Region.objects.get(code=region),
        **fields,
    )
    return True


def contacts(rng: random.Random, region_name: str) -> dict:
    surname = rng.choice("王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林")
    return {
        "head": surname + rng.choice(["建国", "志强", "丽华", "海涛", "秀英", "文博"]),
        "contact_person": rng.choice("王李张刘陈杨黄赵") + rng.choice(["敏", "静", "磊", "洋", "娟", "涛"]),
        "phone": f"029-8{rng.randint(1000000, 9999999)}",
        "address": f"{region_name}{rng.choice(STREETS)}路{rng.randint(1, 399)}号",
    }


def medical_rows(rng: random.Random, city: Region) -> list[dict]:
    rows = [dict(name=n, region=r, category=c, grade=g, nature="public") for n, r, c, g in LANDMARK_HOSPITALS]
    for county in Region.objects.filter(parent=city, level="county").exclude(name__endswith="市辖区"):
        short = county.name
        rows += [
            dict(
                name=f"西安市{short}人民医院",
                region=county.code,
                category="general_hospital",
                grade="2a",
                nature="public",
            ),
            dict(
                name=f"西安市{short}中医医院",
                region=county.code,
                category="tcm_hospital",
                grade="2a",
                nature="public",
            ),
            dict(
                name=f"西安市{short}妇幼保健院",
                region=county.code,
                category="maternal_child",
                grade="2b",
                nature="public",
            ),
            dict(
                name=f"西安市{short}疾病预防控制中心",
                region=county.code,
                category="cdc",
                grade="unrated",
                nature="public",
            ),
        ]
        for street in rng.sample(STREETS, 4):
            rows.append(
                dict(
                    name=f"{short}{street}街道社区卫生服务中心",
                    region=county.code,
                    category="community_centre",
                    grade="1a",
                    nature="public",
                )
            )
        if county.code in RURAL:
            for town in rng.sample(TOWNS, 5):
                rows.append(
                    dict(
                        name=f"{short}{town}镇卫生院",
                        region=county.code,
                        category="township_centre",
                        grade="1a",
                        nature="public",
                    )
                )
                for village in rng.sample(VILLAGES, 2):
                    rows.append(
                        dict(
                            name=f"{short}{town}镇{village}村卫生室",
                            region=county.code,
                            category="village_clinic",
                            grade="unrated",
                            nature="collective",
                        )
                    )
        for index in range(3):
            rows.append(
                dict(
                    name=f"{short}{rng.choice(STREETS)}{['仁和', '康宁', '济民', '博爱'][index]}诊所",
                    region=county.code,
                    category="outpatient",
                    grade="unrated",
                    nature="private",
                )
            )
    return rows


def seed(*, actor, stdout) -> str:
    rng = random.Random(SEED)
    created = 0
    if settings.HC_TIER == "city":
        city = Region.objects.get(code=settings.HC_REGION)
        for row in medical_rows(rng, city):
            region = Region.objects.get(code=row["region"])
            created += _register(
                MedicalInstitution,
                actor=actor,
                rng=rng,
                kind="12",
                licence_number=f"PDY{rng.randint(10000000, 99999999)}{row['region']}",
                **contacts(rng, region.full_name.replace(" ", "")),
                **row,
            )
        for name, region, licence in CARD_MAKERS:
            created += _register(
                CardMaker,
                actor=actor,
                rng=rng,
                kind="91",
                region=region,
                name=name,
                licence_number=licence,
                **contacts(rng, "西安市"),
            )
        for name, region, bank_code in BANKS:
            created += _register(
                FinancialInstitution,
                actor=actor,
                rng=rng,
                kind="91",
                region=region,
                name=name,
                bank_code=bank_code,
                **contacts(rng, "西安市"),
            )
        write_demo_key(actor)
    elif settings.HC_TIER == "province":
        name, region, licence = PROVINCE_CARD_MAKER
        created += _register(
            CardMaker,
            actor=actor,
            rng=rng,
            kind="91",
            region=region,
            name=name,
            licence_number=licence,
            **contacts(rng, "西安市"),
        )
    return f"{created} institutions"


def write_demo_key(actor) -> None:
    """One hospital key for people trying the API: its secret goes to a file next to the node key."""
    hospital = MedicalInstitution.objects.get(name=LANDMARK_HOSPITALS[0][0])
    credential = ApiCredential.objects.filter(
        medical_institution=hospital, label=DEMO_KEY_LABEL, status="active"
    ).first()
    if credential is None or not credential.is_usable:
        credential, _secret = actions.credential_issue(
            actor=actor, institution=hospital, label=DEMO_KEY_LABEL
        )
    path = Path(settings.HC_VAR_DIR) / "demo_hospital_key.json"
    path.write_text(
        json.dumps(
            {
                "institution": hospital.name,
                "code": hospital.code,
                "key_id": credential.key_id,
                "secret": credential.secret,
                "expires_at": credential.expires_at.isoformat(),
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    path.chmod(0o600)
