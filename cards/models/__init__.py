"""The cards app's models: holders, applications, production, stock and logistics, the card and its events."""

from .applications import Application, ApplicationBatch, ApplicationReview
from .cards import Card, CardEvent
from .holders import Resident
from .maintenance import DeathRecord, PersonBlacklistEntry
from .production import PlanItem, ProductionPlan
from .stock import Shipment, StockIn, StockOut
from .uses import CardUse, CardUseBatch, CardUseDaily, CardUseScenario  # noqa: F401  (card use, its own area)

__all__ = [
    "Application",
    "ApplicationBatch",
    "ApplicationReview",
    "Card",
    "CardEvent",
    "DeathRecord",
    "PersonBlacklistEntry",
    "PlanItem",
    "ProductionPlan",
    "Resident",
    "Shipment",
    "StockIn",
    "StockOut",
]
