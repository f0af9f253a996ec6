"""Valid, unique test identities: NIK (Central Java, Surakarta) and Indonesian mobile numbers.

The same scheme as lua/post_unique.lua, so Python drivers and wrk never collide when given
different salts.
"""

from __future__ import annotations


def identity(n: int) -> tuple[str, str]:
    """(NIK, E.164 phone) for counter n; unique for n below ~7.8e8."""
    serial = n % 9999 + 1
    n //= 9999
    district = n % 99 + 1
    n //= 99
    day = n % 28 + 1
    n //= 28
    month = n % 12 + 1
    n //= 12
    year = 71 + n % 29
    nik = f"3372{district:02d}{day:02d}{month:02d}{year:02d}{serial:04d}"
    phone = f"+62812{(serial * 99 + district) % 100_000_000:08d}"
    return nik, phone


def identities(count: int, salt: int) -> list[tuple[str, str]]:
    return [identity(salt * 1_000_000 + i) for i in range(count)]
