"""Models of the exchange app, one module per area: tier sync (`sync.py`) and the partner interfaces (`hospital.py`)."""

from exchange.models.hospital import ElectronicHealthCard, IdempotencyRecord
from exchange.models.sync import (
    InboundBundle,
    ReconcileReport,
    SyncCheckpoint,
    SyncRun,
    UniquenessConflict,
)

__all__ = [
    "ElectronicHealthCard",
    "IdempotencyRecord",
    "InboundBundle",
    "ReconcileReport",
    "SyncCheckpoint",
    "SyncRun",
    "UniquenessConflict",
]
