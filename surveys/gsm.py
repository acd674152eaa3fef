"""GSM 03.38: which characters an SMS can carry in the 7-bit alphabet, and how many segments a
text costs. One character outside the alphabet turns the whole message into UCS-2, which holds
70 characters instead of 160 (and Spanish á í ó ú are outside it).
"""

from __future__ import annotations

import math
import unicodedata
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The basic set costs one septet each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table costs two (an escape, then the character).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE = 160
GSM7_CONCATENATED = 153
UCS2_SINGLE = 70
UCS2_CONCATENATED = 67

# Look-alikes a word processor slips in, with the GSM-7 character that reads the same.
_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
}


def is_gsm7(ch: str) -> bool:
    return ch in GSM7_BASIC or ch in GSM7_EXTENSION


def sms_segments(text: str) -> tuple[Encoding, int, int]:
    """(encoding, units, segments) for this text: units are septets for GSM-7 (an extension
    character counts two) and UTF-16 code units for UCS-2 (an emoji counts two)."""
    if all(is_gsm7(ch) for ch in text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        if septets <= GSM7_SINGLE:
            return "GSM-7", septets, 1 if septets else 0
        return "GSM-7", septets, math.ceil(septets / GSM7_CONCATENATED)
    units = len(text.encode("utf-16-le")) // 2
    if units <= UCS2_SINGLE:
        return "UCS-2", units, 1
    return "UCS-2", units, math.ceil(units / UCS2_CONCATENATED)


def non_gsm_chars(text: str) -> list[str]:
    """The characters outside GSM-7, each once, in the order they first appear."""
    seen: dict[str, None] = {}
    for ch in text:
        if not is_gsm7(ch):
            seen.setdefault(ch, None)
    return list(seen)


def extension_chars(text: str) -> list[str]:
    """The characters that cost two septets, each once, in order."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch in GSM7_EXTENSION:
            seen.setdefault(ch, None)
    return list(seen)


def gsm_suggestion(ch: str) -> str | None:
    """A GSM-7 replacement for a character outside the alphabet ('á' -> 'a', a curly
    apostrophe -> "'"), or None when there is no honest one (an emoji)."""
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    # Drop the accent: NFKD splits 'á' into 'a' and a combining mark.
    stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if stripped and stripped != ch and all(is_gsm7(c) for c in stripped):
        return stripped
    return None
