"""The figures of the later sources after real actions: card lifecycle (Cards II), card use, SAM supervision,
and the scorecard's new columns; each equals a direct count over the rows, in the user's area only, and the
exported sheets (figure and case rows) equal what the page shows."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook

from cards import actions
from cards.choices import CardEventKind as K
from cards.choices import CardStatus
from cards.models import Card, CardEvent, CardUse
from registry.actors import Actor
from stats.actions import stats_fold, stats_rebuild
from stats.choices import Grouping
from stats.selectors import dashboard_trend, figure_rows
from tests.stats.test_figures import by, period, province, rows_by_key  # noqa: F401

LIFECYCLE_KINDS = (K.LOSS_REPORTED, K.LOSS_REVOKED, K.REPLACED, K.CANCELLED, K.RESTORED)
COLUMN_OF = {
    K.LOSS_REPORTED: "losses",
    K.LOSS_REVOKED: "unlosses",
    K.REPLACED: "replacements",
    K.CANCELLED: "cancellations",
    K.RESTORED: "restored",
}


def identity(card):
    return {"document_type": "01", "document_number": card.resident.document_number}


@pytest.fixture
def lifecycle(province, system_actor):  # noqa: F811
    """Cards II actions on the collected cards: a loss revoked and reported again, a replacement on site, a
    cancellation for death and one at the holder's request (of the replacement card)."""
    active = list(Card.objects.filter(status=CardStatus.ACTIVE).order_by("id"))
    assert len(active) == 3
    lost, replaced, died = active
    actions.card_report_loss(actor=system_actor, card=lost, **identity(lost))
    actions.card_unreport_loss(actor=system_actor, card=lost, **identity(lost))
    actions.card_report_loss(actor=system_actor, card=lost, **identity(lost))
    new = actions.card_replace(
        actor=system_actor, card=replaced, reason="damaged", new_chip_serial="NEW0000001"
    )
    actions.card_cancel(actor=system_actor, card=died, reason="death", note="死亡")
    actions.card_cancel(actor=system_actor, card=new, reason="request", note="本人申请")
    stats_fold()
    return province


def direct_lifecycle(prefix: str) -> dict[str, Counter]:
    """Counted from the case history itself: per city, the lifecycle kinds and the cancellations by reason."""
    out: dict[str, Counter] = {}
    for event in CardEvent.objects.filter(kind__in=LIFECYCLE_KINDS, region__code__startswith=prefix):
        counts = out.setdefault(event.region_id[:4].ljust(6, "0"), Counter())
        counts[COLUMN_OF[event.kind]] += 1
        if event.kind == K.CANCELLED:
            counts[f"cancelled_{event.data['cancellation_reason']}"] += 1
    return out


def figure_lifecycle(rows) -> dict[str, Counter]:
    columns = [*COLUMN_OF.values(), "cancelled_death", "cancelled_request", "cancelled_error"]
    return {
        row["key"]: Counter({c: row[c] for c in columns if row[c]})
        for row in rows
        if not row.get("total") and any(row[c] for c in columns)
    }


@pytest.mark.django_db
def test_lifecycle_figure_equals_the_case_history(lifecycle, make_user):
    user = make_user("prov", roles=["统计员"], scope="610000")
    rows = figure_rows(user=user, name="lifecycle", filters=by(period(), Grouping.REGION))
    expected = direct_lifecycle("61")
    assert figure_lifecycle(rows) == expected
    total = rows[-1]
    assert (total["losses"], total["unlosses"], total["replacements"], total["cancellations"]) == (2, 1, 1, 2)
    assert total["cancelled_death"] == 1 == Card.objects.filter(status_reason="death").count()
    # A rebuild from the events gives the same figure; the losses trend sums to the losses.
    stats_rebuild(actor=Actor.for_user(user))
    assert figure_lifecycle(
        figure_rows(user=user, name="lifecycle", filters=by(period(), Grouping.REGION))
    ) == (expected)
    trend = {s["measure"]: s["data"] for s in dashboard_trend(user=user, filters=period())["series"]}
    assert sum(trend[K.LOSS_REPORTED]) == 2
    # A city statistician sees the city's events only.
    city_code = next(iter(expected))
    city = make_user("city", roles=["统计员"], scope=city_code)
    city_total = figure_rows(user=city, name="lifecycle", filters=by(period(), Grouping.MONTH))[-1]
    assert city_total["cancellations"] == expected[city_code]["cancellations"]
    assert city_total["losses"] == expected[city_code]["losses"]


def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.mark.django_db
def test_lifecycle_page_sheet_and_case_rows_agree(lifecycle, make_user, client):
    city = CardEvent.objects.filter(kind=K.CANCELLED).values_list("region_id", flat=True).first()[:4]
    client.force_login(make_user("city", roles=["统计员"], scope=city.ljust(6, "0")))
    today = timezone.localdate()
    query = {"date_from": (today - dt.timedelta(days=1)).isoformat(), "date_to": today.isoformat()}
    page = client.get("/admin/stats/dailycount/report/lifecycle/", query)
    assert page.status_code == 200 and page.context["cases_url"]
    screen = [(row["label"], values) for row, values in page.context["rows"]]
    cells = xlsx_rows(client.get("/admin/stats/dailycount/report/lifecycle/export/xlsx/", query))
    exported = [(row[0], [None if v in ("", None) else v for v in row[1:]]) for row in cells[5:-1] if row[0]]
    assert exported == [(label, list(values)) for label, values in screen]
    # The events behind the counts: as many rows as the city's lifecycle events, none from elsewhere.
    cases = xlsx_rows(client.get("/admin/stats/dailycount/report/lifecycle/cases/xlsx/", query))
    events = CardEvent.objects.filter(kind__in=LIFECYCLE_KINDS, region__code__startswith=city)
    case_rows = [row for row in cases[5:] if row[0] and row[1]]
    total = page.context["rows"][-1][0]
    shown = sum(total[c] for c in ("losses", "unlosses", "replacements", "cancellations", "restored"))
    assert len(case_rows) == events.count() == shown > 0


@pytest.mark.django_db
def test_not_yet_collected_cases_are_the_cards_behind_the_figure(province, make_user, client):  # noqa: F811
    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    page = client.get("/admin/stats/dailycount/report/issuance/")
    total = page.context["rows"][-1][0]
    cases = xlsx_rows(client.get("/admin/stats/dailycount/report/issuance/cases/xlsx/"))
    case_rows = [row for row in cases[5:] if row[0] and row[1]]
    assert (
        len(case_rows)
        == total["not_collected"]
        == Card.objects.filter(status=CardStatus.AWAITING_COLLECTION).count()
    )
    assert all("*" in row[0] for row in case_rows)  # card numbers masked
    # A Baoji statistician's case rows are Baoji's cards only.
    client.force_login(make_user("baoji", roles=["统计员"], scope="610300"))
    baoji = xlsx_rows(client.get("/admin/stats/dailycount/report/issuance/cases/xlsx/"))
    assert (
        len([r for r in baoji[5:] if r[0] and r[1]])
        == Card.objects.filter(status=CardStatus.AWAITING_COLLECTION, region__code__startswith="6103").count()
    )


# --- Card use -----------------------------------------------------------------------------------------------


@pytest.fixture
def uses(lifecycle, system_actor):
    """Uses reported by the Yanta and Weibin hospitals, in several scenarios (rural co-operative included)."""
    from cards.models import CardUseDaily  # noqa: F401

    world = lifecycle
    cards = list(Card.objects.exclude(chip_serial="").order_by("id")[:4])
    now = timezone.localtime() - dt.timedelta(hours=1)
    scenarios = ["consultation", "rural_coop_settlement", "pharmacy", "rural_coop_settlement"]
    for county, batch in (("610113", "Y1"), ("610302", "W1")):
        records = [
            {
                "card_no": card.card_no,
                "chip_serial": card.chip_serial,
                "used_at": (now - dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S"),
                "scenario": scenarios[(i + len(batch)) % len(scenarios)],
            }
            for i, card in enumerate(cards * (2 if county == "610113" else 1))
        ]
        actions.card_use_ingest_batch(
            actor=system_actor, institution=world.hospitals[county], batch_id=batch, records=records
        )
    stats_fold()  # as the scheduled fold (or the report page's) does after a bulk ingestion
    return world


def direct_uses(prefix: str) -> Counter:
    counts: Counter = Counter()
    for use in CardUse.objects.filter(status="accepted", region__code__startswith=prefix):
        counts[use.region_id[:4].ljust(6, "0"), use.scenario] += 1
    return counts


@pytest.mark.django_db
def test_use_figure_equals_the_use_records(uses, make_user, client):
    user = make_user("prov", roles=["统计员"], scope="610000")
    expected = direct_uses("61")
    assert sum(expected.values()) > 0 and any(s == "rural_coop_settlement" for _r, s in expected)
    rows = figure_rows(user=user, name="uses", filters=by(period(), Grouping.REGION))
    got = Counter(
        {
            (row["key"], scenario): row[scenario]
            for row in rows[:-1]
            for scenario in {s for _r, s in expected} | {"settlement"}
            if row[scenario]
        }
    )
    assert got == expected
    assert rows[-1]["uses"] == sum(expected.values())
    by_institution = figure_rows(user=user, name="uses", filters=by(period(), Grouping.INSTITUTION))
    assert {r["label"]: r["uses"] for r in by_institution[:-1]} == {
        "610113医院": sum(n for (r, _s), n in expected.items() if r == "610100"),
        "610302医院": sum(n for (r, _s), n in expected.items() if r == "610300"),
    }
    trend = {s["measure"]: s["data"] for s in dashboard_trend(user=user, filters=period())["series"]}
    assert sum(trend["uses"]) == rows[-1]["uses"]
    scorecard = rows_by_key(figure_rows(user=user, name="assessment", filters=by(period(), Grouping.REGION)))
    assert scorecard["610100"]["uses"] == rows_by_key(rows)["610100"]["uses"]
    assert scorecard["610100"]["last_sync"] is None  # no sync from Xi'an applied here: shown as "-"
    # Use frequency per card (case rows): each card's uses, adding up to the figure's total.
    client.force_login(user)
    frequency = xlsx_rows(client.get("/admin/stats/dailycount/report/uses/cases/xlsx/"))
    per_card = [row for row in frequency[5:] if row[0] and row[1]]
    assert sum(row[2] for row in per_card) == rows[-1]["uses"]
    first = Card.objects.get(chip_serial=per_card[0][1])
    assert per_card[0][2] == CardUse.objects.filter(card=first, status="accepted").count()
    # The city's statistician: the city's uses only; another city's region shows nothing.
    city = make_user("xian", roles=["统计员"], scope="610100")
    assert figure_rows(user=city, name="uses", filters=period())[-1]["uses"] == sum(
        n for (r, _s), n in expected.items() if r == "610100"
    )
    assert (
        figure_rows(user=city, name="uses", filters=by(period(), Grouping.REGION, region="610300"))[-1][
            "uses"
        ]
        == 0
    )


@pytest.mark.django_db
def test_uses_reported_again_and_synced_twice_count_once(uses, make_user, system_actor):
    """The fold takes a day's use totals as they stand: a second batch the same day adds its uses, a total
    journaled twice (a sync applying the same row again) adds nothing, and a rebuild from the daily aggregates
    gives the same figures."""
    from cards.actions.uses import USE_DAILY_KIND
    from registry.journal import journal_append
    from registry.models import JournalEntry

    user = make_user("prov", roles=["统计员"], scope="610000")

    def total() -> int:
        return figure_rows(user=user, name="uses", filters=period())[-1]["uses"]

    before = total()
    card = Card.objects.exclude(chip_serial="").order_by("id").first()
    used_at = (timezone.localtime() - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    actions.card_use_ingest_batch(
        actor=system_actor,
        institution=uses.hospitals["610113"],
        batch_id="Y2",
        records=[
            {
                "card_no": card.card_no,
                "chip_serial": card.chip_serial,
                "used_at": used_at,
                "scenario": "pharmacy",
            }
        ],
    )
    stats_fold()
    assert total() == before + 1 == CardUse.objects.filter(status="accepted").count()
    last = JournalEntry.objects.filter(kind=USE_DAILY_KIND).order_by("-seq").first()
    with transaction.atomic():
        journal_append(kind=USE_DAILY_KIND, key=last.key, payload=last.payload)  # the same total again
    stats_fold()
    assert total() == before + 1
    stats_rebuild(actor=system_actor)
    assert total() == before + 1


@pytest.mark.django_db
def test_the_migration_adds_the_uses_counted_before_the_fold_read_them(uses, make_user):
    """A node upgraded with use aggregates already past the fold's checkpoint: the migration adds them to every
    fact table, and a fold over use rows it had not reached yet adds nothing twice."""
    import importlib

    from django.apps import apps

    from stats.models import DailyCount, MonthlyCount, RegionDailyCount, RegionMonthlyCount, WeeklyCount

    user = make_user("prov", roles=["统计员"], scope="610000")
    expected = figure_rows(user=user, name="uses", filters=by(period(), Grouping.INSTITUTION))
    for model in (DailyCount, WeeklyCount, MonthlyCount, RegionDailyCount, RegionMonthlyCount):
        model.objects.filter(measure__startswith="use:").delete()  # the tables as they were before
    assert figure_rows(user=user, name="uses", filters=period())[-1]["uses"] == 0
    migration = importlib.import_module("stats.migrations.0005_uses_in_the_fact_tables")
    migration.add_uses(apps, None)
    stats_fold()  # rolls the windows the migration cleared
    assert figure_rows(user=user, name="uses", filters=by(period(), Grouping.INSTITUTION)) == expected
    # The fold meets every use row again (the checkpoint set back to just before the first): absolute counts,
    # so nothing changes.
    from cards.actions.uses import USE_DAILY_KIND
    from registry.models import JournalEntry
    from stats.models import FoldCheckpoint

    first = JournalEntry.objects.filter(kind=USE_DAILY_KIND).order_by("seq").values_list("seq", flat=True)[0]
    assert not JournalEntry.objects.filter(seq__gt=first).exclude(kind=USE_DAILY_KIND).exists()
    FoldCheckpoint.objects.update(seq=first - 1)
    stats_fold()
    assert figure_rows(user=user, name="uses", filters=by(period(), Grouping.INSTITUTION)) == expected


# --- SAM ------------------------------------------------------------------------------------------------------


@pytest.fixture
def sams(db, settings, make_user, make_institution, system_actor):
    """Three SAMs taken from the ministry down to a Yanta hospital through the real SAM actions."""
    from institutions.models import CardMaker
    from registry.models import Region
    from sam import actions as sam_actions

    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    roles = ["SAM卡管理员", "审核员"]
    city = Actor.for_user(make_user("sam_xian", roles=roles, scope="610100"))
    prov = Actor.for_user(make_user("sam_shaanxi", roles=roles, scope="610000"))
    ministry = Actor.for_user(make_user("sam_ministry", roles=roles, scope="100000"))
    hospital = make_institution("610113", name="雁塔区人民医院")
    maker = make_institution("110000", model=CardMaker, name="北京智能卡公司", code=None)
    application = sam_actions.sam_application_submit(
        actor=city, institution=hospital, quantity=3, terminal_type="counter", scenario="outpatient"
    )
    sam_actions.sam_application_review(actor=city, application=application, decision="approve")
    plan = sam_actions.sam_plan_aggregate(actor=city)
    sam_actions.sam_plan_report(actor=city, plan=plan)
    sam_actions.sam_plan_review(actor=prov, plan=plan, decision="approve")
    plan = sam_actions.sam_plan_aggregate(actor=prov)
    sam_actions.sam_plan_report(actor=prov, plan=plan)
    sam_actions.sam_plan_review(actor=ministry, plan=plan, decision="approve")
    plan = sam_actions.sam_plan_aggregate(actor=ministry, card_maker=maker)
    sam_actions.sam_plan_start(actor=ministry, plan=plan)
    numbers = ["PSAM9000000001", "PSAM9000000002", "PSAM9000000003"]
    unit = {"responsible_unit": "注册管理中心", "responsible_person": "张"}
    sam_actions.sam_stock_in(actor=ministry, plan=plan, serials=numbers, **unit)
    sam_actions.sam_stock_out(
        actor=ministry, serials=numbers, region=Region.objects.get(code="610000"), **unit
    )
    to_city = sam_actions.sam_stock_out(
        actor=prov, serials=numbers, region=Region.objects.get(code="610100"), **unit
    )
    sam_actions.sam_stock_out(actor=city, serials=numbers, institution=hospital, **unit)
    for status in ("shipped", "delivered", "signed"):
        sam_actions.sam_shipment_update(actor=city, shipment=to_city.shipment, status=status, signed_by="李")
    return hospital


@pytest.mark.django_db
def test_sam_figures_follow_the_sam_selectors_and_the_region_filter(sams, make_user):
    from sam.selectors import supervision_applications, supervision_issuance

    prov = make_user("stat_prov", roles=["统计员"], scope="610000")
    city = make_user("stat_xian", roles=["统计员"], scope="610100")
    dates = {"date_from": period().date_from, "date_to": period().date_to}
    issued = figure_rows(user=prov, name="sam_issuance", filters=by(period(), Grouping.REGION))
    direct = supervision_issuance(user=prov, by="region", **dates)
    assert [(r["label"], r["issued"], r["signed"]) for r in issued[:-1]] == [
        (str(r["group"]), r["issued"], r["signed"]) for r in direct
    ]
    assert issued[-1]["issued"] == sum(r["issued"] for r in direct) == 9  # every stock-out into the province
    # The province statistician asking for Xi'an sees what the city statistician sees.
    narrowed = figure_rows(
        user=prov, name="sam_issuance", filters=by(period(), Grouping.REGION, region="610100")
    )
    assert (
        narrowed[-1]["issued"] == figure_rows(user=city, name="sam_issuance", filters=period())[-1]["issued"]
    )
    assert narrowed[-1]["issued"] == sum(
        r["issued"] for r in supervision_issuance(user=city, by="date", **dates)
    )
    applications = figure_rows(user=city, name="sam_applications", filters=period())
    assert applications[-1]["applied"] == sum(
        r["applied"] for r in supervision_applications(user=city, **dates)
    )
    other = make_user("stat_baoji", roles=["统计员"], scope="610300")
    assert figure_rows(user=other, name="sam_issuance", filters=period())[-1]["issued"] == 0
    # The scorecard's SAM accounting: sent down to Xi'an, signed for, in use at the hospital.
    card = rows_by_key(figure_rows(user=prov, name="assessment", filters=by(period(), Grouping.REGION)))
    assert (card["610100"]["sam_issued"], card["610100"]["sam_signed"], card["610100"]["sam_in_use"]) == (
        3,
        3,
        3,
    )
    per_institution = rows_by_key(
        figure_rows(user=city, name="assessment", filters=by(period(), Grouping.INSTITUTION))
    )
    assert per_institution[sams.code]["sam_issued"] == 3 and per_institution[sams.code]["sam_signed"] == 0
    assert per_institution[sams.code]["sam_in_use"] == 3


@pytest.mark.django_db
def test_every_new_figure_page_and_export_answers(sams, make_user, client):
    from stats.selectors import FIGURES

    client.force_login(make_user("stat_all", roles=["统计员"], scope="610000"))
    new = ("lifecycle", "uses", "sam_applications", "sam_production", "sam_issuance", "sam_maintenance")
    for name, figure in [(n, FIGURES[n]) for n in (*new, "assessment", "issuance")]:
        for grouping in figure.groupings:
            page = client.get(f"/admin/stats/dailycount/report/{name}/", {"by": grouping})
            assert page.status_code == 200, (name, grouping)
        assert client.get(f"/admin/stats/dailycount/report/{name}/export/xlsx/").status_code == 200
        cases = client.get(f"/admin/stats/dailycount/report/{name}/cases/xlsx/")
        assert cases.status_code == (200 if figure.cases else 404), name


@pytest.mark.django_db
def test_scorecard_sync_timeliness_is_the_last_applied_sync_per_child(settings, make_user):
    from exchange.choices import BundleStatus, Direction
    from exchange.models import InboundBundle

    settings.HC_REGION = "610000"
    now = timezone.now()

    def bundle(sender, status, hours_ago):
        at = now - dt.timedelta(hours=hours_ago)
        InboundBundle.objects.create(
            sha256=f"{sender}{status}{hours_ago}".ljust(64, "0"),
            sender=sender,
            direction=Direction.UP,
            status=status,
            received_at=at,
            applied_at=at if status == BundleStatus.APPLIED else None,
        )

    bundle("610100", BundleStatus.APPLIED, 30)
    bundle("610100", BundleStatus.APPLIED, 2)
    bundle("610100", BundleStatus.QUARANTINED, 1)  # not applied: does not count
    bundle("610300", BundleStatus.REFUSED, 1)
    user = make_user("prov", roles=["统计员"], scope="610000")
    rows = rows_by_key(figure_rows(user=user, name="assessment", filters=by(period(), Grouping.REGION)))
    assert rows["610100"]["last_sync"] == timezone.localtime(now - dt.timedelta(hours=2)).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert rows.get("610300", {}).get("last_sync") is None
    # A city statistician's scorecard: no sync came from another city.
    city = make_user("baoji", roles=["统计员"], scope="610300")
    assert all(
        r["last_sync"] is None
        for r in figure_rows(user=city, name="assessment", filters=by(period(), Grouping.REGION))
    )


@pytest.mark.django_db
def test_the_dashboard_and_reports_say_when_each_childs_last_sync_was_applied(settings, make_user, client):
    from exchange.choices import BundleStatus, Direction
    from exchange.models import InboundBundle

    settings.HC_REGION = "610000"
    now = timezone.now()
    for sender, status, hours_ago in (
        ("610100", BundleStatus.APPLIED, 30),
        ("610100", BundleStatus.APPLIED, 2),
        ("610100", BundleStatus.QUARANTINED, 1),  # not applied: does not count
        ("610300", BundleStatus.APPLIED, 5),
    ):
        at = now - dt.timedelta(hours=hours_ago)
        InboundBundle.objects.create(
            sha256=f"{sender}{status}{hours_ago}".ljust(64, "0"),
            sender=sender,
            direction=Direction.UP,
            status=status,
            received_at=at,
            applied_at=at if status == BundleStatus.APPLIED else None,
        )

    def shown(hours_ago):
        return timezone.localtime(now - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%d %H:%M:%S")

    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    data = client.get("/admin/stats/dailycount/dashboard-data/").json()
    assert data["syncs"] == [  # the stalest child first
        {"node": "610300", "name": "宝鸡市", "applied_at": shown(5)},
        {"node": "610100", "name": "西安市", "applied_at": shown(2)},
    ]
    page = client.get("/admin/stats/dailycount/report/issuance/").content.decode()
    assert f"宝鸡市 {shown(5)}" in page and f"西安市 {shown(2)}" in page
    # A city statistician: no other city's sync is part of the city's figures.
    client.force_login(make_user("xian", roles=["统计员"], scope="610100"))
    assert client.get("/admin/stats/dailycount/dashboard-data/").json()["syncs"] == []
