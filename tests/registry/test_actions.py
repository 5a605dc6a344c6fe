"""Centre actions: the lifecycle, the audit row and the journal row, all in one transaction."""

import pytest

from registry import actions
from registry.choices import CentreStatus
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import AuditEntry, JournalEntry, Region, RegistrationCentre


@pytest.mark.django_db
def test_register_writes_centre_audit_and_journal(make_centre):
    centre = make_centre("610100", head="李主任", phone="029-88880000")

    assert centre.tier == "city" and centre.status == CentreStatus.ACTIVE
    audit = AuditEntry.objects.get(action="centre.register")
    assert (
        audit.object_key == str(centre.pk) and audit.region_code == "610100" and audit.actor_label == "test"
    )
    journal = JournalEntry.objects.get()
    assert (journal.kind, journal.key, journal.origin_node, journal.origin_seq) == (
        "registry.centre",
        "610100",
        "610100",
        1,
    )
    assert journal.payload["head"] == "李主任"


@pytest.mark.django_db
def test_journal_is_numbered_without_gaps(make_centre, system_actor):
    centre = make_centre("610100")
    make_centre("610000")
    actions.centre_update(actor=system_actor, centre=centre, phone="029-1")
    actions.centre_deregister(actor=system_actor, centre=centre, reason="合并")
    assert list(JournalEntry.objects.values_list("seq", flat=True)) == [1, 2, 3, 4]
    assert JournalEntry.objects.last().payload["status"] == "deregistered"


@pytest.mark.django_db
def test_deregister_keeps_the_record_with_reason_and_an_illegal_repeat_names_the_states(
    make_centre, system_actor
):
    centre = make_centre("610100")
    actions.centre_deregister(actor=system_actor, centre=centre, reason="机构撤并")
    centre.refresh_from_db()
    assert centre.status == CentreStatus.DEREGISTERED and centre.status_reason == "机构撤并"
    assert centre.status_changed_at is not None

    with pytest.raises(IllegalTransition) as caught:
        actions.centre_deregister(actor=system_actor, centre=centre, reason="again")
    error = caught.value
    assert error.current == "deregistered" and error.allowed == ["active"]
    assert "已注销" in error.message_zh and "有效" in error.message_zh
    assert "from “Deregistered” to “Deregistered”" in error.message_en and "Active" in error.message_en
    assert RegistrationCentre.objects.filter(pk=centre.pk).exists()


@pytest.mark.django_db
def test_deregister_requires_a_reason(make_centre, system_actor):
    centre = make_centre("610100")
    with pytest.raises(DomainError) as caught:
        actions.centre_deregister(actor=system_actor, centre=centre, reason="  ")
    assert caught.value.code == "reason_required"


@pytest.mark.django_db(transaction=True)
def test_a_failure_rolls_back_centre_audit_and_journal_together(make_centre, system_actor, monkeypatch):
    centre = make_centre("610100")
    before = (AuditEntry.objects.count(), JournalEntry.objects.count())

    def broken_journal(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(actions, "journal_append", broken_journal)
    with pytest.raises(RuntimeError):
        actions.centre_deregister(actor=system_actor, centre=centre, reason="撤并")

    centre.refresh_from_db()
    assert centre.status == CentreStatus.ACTIVE
    assert (AuditEntry.objects.count(), JournalEntry.objects.count()) == before


@pytest.mark.django_db
def test_a_county_cannot_have_a_centre(system_actor):
    with pytest.raises(DomainError) as caught:
        actions.centre_register(actor=system_actor, region=Region.objects.get(code="610113"), name="x")
    assert caught.value.code == "centre_region_level"


@pytest.mark.django_db
def test_update_records_old_and_new_values(make_centre, system_actor):
    centre = make_centre("610100", phone="029-1")
    actions.centre_update(actor=system_actor, centre=centre, phone="029-2", reason="换号")
    audit = AuditEntry.objects.get(action="centre.update")
    assert audit.changes == {"phone": ["029-1", "029-2"]} and audit.reason == "换号"


@pytest.mark.django_db
def test_node_init_creates_key_outside_the_database_and_own_centre(settings, system_actor):
    settings.HC_TIER, settings.HC_REGION = "city", "610100"
    centre = actions.node_init(
        actor=system_actor, tier="city", region_code="610100", base_url="http://127.0.0.1:8003"
    )
    assert settings.HC_NODE_KEY_FILE.exists()
    assert "PRIVATE" not in centre.public_key and centre.public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert len(centre.key_fingerprint) == 39
    again = actions.node_init(actor=system_actor, tier="city", region_code="610100")
    assert again.pk == centre.pk and again.public_key == centre.public_key


@pytest.mark.django_db
def test_node_init_refuses_a_tier_that_does_not_match_the_configuration(settings, system_actor):
    settings.HC_TIER, settings.HC_REGION = "city", "610100"
    with pytest.raises(DomainError) as caught:
        actions.node_init(actor=system_actor, tier="province", region_code="610000")
    assert caught.value.code == "node_config_mismatch"
