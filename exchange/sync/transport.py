"""Journal rows as they travel: personal fields opened at the sender (the bundle body is encrypted to the
receiver instead) and sealed again with the receiver's own keys before it journals them.

In a journal payload a personal field is {"sealed": token, "json": bool} (registry.protection.seal_payload);
in transport it is {"open": text, "json": bool}; `payload_clear` gives the values an applier works with.
"""

from __future__ import annotations

import json

from cards.actions.common import HOLDER_BATCH_CONTEXT, HOLDER_BATCH_KIND
from registry.models import JournalEntry
from registry.protection import JOURNAL_CONTEXT, unseal

# Sealed fields whose encryption context is not the default journal.<field>.
SEAL_CONTEXTS = {HOLDER_BATCH_KIND: {"personal": HOLDER_BATCH_CONTEXT}}


def _context(kind: str, field: str) -> str:
    return SEAL_CONTEXTS.get(kind, {}).get(field, f"{JOURNAL_CONTEXT}.{field}")


def payload_open(kind: str, payload: dict) -> dict:
    opened = dict(payload)
    for field, value in payload.items():
        if isinstance(value, dict) and "sealed" in value:
            rest = {k: v for k, v in value.items() if k != "sealed"}
            opened[field] = {"open": unseal(value["sealed"], context=_context(kind, field)), **rest}
    return opened


def payload_seal(kind: str, payload: dict) -> dict:
    return PayloadSealer().seal(kind, payload)


class PayloadSealer:
    """payload_seal for the many rows of a bundle: registry.protection.seal's token, with the key ring, the cipher
    and each field's encryption context looked up once (cards.actions.holders.BulkSealer) instead of once per
    value."""

    def __init__(self):
        from cards.actions.holders import BulkSealer

        self.sealer = BulkSealer()
        self.contexts: dict[tuple[str, str], bytes] = {}

    def seal(self, kind: str, payload: dict) -> dict:
        return self.seal_and_clear(kind, payload)[0]

    def seal_and_clear(self, kind: str, payload: dict) -> tuple[dict, dict]:
        """(payload_seal(kind, payload), payload_clear(payload)) in one pass over the fields."""
        sealed, clear = dict(payload), dict(payload)
        for field, value in payload.items():
            if isinstance(value, dict) and "open" in value:
                context = self.contexts.get((kind, field))
                if context is None:
                    context = self.contexts[kind, field] = _context(kind, field).encode()
                rest = dict(value)
                text = rest.pop("open")
                sealed[field] = {"sealed": self.sealer.seal(text, context), **rest}
                clear[field] = json.loads(text) if value.get("json") else text
        return sealed, clear


def payload_clear(payload: dict) -> dict:
    clear = dict(payload)
    for field, value in payload.items():
        if isinstance(value, dict) and "open" in value:
            clear[field] = json.loads(value["open"]) if value.get("json") else value["open"]
    return clear


def row_for_transport(entry: JournalEntry) -> dict:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "key": entry.key,
        "op": entry.op,
        "origin_node": entry.origin_node,
        "origin_seq": entry.origin_seq,
        "created_at": entry.created_at.isoformat(),
        "payload": payload_open(entry.kind, entry.payload),
    }
