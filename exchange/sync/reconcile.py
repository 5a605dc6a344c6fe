"""Reconciliation: per-kind counts and digests of what a child sent up, computed at both ends and compared.

Two measures per kind: the journal rows born in the child's subtree (count and an order-free digest of their
origins, keys and operations) and the rows of the copy tables in the child's region (institutions, holders,
cards, events), so a row deleted behind the sync's back shows as drift even when the journal is intact.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from django.conf import settings
from django.db.models import Count

from cards.models import Card, CardEvent, Resident
from exchange.sync.nodes import subtree_prefix
from exchange.sync.outbox import _subtree_q
from institutions.models import CardMaker, FinancialInstitution, MedicalInstitution
from registry.models import JournalEntry

MASK = (1 << 64) - 1

TABLES = {
    "institutions.medical": MedicalInstitution,
    "institutions.cardmaker": CardMaker,
    "institutions.financial": FinancialInstitution,
    "cards.holder": Resident,
    "cards.card": Card,
    "cards.event": CardEvent,
}


def journal_digest(node: str, *, upto: int | None = None) -> dict[str, dict]:
    """Per kind: count and digest of the journal rows born in `node`'s subtree (up to this node's seq `upto`)."""
    rows = JournalEntry.objects.filter(_subtree_q(node))
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for kind, key, op, origin, seq in rows.values_list(
        "kind", "key", "op", "origin_node", "origin_seq"
    ).iterator(chunk_size=5000):
        digest = hashlib.sha256(f"{origin}:{seq}:{kind}:{key}:{op}".encode()).digest()
        total = totals[kind]
        total[0] += 1
        total[1] = (total[1] + int.from_bytes(digest[:8], "big")) & MASK
    return {
        kind: {"count": count, "digest": f"{digest:016x}"} for kind, (count, digest) in sorted(totals.items())
    }


def table_counts(node: str) -> dict[str, int]:
    prefix = subtree_prefix(node)
    counts = {}
    for kind, model in TABLES.items():
        counts[kind] = model.objects.filter(region__code__startswith=prefix).aggregate(n=Count("pk"))["n"]
    return counts


def digest_of(node: str, *, upto: int | None = None) -> dict:
    return {"node": node, "journal": journal_digest(node, upto=upto), "tables": table_counts(node)}


def drift_between(here: dict, parent: dict) -> list[dict]:
    drift = []
    for kind in sorted(set(here["journal"]) | set(parent["journal"])):
        mine, theirs = here["journal"].get(kind), parent["journal"].get(kind)
        if mine != theirs:
            drift.append(
                {
                    "kind": kind,
                    "measure": "journal",
                    "here": (mine or {}).get("count", 0),
                    "parent": (theirs or {}).get("count", 0),
                }
            )
    for kind in sorted(set(here["tables"]) | set(parent["tables"])):
        mine, theirs = here["tables"].get(kind, 0), parent["tables"].get(kind, 0)
        if mine != theirs:
            drift.append({"kind": kind, "measure": "rows", "here": mine, "parent": theirs})
    return drift


def local_digest_for_parent(*, acknowledged: int) -> dict:
    return digest_of(settings.HC_REGION, upto=acknowledged)
