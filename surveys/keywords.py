"""What a debtor's SMS reply means: an opt-out or opt-in keyword (../DOMAIN.md rule 5), a score
from 0 to 10, or free text, and whether free text sounds like "stop writing to me".

A keyword counts only when it is the whole message, after trimming, upper-casing and removing
accents and punctuation ("Stop!", " baja. ", "Basta"); "STOP PLEASE" is not a keyword (as at
Twilio), but it does sound like an opt-out, so it goes to the review queue.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

KeywordKind = Literal["opt_out", "opt_in"]

OPT_OUT_KEYWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    ),
    "it": frozenset({"STOP", "ANNULLA", "CANCELLA", "BASTA", "DISISCRIVIMI", "RIMUOVI"}),
    "es": frozenset({"STOP", "BAJA", "ALTO", "PARAR", "DETENER", "CANCELAR"}),
}
OPT_IN_KEYWORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"START", "YES", "UNSTOP"}),
    "it": frozenset({"START", "SI", "ISCRIVIMI"}),
    "es": frozenset({"START", "ALTA", "SI"}),
}
ALL_OPT_OUT: frozenset[str] = frozenset().union(*OPT_OUT_KEYWORDS.values())
ALL_OPT_IN: frozenset[str] = frozenset().union(*OPT_IN_KEYWORDS.values())
# "Yes" and "si" are everyday words: they opt back in only a number that is opted out; from
# anyone else they are just text.
WEAK_OPT_IN: frozenset[str] = frozenset({"YES", "SI"})

_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACES = re.compile(r"\s+")
_SCORE = re.compile(r"^\s*(\d{1,2})\s*(?:/\s*10)?\s*[.!]?\s*$")


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalise(text: str) -> str:
    """Trim, upper-case, remove accents and punctuation, collapse spaces: ' Basta! ' -> 'BASTA',
    'Sì' -> 'SI', 'Opt-out' -> 'OPTOUT'."""
    text = strip_accents(text).upper()
    text = _PUNCTUATION.sub("", text)
    return _SPACES.sub(" ", text).strip()


def _words(text: str) -> str:
    """Like `normalise`, but punctuation separates words ("don't" -> "DON T")."""
    text = _PUNCTUATION.sub(" ", strip_accents(text).upper())
    return _SPACES.sub(" ", text).strip()


def keyword_language(word: str) -> str | None:
    """The one language a keyword belongs to, or None when it is shared (STOP, START, SI)."""
    languages = [
        lang
        for lang in ("it", "es", "en")
        if word in OPT_OUT_KEYWORDS[lang] or word in OPT_IN_KEYWORDS[lang]
    ]
    return languages[0] if len(languages) == 1 else None


def keyword_kind(text: str, *, opted_out: bool) -> KeywordKind | None:
    """'opt_out' or 'opt_in' when the whole message is one keyword, else None."""
    word = normalise(text)
    if word in ALL_OPT_OUT:
        return "opt_out"
    if word in ALL_OPT_IN and (opted_out or word not in WEAK_OPT_IN):
        return "opt_in"
    return None


def parse_score(text: str) -> int | None:
    """A reply that is only a score from 0 to 10: '9', ' 9 ', '9/10', '9 / 10', '10.'.
    Anything else (including '11' and '9,5') is None."""
    match = _SCORE.match(text)
    if match is None:
        return None
    score = int(match.group(1))
    return score if 0 <= score <= 10 else None


# Phrases (lower case, accents removed, punctuation replaced by spaces) that ask us to stop.
# They are matched anywhere in the message whatever the invitation's language, because a
# debtor may answer in another one. A false alarm costs a supervisor one click; a miss would
# keep writing to someone who asked us not to.
_STOP_PHRASES: dict[str, tuple[str, ...]] = {
    "it": (
        r"\bnon (?:mi |ci )?(?:scrivete|scrivetemi|scrivermi|scriverci|mandate|mandatemi|"
        r"inviate|inviatemi|contattate|contattatemi|contattarmi|disturbate|disturbatemi|"
        r"cercate|cercatemi|chiamate|chiamatemi|chiamarmi)\b",
        r"\bnon (?:voglio|vogliamo|desidero) (?:piu )?(?:ricevere )?(?:altri |nessun )?"
        r"(?:messaggi|sms|comunicazioni)",
        r"\bnon mi interessa\b",
        r"\blasciate?mi (?:in pace|stare)\b",
        r"\bsmettete(?:la)? (?:di|con)\b",
        r"\bbasta (?:con |mandare |scrivere |messaggi|sms)",
        r"\b(?:cancellate|togliete|rimuovete)(?:mi)?\b",
        r"\bdisiscriv\w*",
    ),
    "es": (
        r"\bno (?:me |nos )?(?:escriban|escribas|escribir|manden|mandes|envien|envies|"
        r"contacten|contactes|llamen|llames|molesten|molestes)\b",
        r"\bno (?:quiero|queremos|deseo) (?:recibir )?(?:mas )?(?:ningun |otros )?"
        r"(?:mensajes|sms|comunicaciones)",
        r"\bno me interesa\b",
        r"\bdej(?:en|ad|e|a) de (?:escrib|mand|envi|contact|llam|molest)\w*",
        r"\bdej(?:en|a)me en paz\b",
        r"\bdar(?:me)? de baja\b",
        r"\b(?:borren|eliminen|quiten) (?:mi|mis|el)\b",
    ),
    "en": (
        r"\bstop (?:texting|messaging|sending|contacting|writing|calling|bothering)\b",
        r"\b(?:do not|don t|dont|never) (?:text|message|contact|write|send|call|bother)\b",
        r"\bleave me alone\b",
        r"\b(?:remove|delete|take) (?:me|my number)\b",
        r"\bno more (?:texts|messages|sms)\b",
        r"\bopt (?:me )?out\b",
        r"\bunsubscribe\b",
        r"\bnot interested\b",
    ),
}
_STOP_PATTERNS = tuple(
    re.compile(pattern) for patterns in _STOP_PHRASES.values() for pattern in patterns
)
# A keyword inside a longer message ("STOP PLEASE", "basta grazie"): not an opt-out by itself
# (only a lone keyword is), but clearly a wish to stop. END, ALTO, CANCEL... are everyday words
# and stay out of this list.
_STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "BASTA", "DISISCRIVIMI", "BAJA"}
)


def sounds_like_stop(text: str, language: str | None = None) -> bool:
    """Free text that reads like "stop writing to me", in Italian, Spanish or English.
    `language` is accepted for callers that know it; every language is checked."""
    words = _words(text)
    if not words:
        return False
    if any(word in _STOP_WORDS for word in words.split()):
        return True
    lowered = words.lower()
    return any(pattern.search(lowered) for pattern in _STOP_PATTERNS)
