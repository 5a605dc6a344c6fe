"""Who this node talks to: its parent (HC_PARENT_URL, key from the parent's centre record) and its children
(their centre records). Region codes name nodes; a node's subtree is its code prefix."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from registry.choices import CentreStatus
from registry.errors import DomainError
from registry.models import RegistrationCentre

NATION = "100000"


def parent_region_of(code: str) -> str | None:
    if code == NATION:
        return None
    if code[2:] == "0000":
        return NATION
    if code[4:] == "00":
        return code[:2] + "0000"
    return code[:4] + "00"


def subtree_prefix(code: str) -> str:
    """The code prefix of every region a node serves: '' for the nation, '61' for 610000, '6101' for 610100."""
    if code == NATION:
        return ""
    if code[2:] == "0000":
        return code[:2]
    return code[:4] if code[4:] == "00" else code


def in_subtree(origin: str, code: str) -> bool:
    return origin.startswith(subtree_prefix(code)) and (code == NATION or origin != NATION)


@dataclass(frozen=True)
class Peer:
    region: str
    url: str
    public_key: str


def _centre_key(region: str, what: str) -> str:
    centre = RegistrationCentre.objects.filter(region_id=region).first()
    if centre is None or not centre.public_key:
        raise DomainError(
            _(
                "Node %(region)s (%(what)s) has no registered centre with a public key here; register it first."
            ),
            {"region": region, "what": what},
            code="sync_peer_unknown",
        )
    if centre.status != CentreStatus.ACTIVE:
        raise DomainError(
            _("Node %(region)s is deregistered here; its bundles are refused."),
            {"region": region},
            code="sync_peer_deregistered",
        )
    return centre.public_key


def parent_peer() -> Peer:
    region = parent_region_of(settings.HC_REGION)
    if region is None:
        raise DomainError(_("The ministry has no parent node to sync with."), code="sync_no_parent")
    if not settings.HC_PARENT_URL:
        raise DomainError(
            _("HC_PARENT_URL is not set: this node does not know where its parent answers."),
            code="sync_no_parent_url",
        )
    return Peer(
        region=region, url=settings.HC_PARENT_URL.rstrip("/"), public_key=_centre_key(region, "parent")
    )


def child_peer(region: str) -> Peer:
    if parent_region_of(region) != settings.HC_REGION:
        raise DomainError(
            _("Node %(region)s is not a child of this node."), {"region": region}, code="sync_not_a_child"
        )
    centre_key = _centre_key(region, "child")
    url = RegistrationCentre.objects.filter(region_id=region).values_list("base_url", flat=True).first() or ""
    return Peer(region=region, url=url, public_key=centre_key)


def sender_key(sender: str, direction: str) -> str:
    """The public key a bundle from `sender` must be signed with: a child's going up, the parent's coming down."""
    from exchange.choices import Direction

    if direction == Direction.UP:
        return child_peer(sender).public_key
    parent = parent_region_of(settings.HC_REGION)
    if sender != parent:
        raise DomainError(
            _("Bundles come down only from this node's parent (%(parent)s), not from %(sender)s."),
            {"parent": parent or "-", "sender": sender},
            code="sync_not_parent",
        )
    return _centre_key(sender, "parent")
