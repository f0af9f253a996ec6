"""Phone numbers with `phonenumbers` (Indonesian mobiles, E.164) and e-mail with email-validator."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_INDONESIA = 62


class LibraryContactRules:
    """The domain's ContactRules port, implemented with the two validation libraries."""

    def phone(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise ValueError("is required")
        try:
            number = phonenumbers.parse(text, "ID")
        except NumberParseException:
            raise ValueError(f"{text!r} is not a phone number") from None
        if number.country_code != _INDONESIA:
            raise ValueError("must be an Indonesian number (+62)")
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"{text!r} is not a valid Indonesian phone number")
        if phonenumbers.number_type(number) not in _MOBILE:
            raise ValueError(f"{text!r} is a landline; give a mobile number that can receive SMS")
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)

    def email(self, raw: str) -> str:
        try:
            result = validate_email(raw.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"is not a valid e-mail address: {exc}") from None
        return str(result.normalized)
