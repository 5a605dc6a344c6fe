"""Models of the exchange app, one module per area (hospital: partner interfaces)."""

from exchange.models.hospital import ElectronicHealthCard, IdempotencyRecord  # noqa: F401
