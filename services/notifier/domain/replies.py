"""What an SMS reply asks for: the words that stop SMS, as people type them.

`Balas BERHENTI` ends every non-transactional SMS (render.STOP_LINES); people also answer with
the English STOP (the `en` templates say it), and Indonesian operators taught everyone
`UNREG <service>` for premium SMS. The first word counts, so `UNREG BPJS`, `stop ya` and
`Berhenti.` all stop; case, surrounding blanks and punctuation stuck to the word do not matter.
Anything else (`berhenti kirim besok?` starts with the word too, and stops) is not a request:
a reply such as `sudah bayar` changes nothing.
"""

from __future__ import annotations

import string

STOP_WORDS = frozenset({"STOP", "BERHENTI", "UNREG", "UNSUBSCRIBE"})
#: punctuation people put after (or before) the word: `STOP!`, `"berhenti"`, `Stop.`
_TRIM = string.punctuation + "\u201c\u201d\u2018\u2019"


def stop_word(text: str) -> str | None:
    """The stop word a reply starts with, upper-cased (None: the reply asks nothing of us)."""
    words = text.split()
    if not words:
        return None
    word = words[0].strip(_TRIM).upper()
    return word if word in STOP_WORDS else None
