"""Which links a message may carry: only ones on the agency's official domain."""

from __future__ import annotations

from urllib.parse import urlsplit

#: longest official domain an SMS carries: the agency's own, which the templates are sized for
SMS_DOMAIN_MAX = len("bpjsketenagakerjaan.go.id")


def on_domain(url: str, domain: str) -> bool:
    """True for an https URL whose host is `domain` or one of its subdomains.

    A look-alike such as `bpjsketenagakerjaan.go.id.example` or `evil-bpjsketenagakerjaan.go.id`
    is not on the domain; plain http is refused because a link people should trust must not
    be open to tampering on the way.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    wanted = domain.lower().strip(".")
    return parts.scheme == "https" and (host == wanted or host.endswith("." + wanted))
