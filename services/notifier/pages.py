"""The small pages a person sees at /unsubscribe, in Bahasa Indonesia (the e-mails' language
by default; an English line under each for the few who chose English).

Plain strings with every variable escaped: four fixed pages do not need a template engine.
"""

from __future__ import annotations

from html import escape

from services.notifier.domain.unsubscribe import TokenRefused

_STYLE = (
    "body{font-family:Arial,sans-serif;color:#1b1b1b;max-width:560px;margin:2em auto;"
    "padding:0 1em}h1{color:#0b6e4f;font-size:20px}button{background:#0b6e4f;color:#fff;"
    "border:0;padding:.7em 1.2em;font-size:16px;border-radius:4px}small{color:#555}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>BPJS Ketenagakerjaan — Kerja Keras Bebas Cemas</h1>{body}</body></html>"
    )


def confirm(contact: str) -> str:
    """GET: nothing changes until the button is pressed (mail scanners follow links)."""
    return _page(
        "Berhenti menerima e-mail",
        "<p>Anda akan berhenti menerima e-mail pengingat iuran dan informasi program dari "
        "BPJS Ketenagakerjaan di alamat e-mail ini.</p>"
        "<p>SMS tidak berubah: untuk berhenti menerima SMS, balas <strong>BERHENTI</strong> "
        f"ke SMS kami. Pertanyaan: {escape(contact)}.</p>"
        # action "": the form posts to this very URL, token included (RFC 8058's POST)
        '<form method="post" action="">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Berhenti berlangganan</button></form>'
        "<p><small>Press the button to stop these e-mails.</small></p>",
    )


def done() -> str:
    return _page(
        "Anda sudah berhenti berlangganan",
        "<p>Permintaan Anda sudah kami terima: e-mail dari program ini berhenti dalam "
        "beberapa menit. Kepesertaan Anda di BPJS Ketenagakerjaan tidak berubah.</p>"
        "<p><small>Done: these e-mails stop within minutes. Your membership is unchanged."
        "</small></p>",
    )


def refused(problem: TokenRefused, contact: str) -> str:
    why = (
        "Tautan ini sudah kedaluwarsa. Gunakan tautan di e-mail kami yang terbaru"
        if problem.expired
        else "Tautan ini tidak lengkap atau telah diubah. Salin tautan dari e-mail secara utuh"
    )
    return _page(
        "Tautan tidak berlaku",
        f"<p>{why}, atau hubungi {escape(contact)}. Tidak ada yang berubah.</p>"
        f"<p><small>This link does not work ({escape(problem.reason)}). "
        "Nothing was changed.</small></p>",
    )


def not_one_click() -> str:
    return _page(
        "Permintaan tidak lengkap",
        "<p>Permintaan ini tidak berisi <code>List-Unsubscribe=One-Click</code>. Buka tautan "
        "di e-mail dan tekan tombol <strong>Berhenti berlangganan</strong>. Tidak ada yang "
        "berubah.</p><p><small>List-Unsubscribe: the form field must be One-Click (RFC 8058)."
        "</small></p>",
    )
