"""Phone numbers with `phonenumbers` (Indonesian mobiles, E.164) and e-mail with email-validator."""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_INDONESIA = 62
#: How officers usually write a mobile: 0812… or +62 812…, with spaces, dashes, dots. (A bare
#: 62… is ambiguous with a national number, so phonenumbers' own parser decides that one.)
_USUAL = re.compile(r"(?:\+62|0)(8\d{6,12})")
_SEPARATORS = str.maketrans("", "", " -.()")


class LibraryContactRules:
    """The domain's ContactRules port, implemented with the two validation libraries."""

    def phone(self, raw: str) -> str:
        text = raw.strip()
        if not text:
            raise ValueError("is required")
        number = self._parse(text)
        if number.country_code != _INDONESIA:
            raise ValueError("must be an Indonesian number (+62)")
        # number_type is UNKNOWN exactly when the number is not valid for Indonesia, so one
        # call answers both questions (is_valid_number would compute the type again).
        kind = phonenumbers.number_type(number)
        if kind == PhoneNumberType.UNKNOWN:
            raise ValueError(f"{text!r} is not a valid Indonesian phone number")
        if kind not in _MOBILE:
            raise ValueError(f"{text!r} is a landline; give a mobile number that can receive SMS")
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)

    @staticmethod
    def _parse(text: str) -> PhoneNumber:
        usual = _USUAL.fullmatch(text.translate(_SEPARATORS))
        if usual:  # the common case, without phonenumbers' general (and slower) parser
            return PhoneNumber(country_code=_INDONESIA, national_number=int(usual[1]))
        try:
            return phonenumbers.parse(text, "ID")
        except NumberParseException:
            raise ValueError(f"{text!r} is not a phone number") from None

    def email(self, raw: str) -> str:
        try:
            result = validate_email(raw.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"is not a valid e-mail address: {exc}") from None
        return str(result.normalized)
