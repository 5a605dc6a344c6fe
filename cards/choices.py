"""Choices of the cards app: codes follow the national standards the card data set uses (GB/T 2261.1 sex,
GB 3304 ethnicity, GB/T 2261.2 marital status, GB/T 4658 education), labels are translatable."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Sex(models.TextChoices):
    UNKNOWN = "0", _("Unknown")
    MALE = "1", _("Male")
    FEMALE = "2", _("Female")
    UNSPECIFIED = "9", pgettext_lazy("sex", "Unspecified")


class Ethnicity(models.TextChoices):
    """GB 3304-1991 codes of the 56 ethnic groups, plus 97 (other) and 98 (foreign-born naturalised)."""

    HAN = "01", pgettext_lazy("ethnicity", "Han")
    MONGOL = "02", pgettext_lazy("ethnicity", "Mongol")
    HUI = "03", pgettext_lazy("ethnicity", "Hui")
    TIBETAN = "04", pgettext_lazy("ethnicity", "Tibetan")
    UYGHUR = "05", pgettext_lazy("ethnicity", "Uyghur")
    MIAO = "06", pgettext_lazy("ethnicity", "Miao")
    YI = "07", pgettext_lazy("ethnicity", "Yi")
    ZHUANG = "08", pgettext_lazy("ethnicity", "Zhuang")
    BOUYEI = "09", pgettext_lazy("ethnicity", "Bouyei")
    KOREAN = "10", pgettext_lazy("ethnicity", "Korean")
    MANCHU = "11", pgettext_lazy("ethnicity", "Manchu")
    DONG = "12", pgettext_lazy("ethnicity", "Dong")
    YAO = "13", pgettext_lazy("ethnicity", "Yao")
    BAI = "14", pgettext_lazy("ethnicity", "Bai")
    TUJIA = "15", pgettext_lazy("ethnicity", "Tujia")
    HANI = "16", pgettext_lazy("ethnicity", "Hani")
    KAZAKH = "17", pgettext_lazy("ethnicity", "Kazakh")
    DAI = "18", pgettext_lazy("ethnicity", "Dai")
    LI = "19", pgettext_lazy("ethnicity", "Li")
    LISU = "20", pgettext_lazy("ethnicity", "Lisu")
    VA = "21", pgettext_lazy("ethnicity", "Va")
    SHE = "22", pgettext_lazy("ethnicity", "She")
    GAOSHAN = "23", pgettext_lazy("ethnicity", "Gaoshan")
    LAHU = "24", pgettext_lazy("ethnicity", "Lahu")
    SUI = "25", pgettext_lazy("ethnicity", "Sui")
    DONGXIANG = "26", pgettext_lazy("ethnicity", "Dongxiang")
    NAXI = "27", pgettext_lazy("ethnicity", "Naxi")
    JINGPO = "28", pgettext_lazy("ethnicity", "Jingpo")
    KYRGYZ = "29", pgettext_lazy("ethnicity", "Kyrgyz")
    TU = "30", pgettext_lazy("ethnicity", "Tu")
    DAUR = "31", pgettext_lazy("ethnicity", "Daur")
    MULAO = "32", pgettext_lazy("ethnicity", "Mulao")
    QIANG = "33", pgettext_lazy("ethnicity", "Qiang")
    BLANG = "34", pgettext_lazy("ethnicity", "Blang")
    SALAR = "35", pgettext_lazy("ethnicity", "Salar")
    MAONAN = "36", pgettext_lazy("ethnicity", "Maonan")
    GELAO = "37", pgettext_lazy("ethnicity", "Gelao")
    XIBE = "38", pgettext_lazy("ethnicity", "Xibe")
    ACHANG = "39", pgettext_lazy("ethnicity", "Achang")
    PUMI = "40", pgettext_lazy("ethnicity", "Pumi")
    TAJIK = "41", pgettext_lazy("ethnicity", "Tajik")
    NU = "42", pgettext_lazy("ethnicity", "Nu")
    UZBEK = "43", pgettext_lazy("ethnicity", "Uzbek")
    RUSSIAN = "44", pgettext_lazy("ethnicity", "Russian")
    EWENKI = "45", pgettext_lazy("ethnicity", "Ewenki")
    DEANG = "46", pgettext_lazy("ethnicity", "De'ang")
    BONAN = "47", pgettext_lazy("ethnicity", "Bonan")
    YUGUR = "48", pgettext_lazy("ethnicity", "Yugur")
    GIN = "49", pgettext_lazy("ethnicity", "Gin")
    TATAR = "50", pgettext_lazy("ethnicity", "Tatar")
    DERUNG = "51", pgettext_lazy("ethnicity", "Derung")
    OROQEN = "52", pgettext_lazy("ethnicity", "Oroqen")
    HEZHEN = "53", pgettext_lazy("ethnicity", "Hezhen")
    MONBA = "54", pgettext_lazy("ethnicity", "Monba")
    LHOBA = "55", pgettext_lazy("ethnicity", "Lhoba")
    JINO = "56", pgettext_lazy("ethnicity", "Jino")
    OTHER = "97", pgettext_lazy("ethnicity", "Other ethnicity")
    NATURALISED = "98", pgettext_lazy("ethnicity", "Naturalised foreign-born")


class DocumentType(models.TextChoices):
    ID_CARD = "01", _("Resident identity card")
    HOUSEHOLD = "02", _("Household register")
    PASSPORT = "03", _("Passport")
    MILITARY = "04", _("Military officer certificate")
    HK_MACAO = "06", _("Mainland travel permit for Hong Kong and Macao residents")
    TAIWAN = "07", _("Mainland travel permit for Taiwan residents")
    FOREIGN_RESIDENCE = "08", _("Foreigner's permanent residence ID card")
    OTHER = "99", _("Other document")


class AddressType(models.TextChoices):
    HOUSEHOLD = "1", _("Household registration address")
    RESIDENCE = "2", _("Residence address")
    WORK = "3", _("Work address")
    OTHER = "9", _("Other address")


class ContactRelation(models.TextChoices):
    SPOUSE = "1", _("Spouse")
    CHILD = "2", _("Child")
    PARENT = "3", _("Parent")
    SIBLING = "4", _("Sibling")
    GRANDPARENT = "5", _("Grandparent")
    GUARDIAN = "6", _("Guardian")
    OTHER = "9", _("Other")


class Education(models.TextChoices):
    """GB/T 4658 education, first digit."""

    POSTGRADUATE = "1", _("Postgraduate")
    UNIVERSITY = "2", _("University")
    COLLEGE = "3", _("Junior college")
    SECONDARY_VOCATIONAL = "4", _("Secondary vocational school")
    TECHNICAL = "5", _("Technical school")
    HIGH_SCHOOL = "6", _("Senior high school")
    JUNIOR_HIGH = "7", _("Junior high school")
    PRIMARY = "8", _("Primary school")
    NONE = "9", _("Illiterate or semi-literate")


class MaritalStatus(models.TextChoices):
    """GB/T 2261.2, first digit (the card stores CN1)."""

    UNMARRIED = "1", _("Unmarried")
    MARRIED = "2", _("Married")
    WIDOWED = "3", _("Widowed")
    DIVORCED = "4", _("Divorced")
    UNSPECIFIED = "9", pgettext_lazy("marital status", "Unspecified")


class ApplicationChannel(models.TextChoices):
    COUNTER = "counter", _("Centre counter")
    BANK = "bank", _("Bank branch")
    KIOSK = "kiosk", _("Hospital self-service kiosk")
    BATCH = "batch", _("Batch application")
    ONLINE = "online", _("Online")
    ONSITE = "onsite", _("On-site instant issuance")


class ApplicantKind(models.TextChoices):
    HOLDER = "holder", _("The holder")
    GUARDIAN = "guardian", _("Guardian")


class ApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    CITY_APPROVED = "city_approved", _("Approved by the city, awaiting the province")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    IN_PLAN = "in_plan", _("In a production plan")
    PRODUCED = "produced", _("Card produced")
    FAILED = "failed", _("Production failed")
    COMPLETED = "completed", _("Card issued")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ReviewLevel(models.TextChoices):
    CITY = "city", _("City review")
    PROVINCE = "province", _("Province review")


class ReviewDecision(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    IN_PRODUCTION = "in_production", _("In production")
    COMPLETED = "completed", _("Completed")
    CLOSED = "closed", _("Closed")


class PlanItemStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PRODUCED = "produced", _("Produced")
    FAILED = "failed", _("Failed")


class CardStatus(models.TextChoices):
    ISSUING = "issuing", _("Being issued on site")
    IN_STOCK = "in_stock", _("In stock")
    DISPATCHED = "dispatched", _("Dispatched")
    AWAITING_COLLECTION = "awaiting_collection", _("Awaiting collection")
    ACTIVE = "active", pgettext_lazy("card status", "Active")
    LOST = "lost", _("Lost (on hold)")
    CANCELLED = "cancelled", _("Cancelled")
    REPLACED = "replaced", _("Replaced")


class ShipmentStatus(models.TextChoices):
    PREPARING = "preparing", _("Preparing")
    SHIPPED = "shipped", _("Shipped")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    SIGNED = "signed", _("Signed for")
    RETURNED = "returned", _("Returned")


class CardEventKind(models.TextChoices):
    HOLDER_REGISTERED = "holder_registered", _("Holder registered")
    HOLDER_CHANGED = "holder_changed", _("Holder data changed")
    APPLIED = "applied", _("Application submitted")
    REVIEWED = "reviewed", _("Application reviewed")
    WITHDRAWN = "withdrawn", _("Application withdrawn")
    PLANNED = "planned", _("Added to a production plan")
    PRODUCED = "produced", _("Card produced")
    PRODUCTION_FAILED = "production_failed", _("Production failed")
    STOCKED_IN = "stocked_in", _("Stocked in")
    DISPATCHED = "dispatched", _("Dispatched")
    DELIVERED = "delivered", _("Delivered to the issuing point")
    ALLOCATED = "allocated", _("Allocated for on-site issuance")
    COLLECTED = "collected", _("Collected and activated")
    ACTIVATED = "activated", _("Activated")
    # Cards II: maintenance (卡应用维护), the blacklist and the death registry.
    LOSS_REPORTED = "loss_reported", _("Loss reported (on hold)")
    LOSS_REVOKED = "loss_revoked", _("Loss report revoked")
    REPLACED = "replaced", _("Replaced by a new card")
    REPLACEMENT = "replacement", _("Issued as a replacement")
    CANCELLED = "cancelled", pgettext_lazy("card event", "Cancelled")
    RESTORED = "restored", _("Restored by a correction")
    BLACKLISTED = "blacklisted", _("Put on the blacklist")
    UNBLACKLISTED = "unblacklisted", _("Taken off the blacklist")
    PERSON_BLACKLISTED = "person_blacklisted", _("Person put on the blacklist")
    PERSON_UNBLACKLISTED = "person_unblacklisted", _("Person taken off the blacklist")
    CARD_CHANGED = "card_changed", _("Card data changed")


class ReplacementReason(models.TextChoices):
    LOST = "lost", _("Card lost")
    DAMAGED = "damaged", _("Card damaged")
    DATA_CHANGED = "data_changed", _("Card-face data changed")


class CancellationReason(models.TextChoices):
    DEATH = "death", _("Holder died")
    REQUEST = "request", _("Holder's request")
    DUPLICATE = "duplicate", _("Duplicate card")
    EMIGRATION = "emigration", _("Holder emigrated")
    ERROR = "error", _("Issued in error")


class DeathRecordStatus(models.TextChoices):
    APPLIED = "applied", _("Applied (cards cancelled)")
    NO_CARD = "no_card", _("No card to cancel")
    NO_MATCH = "no_match", _("No matching holder")
    CORRECTED = "corrected", _("Corrected (cards restored)")


# What a hospital or a bank may change on a holder (never identity): the hospital API uses this list.
HOLDER_CONTACT_FIELDS = (
    "address1_type",
    "address1",
    "address2_type",
    "address2",
    "phone1",
    "phone2",
    "contacts",
)
# What a hospital may change on a card (never its number, chip or state).
CARD_INFO_FIELDS = ("expires_on",)
