"""What a node sends: pages of its journal for the parent (up) or for one child (down)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from exchange.sync.bundle import Bundle, bundle_build
from exchange.sync.nodes import NATION, Peer, subtree_prefix
from exchange.sync.transport import row_for_transport
from registry.models import JournalEntry

BUNDLE_ROWS = 2000

# Kinds that travel down (ministry -> province -> city). Lists (registry.list_entry) and SAM plans join
# as their apps land.
DOWN_KINDS = ("registry.centre", "vendors.manufacturer", "vendors.product", "registry.list_entry")
# Kinds that only ever travel down: the ministry makes filings; a copy below never goes back up (even a row a
# lower node journaled under its own origin, e.g. demo seeds).
DOWN_ONLY_KINDS = ("vendors.manufacturer", "vendors.product")


def _subtree_q(code: str) -> Q:
    if code == NATION:
        return Q()
    return Q(origin_node__startswith=subtree_prefix(code))


def up_page(after: int, limit: int = BUNDLE_ROWS) -> list[JournalEntry]:
    """This node's journal after `after` that goes to the parent: rows born in this node's subtree (rows that
    came down from above are not sent back up)."""
    return list(
        JournalEntry.objects.filter(_subtree_q(settings.HC_REGION), seq__gt=after)
        .exclude(kind__in=DOWN_ONLY_KINDS)
        .order_by("seq")[:limit]
    )


def up_waiting(after: int) -> int:
    return (
        JournalEntry.objects.filter(_subtree_q(settings.HC_REGION), seq__gt=after)
        .exclude(kind__in=DOWN_ONLY_KINDS)
        .count()
    )


def down_page(child: str, after: int, limit: int = BUNDLE_ROWS) -> list[JournalEntry]:
    """The journal after `after` that goes down to `child`: the down kinds, except what the child sent up."""
    return list(
        JournalEntry.objects.filter(kind__in=DOWN_KINDS, seq__gt=after)
        .exclude(_subtree_q(child))
        .order_by("seq")[:limit]
    )


def page_bundle(entries: list[JournalEntry], *, peer: Peer, direction: str, after: int) -> Bundle:
    """A page of the journal (rows after `after`) as a bundle from this node to `peer`, encrypted to it: the one
    way a push, a pull and a bundle file are made."""
    return bundle_build(
        [row_for_transport(entry) for entry in entries],
        sender=settings.HC_REGION,
        receiver=peer.region,
        receiver_pem=peer.public_key,
        direction=direction,
        first_seq=after + 1,
        last_seq=entries[-1].seq,
    )
