"""GSM 03.38 encoding and segment counting."""

from __future__ import annotations

import pytest

from surveys.gsm import extension_chars, gsm_suggestion, non_gsm_chars, sms_segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0, 0)),
        ("a" * 160, ("GSM-7", 160, 1)),
        ("a" * 161, ("GSM-7", 161, 2)),  # 153 per part once concatenated
        ("a" * 306, ("GSM-7", 306, 2)),
        ("a" * 307, ("GSM-7", 307, 3)),
        # Italian accents are in the basic set: one septet each.
        ("Com'è andata? Più o meno, perché sì: già.", ("GSM-7", 41, 1)),
        # The euro sign and brackets are in the extension table: two septets each.
        ("€" * 80, ("GSM-7", 160, 1)),
        ("€" * 81, ("GSM-7", 162, 2)),
        ("[x]", ("GSM-7", 5, 1)),
        # One Spanish á turns the whole message into UCS-2: 70 per segment, 67 when split.
        ("á" + "a" * 69, ("UCS-2", 70, 1)),
        ("á" + "a" * 70, ("UCS-2", 71, 2)),
        ("á" + "a" * 133, ("UCS-2", 134, 2)),
        ("á" + "a" * 134, ("UCS-2", 135, 3)),
        # An emoji is two UTF-16 code units.
        ("ok 👍", ("UCS-2", 5, 1)),
        # Curly quotes are not GSM-7 either.
        ("it\u2019s", ("UCS-2", 4, 1)),
    ],
)
def test_sms_segments(text: str, expected: tuple[str, int, int]) -> None:
    assert sms_segments(text) == expected


def test_spanish_accents_are_named_and_italian_ones_pass() -> None:
    assert non_gsm_chars("Valoración rápida de atención: sí") == ["ó", "á", "í"]
    assert non_gsm_chars("Com'è andata? Perché ù ì ò à é") == []
    # ñ, ¿, ¡ and é are GSM-7: Spanish can keep them.
    assert non_gsm_chars("¿Qué tal? ¡Mañana!") == []


def test_extension_characters_are_listed_once() -> None:
    assert extension_chars("€ 5 € [a] {b}") == ["€", "[", "]", "{", "}"]


@pytest.mark.parametrize(
    ("char", "suggestion"),
    [
        ("á", "a"),
        ("í", "i"),
        ("ó", "o"),
        ("ú", "u"),
        ("Á", "A"),
        ("\u2019", "'"),
        ("\u201c", '"'),
        ("\u2013", "-"),
        ("…", "..."),
        ("👍", None),
    ],
)
def test_suggestions(char: str, suggestion: str | None) -> None:
    assert gsm_suggestion(char) == suggestion
