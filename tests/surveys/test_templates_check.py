"""SMS templates are checked when saved: one GSM-7 segment with the real link, nothing about
money, creditors or debt, and an opt-out line in the debtor's language."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from surveys.seed import DEFAULT_TEMPLATES
from surveys.templates_check import example_link, template_problems, template_validate
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

# 22 characters: the link is https://nps.example.it/s/<22-character token>/ = 22 + 3 + 22 + 1.
BASE = "https://nps.example.it"
OPT_OUT_IT = " STOP per non ricevere SMS"  # 26 characters


@pytest.fixture(autouse=True)
def _public_base(settings):
    settings.PUBLIC_BASE_URL = BASE


def problems(body: str, **kwargs) -> list[str]:
    kwargs.setdefault("language", "it")
    return template_problems(body=body, **kwargs)


def test_the_link_is_counted_at_its_real_length() -> None:
    assert len(example_link()) == 48
    assert example_link().startswith("https://nps.example.it/s/")


def test_160_characters_with_the_link_pass_and_161_are_refused_saying_the_length() -> None:
    # 85 + 1 space + 48 (link) + 26 (opt-out line) = 160.
    body_160 = "a" * 85 + " {link}" + OPT_OUT_IT
    body_161 = "a" * 86 + " {link}" + OPT_OUT_IT
    assert problems(body_160) == []

    with pytest.raises(ValidationError) as refused:
        template_validate(body=body_161, language="it")
    (message,) = refused.value.messages
    assert "Too long: 161 characters with the real link (48 characters)" in message
    assert "one SMS holds 160" in message
    assert "Remove 1" in message


def test_a_longer_production_base_url_is_what_counts(settings) -> None:
    body = "a" * 85 + " {link}" + OPT_OUT_IT
    assert problems(body) == []
    settings.PUBLIC_BASE_URL = "https://nps.example.it/"  # a trailing slash changes nothing
    assert problems(body) == []
    settings.PUBLIC_BASE_URL = "https://sondaggi.example.it"  # 5 characters longer
    assert any("Too long: 165 characters" in p for p in problems(body))


def test_a_us_toll_free_limit_can_be_configured(settings) -> None:
    settings.SMS_TEMPLATE_MAX_CHARS = 152
    body = "a" * 85 + " {link}" + OPT_OUT_IT
    assert any("one SMS holds 152. Remove 8" in p for p in problems(body))


def test_the_euro_sign_is_refused_as_an_amount() -> None:
    with pytest.raises(ValidationError) as refused:
        template_validate(body="Grazie, 1 minuto: {link} bonus 5 €" + OPT_OUT_IT, language="it")
    assert refused.value.messages == ["No amounts or currencies: €."]


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("Saldo di 150,00 {link}" + OPT_OUT_IT, "150,00"),
        ("Restano 20 EUR {link}" + OPT_OUT_IT, "eur"),
        ("Resta $ 20 {link}" + OPT_OUT_IT, "$"),
        ("Solo 20 euro {link}" + OPT_OUT_IT, "euro"),
    ],
)
def test_amounts_and_currencies_are_refused(body: str, found: str) -> None:
    assert any(p.startswith("No amounts") and found in p for p in problems(body))


def test_debt_words_are_refused_naming_them() -> None:
    with pytest.raises(ValidationError) as refused:
        template_validate(
            body="Come valuta la gestione del suo debito? {link}" + OPT_OUT_IT, language="it"
        )
    assert refused.value.messages == [
        "Words about debt or collection are not allowed (a third party may read the phone): debito."
    ]


@pytest.mark.parametrize(
    ("language", "body", "word"),
    [
        ("it", "Servizio di Recupero Crediti: {link} STOP per uscire", "recupero"),
        ("it", "Ricordi il PAGAMENTO della rata: {link} STOP per uscire", "pagamento"),
        ("es", "Sobre su deuda: {link} BAJA para no recibir SMS", "deuda"),
        ("es", "Gestion de cobro: {link} BAJA para no recibir SMS", "cobro"),
        ("en", "About your overdue balance: {link} Reply STOP to opt out", "overdue"),
        ("en", "Debt collection survey {link} Reply STOP to opt out", "debt"),
        # English words are caught in an Italian text too.
        ("it", "Survey sulla collection {link} STOP per uscire", "collection"),
    ],
)
def test_debt_vocabulary_in_each_language(language: str, body: str, word: str) -> None:
    found = [p for p in problems(body, language=language) if p.startswith("Words about debt")]
    assert found and word in found[0]


def test_rate_is_an_instalment_in_italian_but_fine_in_english() -> None:
    assert problems("Please rate us 0-10: {link} Reply STOP to opt out", language="en") == []
    assert any("rate" in p for p in problems("Le rate: {link}" + OPT_OUT_IT))


def test_the_clients_name_is_refused() -> None:
    acme = ClientFactory.create()
    with pytest.raises(ValidationError) as refused:
        template_validate(
            body="Acme Energia la ringrazia. Com'è andata? {link}" + OPT_OUT_IT,
            client=acme,
            language="it",
        )
    assert refused.value.messages == [
        'No creditor names (a third party may read the phone): "Acme Energia".'
    ]


def test_a_default_template_may_name_no_client_at_all() -> None:
    ClientFactory.create(ref="telco-sud", name="Telco Sud S.p.A.")
    # Without its legal form, in other case and punctuation, the name is still found.
    found = problems("TELCO-SUD la ringrazia: {link}" + OPT_OUT_IT, client=None)
    assert found == ['No creditor names (a third party may read the phone): "Telco Sud S.p.A.".']
    # A word that merely contains the name is not the name.
    ClientFactory.create(ref="eni", name="Eni")
    assert problems("Grazie, a presto! {link}" + OPT_OUT_IT) == []


def test_spanish_accents_are_refused_as_not_gsm7_naming_the_characters() -> None:
    with pytest.raises(ValidationError) as refused:
        template_validate(
            body="Gracias. Valore nuestra atención en 1 minuto: {link} BAJA para no recibir "
            "más SMS",
            language="es",
        )
    (message,) = refused.value.messages
    assert message.startswith("Not GSM-7: 'ó' (use 'o'), 'á' (use 'a') would send the message")
    assert "as UCS-2, where one SMS holds only 70 characters" in message


def test_the_link_and_the_opt_out_line_are_required_in_the_language() -> None:
    assert problems("Grazie! Com'è andata?", language="it") == [
        "Put {link} where the survey link goes.",
        "Add an opt-out line in Italian with an upper-case keyword (ANNULLA, BASTA, CANCELLA, "
        'DISISCRIVIMI, RIMUOVI, STOP), e.g. "STOP per non ricevere SMS".',
    ]
    assert any(
        p.startswith("Add an opt-out line in Spanish")
        for p in problems("Gracias: {link} responda stop", language="es")
    )
    assert problems("Gracias: {link} BAJA para no recibir SMS", language="es") == []


def test_unknown_placeholders_are_refused() -> None:
    assert problems("Gentile {name}: {link}" + OPT_OUT_IT) == [
        "Unknown placeholder(s) {name}: only {link} is filled in."
    ]


def test_every_reason_is_reported_at_once() -> None:
    body = "Il suo debito di 150,00 € con Acme Energia: atención " + "x" * 100
    ClientFactory.create()
    found = problems(body)
    assert [p.split(" ")[0] for p in found] == ["Put", "Not", "Words", "No", "No", "Add"]


def test_a_confirmation_needs_no_link_but_says_how_to_opt_back_in() -> None:
    assert problems("Non riceverà altri SMS.", language="it", kind="confirmation") == [
        "Say how to opt back in, with an upper-case keyword (ISCRIVIMI, SI, START)."
    ]


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "https://sondaggi.agenzia-esempio.it"])
@pytest.mark.parametrize(("kind", "language"), sorted(DEFAULT_TEMPLATES))
def test_the_shipped_defaults_are_valid(settings, base: str, kind: str, language: str) -> None:
    settings.PUBLIC_BASE_URL = base
    ClientFactory.create()
    template_validate(body=DEFAULT_TEMPLATES[(kind, language)], language=language, kind=kind)
