"""Where a participant can pay the monthly contribution: data the messages render from.

The SMS names only the channels marked `in_sms` (one segment has room for a few short names);
the e-mail names them all. Change this table, not the templates, when the channels change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentChannel:
    #: label per message language
    label: dict[str, str]
    in_sms: bool = False


PAYMENT_CHANNELS: tuple[PaymentChannel, ...] = (
    PaymentChannel({"id": "Indomaret", "en": "Indomaret"}, in_sms=True),
    PaymentChannel({"id": "Alfamart", "en": "Alfamart"}, in_sms=True),
    PaymentChannel({"id": "JMO", "en": "JMO"}, in_sms=True),
    PaymentChannel({"id": "Kantor Pos", "en": "the post office (Kantor Pos)"}),
    PaymentChannel({"id": "bank", "en": "banks"}),
    PaymentChannel({"id": "dompet digital", "en": "e-wallets"}),
)


def sms_channels(language: str, table: tuple[PaymentChannel, ...] = PAYMENT_CHANNELS) -> str:
    """`Indomaret/Alfamart/JMO`: the slash keeps a list short and needs no `and`/`dan`."""
    return "/".join(channel.label[language] for channel in table if channel.in_sms)


def all_channels(language: str, table: tuple[PaymentChannel, ...] = PAYMENT_CHANNELS) -> list[str]:
    return [channel.label[language] for channel in table]
