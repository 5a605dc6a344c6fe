"""`manage.py seed_demo --peers peers.json`: demo data for this node (demo only; safe to re-run).

Creates one demo login per role (`<tier>_<role>`, password `demo-<tier>-2026`), the centres of the other
demo nodes named in the peers file, and, at the ministry and the province, centres of a few more
provinces / cities so that lists, filters and exports have something real to show. Every write goes
through registry.actions; everything generated comes from fixed seeds, so two runs agree.

The naming helpers at the top need no configured Django, so scripts/demo.py imports them to print the
logins; the models are imported inside the command.
"""

from __future__ import annotations

import datetime
import json
import random
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.roles import ROLES, Role

SEED = "hc-demo-2026"
USERNAME_SUFFIX = {"system_admin": "admin"}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role


def demo_password(tier: str) -> str:
    """Printed on the console and in the README: demo nodes only, never a real deployment."""
    return f"demo-{tier}-2026"


def demo_logins(tier: str) -> list[DemoLogin]:
    return [
        DemoLogin(f"{tier}_{USERNAME_SUFFIX.get(role.key, role.key)}", demo_password(tier), role)
        for role in ROLES
    ]


# --- Deterministic personal data ---------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾田萧潘袁董"
GIVEN_NAMES = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "霞", "平", "刚", "秀英", "桂英", "建华", "晓燕", "文博", "子涵", "海燕", "志强", "俊杰",
    "雪梅", "国庆", "红梅", "建国", "宇航", "思远", "婷婷", "佳怡", "浩然", "欣怡", "永刚",
]  # fmt: skip


def fake_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def fake_mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def fake_id_number(rng: random.Random, county_codes: list[str]) -> str:
    """A valid 18-digit resident ID number (GB 11643) born in one of `county_codes`."""
    from stdnum.cn import ric

    for _attempt in range(1000):
        birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 35))
        body = f"{rng.choice(county_codes)}{birth:%Y%m%d}{rng.randrange(1, 1000):03d}"
        number = body + ric.calc_check_digit(body + "0")
        # A county's code must have been in use in the birth year; retry the rare ones that were not.
        if ric.is_valid(number):
            return number
    raise CommandError("No valid ID number could be generated for the demo users' region")


# --- Centres beyond the demo nodes ---------------------------------------------------------------------

# (region code, address, office phone): realistic, fictitious details.
MINISTRY_EXTRA_CENTRES = [
    ("110000", "北京市西城区南礼士路甲12号", "010-68792310"),
    ("310000", "上海市黄浦区世博村路300号", "021-23117456"),
    ("320000", "江苏省南京市鼓楼区中央路42号", "025-83620519"),
    ("420000", "湖北省武汉市武昌区中山路217号", "027-87367184"),
    ("440000", "广东省广州市越秀区先烈南路17号", "020-83710432"),
    ("510000", "四川省成都市青羊区上汪家拐街39号", "028-86136215"),
    ("620000", "甘肃省兰州市城关区白银路220号", "0931-4818367"),
]
PROVINCE_EXTRA_CENTRES = [
    ("610200", "陕西省铜川市王益区红旗街15号", "0919-3182476"),
    ("610300", "陕西省宝鸡市渭滨区经二路87号", "0917-3261509"),
    ("610400", "陕西省咸阳市秦都区人民西路31号", "029-33217688"),
    ("610500", "陕西省渭南市临渭区东风大街58号", "0913-2128345"),
    ("610600", "陕西省延安市宝塔区二道街12号", "0911-2336710"),
    ("610700", "陕西省汉中市汉台区北大街41号", "0916-2212953"),
]
# The demo nodes' own offices (address, office phone), filled in by the node that registers them.
NODE_OFFICES = {
    "100000": ("北京市西城区西直门外南路1号", "010-68792114"),
    "610000": ("陕西省西安市莲湖区莲湖路112号", "029-89620215"),
    "610100": ("陕西省西安市未央区凤城八路109号", "029-86787360"),
}
EXTRA_CENTRES = {"ministry": MINISTRY_EXTRA_CENTRES, "province": PROVINCE_EXTRA_CENTRES}
# One centre at the province is shown deregistered, with its reason.
DEREGISTERED = {"610700": "机构改革，职能并入汉中市卫生健康信息中心，待重新申请登记"}


def centre_name(region_name: str) -> str:
    return f"{region_name}居民健康卡注册管理中心"


class Command(BaseCommand):
    help = (
        "Seed demo data on this node (demo only, idempotent): one login per role, the other demo nodes' "
        "centres from --peers, and a few more centres at the ministry and the province."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--peers",
            type=Path,
            default=None,
            help="JSON list of the other demo nodes: [{tier, region, name, base_url, public_key}, ...]",
        )

    def handle(self, *args, peers: Path | None, **options):
        from django.conf import settings

        from registry.actors import Actor
        from registry.choices import Channel
        from registry.models import Region

        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates logins with published passwords and refuses to run with HC_ENV=production.\n"
                "seed_demo 会创建公开密码的演示账号，生产环境（HC_ENV=production）下拒绝执行。"
            )
        self.tier = settings.HC_TIER
        self.actor = Actor.system(channel=Channel.COMMAND, label="seed_demo")
        self.region = Region.objects.filter(code=settings.HC_REGION).first()
        if self.region is None:
            raise CommandError(
                f"Region {settings.HC_REGION} is not loaded: run `manage.py migrate` first.\n"
                f"行政区划 {settings.HC_REGION} 尚未载入，请先执行 migrate。"
            )
        peer_rows = self.read_peers(peers) if peers else []

        users = self.seed_users()
        own = self.seed_own_centre()
        peer_count = self.seed_peers(peer_rows)
        extra = self.seed_extra_centres()
        for app_label, summary in self.seed_apps():
            self.stdout.write(f"  {app_label}: {summary}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready on {self.tier} {self.region.code} / 演示数据已就绪: "
                f"{users} users created, {peer_count} peer centres created or updated, "
                f"{extra} other centres created{', own centre details filled' if own else ''}"
            )
        )

    def seed_apps(self):
        """Each app that has demo data keeps it in `<app>/demo.py` with `seed(*, actor, stdout) -> str`.

        Found by name, the way the admin finds admin.py, so the registry imports no other app.
        """
        from importlib import import_module
        from importlib.util import find_spec

        from django.apps import apps

        for config in apps.get_app_configs():
            if config.name == "registry" or find_spec(f"{config.name}.demo") is None:
                continue
            module = import_module(f"{config.name}.demo")
            yield config.label, module.seed(actor=self.actor, stdout=self.stdout)

    # --- users ---------------------------------------------------------------------------------------

    def seed_users(self) -> int:
        from registry.actions import user_create
        from registry.choices import RegionLevel
        from registry.models import Region, User
        from registry.models.regions import region_prefix

        missing = [g for g in (r.group_name for r in ROLES) if not _group_exists(g)]
        if missing:
            raise CommandError(
                f"Role groups missing ({', '.join(missing)}): run `manage.py migrate` first.\n"
                "角色组不存在，请先执行 migrate。"
            )
        counties = list(
            Region.objects.filter(
                level=RegionLevel.COUNTY, code__startswith=region_prefix(self.region.code)
            ).values_list("code", flat=True)
        )
        created = 0
        for login in demo_logins(self.tier):
            if User.objects.filter(username=login.username).exists():
                continue  # kept as it is: the demo never overwrites what someone changed
            rng = random.Random(f"{SEED}:{login.username}")
            user_create(
                actor=self.actor,
                username=login.username,
                password=login.password,
                roles=[login.role.group_name],
                scope_region=self.region,
                real_name=fake_name(rng),
                id_number=fake_id_number(rng, counties),
                phone=fake_mobile(rng),
                is_superuser=login.role.key == "system_admin",
            )
            created += 1
            self.stdout.write(f"  user {login.username} ({login.role.group_name}) created / 已创建")
        return created

    # --- centres -------------------------------------------------------------------------------------

    def read_peers(self, path: Path) -> list[dict]:
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(
                f"Cannot read peers file {path}: {error}\n无法读取节点列表文件 {path}"
            ) from error
        required = {"tier", "region", "name", "base_url", "public_key"}
        if not isinstance(rows, list) or not all(isinstance(r, dict) and required <= set(r) for r in rows):
            raise CommandError(
                f"{path} must be a JSON list of objects with {', '.join(sorted(required))}.\n"
                f"{path} 必须是 JSON 列表，每项包含上述字段。"
            )
        return rows

    def seed_peers(self, rows: list[dict]) -> int:
        from registry.actions import TIER_OF_LEVEL, centre_register, centre_update
        from registry.errors import DomainError
        from registry.models import Region, RegistrationCentre

        done = 0
        for row in rows:
            code = str(row["region"])
            if code == self.region.code:
                continue  # this node's own record comes from `node init`
            region = Region.objects.filter(code=code).first()
            if region is None or TIER_OF_LEVEL.get(region.level) != row["tier"]:
                raise CommandError(
                    f"Peer {code} ({row['tier']}) is not a known region at that tier.\n"
                    f"节点 {code}（{row['tier']}）不是该层级的有效行政区划。"
                )
            wanted = {k: row[k] for k in ("name", "base_url", "public_key")}
            centre = RegistrationCentre.objects.filter(region=region).first()
            try:
                if centre is None:
                    centre_register(actor=self.actor, region=region, **wanted, **self.contact_details(region))
                    self.stdout.write(f"  centre {code} {wanted['name']} registered / 已登记")
                elif any(getattr(centre, k) != v for k, v in wanted.items()):
                    centre_update(
                        actor=self.actor, centre=centre, reason="seed_demo: peer node changed", **wanted
                    )
                    self.stdout.write(f"  centre {code} {wanted['name']} updated / 已更新")
                else:
                    continue
            except DomainError as error:
                raise CommandError(f"{error.message_zh}\n{error.message_en}") from error
            done += 1
        return done

    def seed_own_centre(self) -> bool:
        """Fill the contact details of this node's own centre when `node init` left them empty."""
        from registry.actions import centre_update
        from registry.models import RegistrationCentre

        centre = RegistrationCentre.objects.filter(region=self.region).first()
        if centre is None:
            self.stderr.write(
                "This node has no centre record yet: run `manage.py node init`. / 本节点尚无中心记录，请先执行 node init。"
            )
            return False
        if centre.contact_person or centre.phone or centre.address or centre.head:
            return False
        centre_update(
            actor=self.actor,
            centre=centre,
            reason="seed_demo: contact details",
            **self.contact_details(self.region),
        )
        return True

    def seed_extra_centres(self) -> int:
        from registry.actions import centre_deregister, centre_register
        from registry.choices import CentreStatus
        from registry.models import Region, RegistrationCentre

        created = 0
        for code, address, phone in EXTRA_CENTRES.get(self.tier, []):
            region = Region.objects.get(code=code)
            centre = RegistrationCentre.objects.filter(region=region).first()
            if centre is None:
                details = self.contact_details(region)
                centre = centre_register(
                    actor=self.actor,
                    region=region,
                    name=centre_name(region.name),
                    contact_person=details["contact_person"],
                    head=details["head"],
                    phone=phone,
                    address=address,
                )
                created += 1
                self.stdout.write(f"  centre {code} {centre.name} registered / 已登记")
            # Deregister once; a centre someone reinstated since (status changed before) stays as it is.
            reason = DEREGISTERED.get(code)
            if reason and centre.status == CentreStatus.ACTIVE and centre.status_changed_at is None:
                centre_deregister(actor=self.actor, centre=centre, reason=reason)
                self.stdout.write(f"  centre {code} {centre.name} deregistered / 已注销: {reason}")
        return created

    def contact_details(self, region) -> dict[str, str]:
        rng = random.Random(f"{SEED}:centre:{region.code}")
        address, phone = NODE_OFFICES.get(
            region.code, (f"{region.full_name.replace(' ', '')}卫生健康委员会", fake_mobile(rng))
        )
        return {"contact_person": fake_name(rng), "head": fake_name(rng), "phone": phone, "address": address}


def _group_exists(name: str) -> bool:
    from django.contrib.auth.models import Group

    return Group.objects.filter(name=name).exists()
