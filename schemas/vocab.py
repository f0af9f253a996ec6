"""Closed vocabularies shared by every event: channels, languages, sources, programmes.

Occupation segments and branches are *data* (they change without a release), so events carry
them as plain codes; the enrollment service validates them against its reference tables.
"""

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"


class Language(StrEnum):
    INDONESIAN = "id"
    ENGLISH = "en"


class Source(StrEnum):
    FIELD = "field"
    WEB = "web"
    IMPORT = "import"


class Programme(StrEnum):
    JKK = "JKK"  # work-accident cover
    JKM = "JKM"  # death cover
    JHT = "JHT"  # old-age savings (optional for informal workers)


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class MessageKind(StrEnum):
    WELCOME = "welcome"
    REMINDER_D7 = "contribution_due_d7"
    REMINDER_D1 = "contribution_due_d1"
    REMINDER_OVERDUE = "contribution_overdue"
    JHT_CLAIM = "jht_claim"
    CAMPAIGN = "campaign_announcement"
    REACTIVATION = "reactivation"  # the one message after a lapse: what is owed


class IndonesianTimeZone(StrEnum):
    """The three zones of Indonesia, as IANA names."""

    WIB = "Asia/Jakarta"  # UTC+7
    WITA = "Asia/Makassar"  # UTC+8
    WIT = "Asia/Jayapura"  # UTC+9
