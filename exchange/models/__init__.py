"""Models of the exchange app: tier sync in `sync.py` (the hospital API's models live beside it)."""

from exchange.models.sync import (
    InboundBundle,
    ReconcileReport,
    SyncCheckpoint,
    SyncRun,
    UniquenessConflict,
)

__all__ = ["InboundBundle", "ReconcileReport", "SyncCheckpoint", "SyncRun", "UniquenessConflict"]
