"""The check every SMS template passes when it is saved (../DOMAIN.md rule 6).

A third party may read the debtor's phone, so the text says nothing about money, the creditor or
debt; it carries an opt-out line in the debtor's language; and it fits one GSM-7 segment
counted with the real link (the configured public base URL plus a 22-character token), so it
costs one SMS and is never cut. Every reason is reported at once, each saying what to change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError

from collections_link.models import Client
from surveys.gsm import (
    GSM7_SINGLE,
    UCS2_SINGLE,
    extension_chars,
    gsm_suggestion,
    non_gsm_chars,
    sms_segments,
)
from surveys.keywords import OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS, strip_accents
from surveys.models import SmsKind

LINK_PLACEHOLDER = "{link}"
TOKEN_CHARS = 22  # secrets.token_urlsafe(16): 128 bits

# Words about debt, money owed or collection, per language, without accents and lower case.
# The template's own language is checked, and English too (English business words turn up in
# Italian and Spanish texts). Whole words only: "rate" is an Italian instalment but "rate us"
# is fine in English, so each list applies only where it means debt.
FORBIDDEN_WORDS: dict[str, frozenset[str]] = {
    "it": frozenset(
        {
            "debito",
            "debiti",
            "debitore",
            "debitori",
            "debitoria",
            "credito",
            "crediti",
            "creditore",
            "creditori",
            "recupero",
            "recuperi",
            "recuperare",
            "insoluto",
            "insoluti",
            "insoluta",
            "insolvenza",
            "sollecito",
            "solleciti",
            "pagamento",
            "pagamenti",
            "pagare",
            "rata",
            "rate",
            "mora",
            "moroso",
            "morosi",
            "morosita",
            "arretrato",
            "arretrati",
            "fattura",
            "fatture",
            "importo",
            "saldo",
            "riscossione",
            "pignoramento",
            "esattore",
            "incasso",
        }
    ),
    "es": frozenset(
        {
            "deuda",
            "deudas",
            "deudor",
            "deudores",
            "adeudo",
            "adeuda",
            "cobro",
            "cobros",
            "cobrar",
            "recobro",
            "recobros",
            "impago",
            "impagos",
            "impagado",
            "impagada",
            "moroso",
            "morosa",
            "morosos",
            "morosidad",
            "pago",
            "pagos",
            "pagar",
            "cuota",
            "cuotas",
            "factura",
            "facturas",
            "importe",
            "saldo",
            "acreedor",
            "acreedores",
            "credito",
            "creditos",
            "embargo",
            "recuperacion",
            "vencido",
            "vencida",
            "atrasado",
        }
    ),
    "en": frozenset(
        {
            "debt",
            "debts",
            "debtor",
            "debtors",
            "collection",
            "collections",
            "collector",
            "collectors",
            "collect",
            "collecting",
            "overdue",
            "payment",
            "payments",
            "pay",
            "paid",
            "owe",
            "owed",
            "owes",
            "owing",
            "arrears",
            "balance",
            "invoice",
            "invoices",
            "creditor",
            "creditors",
            "loan",
            "loans",
            "delinquent",
            "delinquency",
            "installment",
            "instalment",
            "recovery",
        }
    ),
}
FORBIDDEN_PHRASES: dict[str, tuple[str, ...]] = {
    "it": ("recupero crediti",),
    "es": ("recobro de deudas",),
    "en": ("past due", "amount due"),
}
LANGUAGE_NAMES = {"it": "Italian", "es": "Spanish", "en": "English"}
OPT_OUT_EXAMPLES = {
    "it": '"STOP per non ricevere SMS"',
    "es": '"BAJA para no recibir SMS"',
    "en": '"Reply STOP to opt out"',
}

_CURRENCY_SYMBOLS = re.compile(r"[€$£¥¤₤₺₽₹]")
_CURRENCY_WORDS = re.compile(
    r"\b(?:eur|euro|euros|usd|gbp|dollar|dollars|dollari|dolar|dolares|sterline|sterling)\b"
)
# 150,00 - 1.234,56 - 99.90: a number with two decimals reads as money.
_DECIMAL_AMOUNT = re.compile(r"\d[\d.,']*[.,]\d{2}\b")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_WORD = re.compile(r"[a-z0-9]+")
# Legal-form suffixes, so "Acme Energia S.p.A." is also caught as "Acme Energia".
_LEGAL_SUFFIX = re.compile(
    r"\s+(?:s\s*p\s*a|s\s*r\s*l|s\s*r\s*l\s*s|s\s*a\s*s|s\s*n\s*c|s\s*a|s\s*l|s\s*l\s*u|"
    r"inc|ltd|llc|plc|corp|co|gmbh)\s*$"
)


def _plain(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: the form names and words are compared in."""
    text = strip_accents(text).lower()
    return " ".join(_WORD.findall(text))


def example_link() -> str:
    """A link as long as a real one, with the configured public base URL."""
    base = str(settings.PUBLIC_BASE_URL).rstrip("/")
    return f"{base}/s/{'x' * TOKEN_CHARS}/"


def max_chars() -> int:
    # 152 on US/CA toll-free senders, where a multi-part header is always reserved.
    return int(getattr(settings, "SMS_TEMPLATE_MAX_CHARS", GSM7_SINGLE))


def _client_names(client: Client | None) -> list[tuple[str, str]]:
    """(label, plain form) of the creditor names a template may not contain: every client's,
    since a default template serves them all and a client's own must not name another."""
    names: list[tuple[str, str]] = []
    rows: Iterable[tuple[str, str]] = Client.objects.values_list("name", "ref")
    if client is not None and client.pk is None:
        rows = [*rows, (client.name, client.ref)]
    for name, ref in rows:
        plain = _plain(name)
        short = _LEGAL_SUFFIX.sub("", plain).strip()
        for form in {plain, short}:
            if len(form) >= 3:
                names.append((name, form))
        ref_plain = _plain(ref or "")
        if len(ref_plain) >= 4 and ref_plain not in {form for _, form in names}:
            names.append((f"{name} (ref {ref})", ref_plain))
    return names


def _contains(plain_text: str, plain_phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(plain_phrase)}(?![a-z0-9])", plain_text) is not None


def template_problems(
    *, body: str, client: Client | None = None, language: str, kind: str = SmsKind.INVITATION
) -> list[str]:
    """Every reason the template cannot be used, as messages for the person editing it."""
    problems: list[str] = []
    needs_link = kind in {SmsKind.INVITATION, SmsKind.REMINDER}

    placeholders = _PLACEHOLDER.findall(body)
    unknown = sorted({p for p in placeholders if p != LINK_PLACEHOLDER})
    if unknown:
        problems.append(
            f"Unknown placeholder(s) {', '.join(unknown)}: only {LINK_PLACEHOLDER} is filled in."
        )
    if needs_link and LINK_PLACEHOLDER not in placeholders:
        problems.append(f"Put {LINK_PLACEHOLDER} where the survey link goes.")
    if placeholders.count(LINK_PLACEHOLDER) > 1:
        problems.append(f"Use {LINK_PLACEHOLDER} once: each copy costs a full link's length.")

    link = example_link()
    rendered = body.replace(LINK_PLACEHOLDER, link)
    strange = non_gsm_chars(rendered)
    if strange:
        described = []
        for ch in strange:
            shown = repr(ch) if not ch.isprintable() or ch.isspace() else f"'{ch}'"
            suggestion = gsm_suggestion(ch)
            described.append(f"{shown} (use '{suggestion}')" if suggestion else shown)
        encoding, units, _ = sms_segments(rendered)
        problems.append(
            f"Not GSM-7: {', '.join(described)} would send the message as {encoding}, where one "
            f"SMS holds only {UCS2_SINGLE} characters (this text is {units})."
        )
    else:
        _, septets, _ = sms_segments(rendered)
        limit = max_chars()
        if septets > limit:
            doubles = extension_chars(rendered)
            counted_twice = (
                f" ({', '.join(repr(c) for c in doubles)} count as two each)" if doubles else ""
            )
            with_link = f" with the real link ({len(link)} characters)" if needs_link else ""
            problems.append(
                f"Too long: {septets} characters{with_link}{counted_twice}; one SMS holds "
                f"{limit}. Remove {septets - limit}."
            )

    text = _plain(body.replace(LINK_PLACEHOLDER, " "))
    words = set(text.split())
    forbidden: list[str] = []
    for lang in dict.fromkeys((language, "en")):
        forbidden += sorted(words & FORBIDDEN_WORDS.get(lang, frozenset()))
        forbidden += [p for p in FORBIDDEN_PHRASES.get(lang, ()) if _contains(text, p)]
    if forbidden:
        problems.append(
            f"Words about debt or collection are not allowed (a third party may read the "
            f"phone): {', '.join(dict.fromkeys(forbidden))}."
        )

    raw = body.replace(LINK_PLACEHOLDER, " ")
    money = _CURRENCY_SYMBOLS.findall(raw) + _CURRENCY_WORDS.findall(text)
    money += _DECIMAL_AMOUNT.findall(raw)
    if money:
        problems.append(f"No amounts or currencies: {', '.join(dict.fromkeys(money))}.")

    named = [label for label, form in _client_names(client) if _contains(text, form)]
    if named:
        quoted = ", ".join('"' + name + '"' for name in dict.fromkeys(named))
        problems.append(f"No creditor names (a third party may read the phone): {quoted}.")

    if needs_link:
        keywords = OPT_OUT_KEYWORDS.get(language, OPT_OUT_KEYWORDS["en"])
        present = set(re.findall(r"[A-Z]+", strip_accents(body))) & keywords
        if not present:
            problems.append(
                f"Add an opt-out line in {LANGUAGE_NAMES.get(language, language)} with an "
                f"upper-case keyword ({', '.join(sorted(keywords))}), e.g. "
                f"{OPT_OUT_EXAMPLES.get(language, OPT_OUT_EXAMPLES['en'])}."
            )
    elif kind == SmsKind.CONFIRMATION:
        keywords = OPT_IN_KEYWORDS.get(language, OPT_IN_KEYWORDS["en"])
        if not set(re.findall(r"[A-Z]+", strip_accents(body))) & keywords:
            problems.append(
                f"Say how to opt back in, with an upper-case keyword "
                f"({', '.join(sorted(keywords))})."
            )
    return problems


def template_validate(
    *, body: str, client: Client | None = None, language: str, kind: str = SmsKind.INVITATION
) -> None:
    """Raise ValidationError listing every reason the template is refused."""
    problems = template_problems(body=body, client=client, language=language, kind=kind)
    if problems:
        raise ValidationError(problems)
