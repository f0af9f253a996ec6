"""How events refer to a person's NIK without carrying it: a keyed hash and a masked form."""

import hashlib
import hmac


def nik_hash(nik: str, secret: bytes) -> str:
    """HMAC-SHA256 of the 16-digit NIK: stable per secret, useless without it."""
    return hmac.new(secret, nik.encode("ascii"), hashlib.sha256).hexdigest()


def mask_nik(nik: str) -> str:
    """Keep the province/regency prefix and the last two digits: `3372**********01`."""
    if len(nik) != 16 or not nik.isdigit():
        raise ValueError("NIK must be 16 digits")
    return nik[:4] + "*" * 10 + nik[-2:]
