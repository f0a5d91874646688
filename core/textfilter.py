"""What a short note between people may not carry: links, @handles, phone numbers, e-mail addresses.

Used for family notes (and the peer team's cheers): anonymity both ways, and no way to pull
someone out of the bot. Full-width characters are folded first, so ｈｔｔｐ or ０９０ do not slip by.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

MAX_NOTE_LENGTH = 300


class Refusal(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    LINK = "link"
    HANDLE = "handle"
    PHONE = "phone"
    EMAIL = "email"


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w.])@[a-z0-9_]{3,}", re.IGNORECASE)
_LINK = re.compile(
    r"(https?://|www\.|t\.me/|telegram\.me/|tg://|\b[\w-]+\.(com|net|org|jp|io|me|co|info|app|ly|gg)\b)",
    re.IGNORECASE,
)
# Eight or more digits, allowing spaces, dots, dashes and brackets between them.
_PHONE = re.compile(r"(?:\+?\d[\s().\-]*){8,}")


def check_note(text: str, max_length: int = MAX_NOTE_LENGTH) -> Refusal | None:
    """None if the note may go; otherwise why not (the reply names the reason kindly)."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if not folded:
        return Refusal.EMPTY
    if len(folded) > max_length:
        return Refusal.TOO_LONG
    if _EMAIL.search(folded):
        return Refusal.EMAIL
    if _LINK.search(folded):
        return Refusal.LINK
    if _HANDLE.search(folded):
        return Refusal.HANDLE
    if _PHONE.search(folded):
        return Refusal.PHONE
    return None
