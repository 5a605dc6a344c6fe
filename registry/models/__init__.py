"""The registry's models: the node's place in the tree and the mechanisms every app shares."""

from .audit import AuditEntry
from .centres import RegistrationCentre
from .exports import ExportJob
from .imports import ImportJob
from .journal import Counter, JournalEntry
from .lists import ListEntry
from .regions import Region
from .users import User

__all__ = [
    "AuditEntry",
    "Counter",
    "ExportJob",
    "ImportJob",
    "JournalEntry",
    "ListEntry",
    "Region",
    "RegistrationCentre",
    "User",
]
