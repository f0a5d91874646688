"""Words are content: every text exists in both languages, with the same placeholders, and none
of them says what an anxious person should never read from us."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES, CatalogError, Catalogs

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = Catalogs()

# From the product's voice rules.
BANNED = {
    "en": [r"you missed", r"don't forget", r"streak lost", r"we miss you", r"come back!", r"\bshould\b", r"\bmust\b", r"!!", r"hurry", r"last chance"],
    "ja": [r"頑張", r"がんば", r"なぜ", r"どうして", r"しなければ", r"べき", r"さぼ", r"サボ", r"！！", r"!!"],
}


def placeholders(text: str | tuple[str, ...]) -> set[str]:
    texts = text if isinstance(text, tuple) else (text,)
    return {name for t in texts for _, name, _, _ in string.Formatter().parse(t) if name}


def test_both_languages_have_exactly_the_same_texts() -> None:
    ja, en = set(CATALOGS.entries["ja"]), set(CATALOGS.entries["en"])
    assert ja - en == set(), "in Japanese only"
    assert en - ja == set(), "in English only"


@pytest.mark.parametrize("key", sorted(CATALOGS.entries["en"]))
def test_placeholders_match_across_languages(key: str) -> None:
    assert placeholders(CATALOGS.entries["ja"][key]) == placeholders(CATALOGS.entries["en"][key])


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_pressure_or_guilt_in_any_text(language: str) -> None:
    for key, value in CATALOGS.entries[language].items():
        for text in value if isinstance(value, tuple) else (value,):
            for pattern in BANNED[language]:
                assert not re.search(pattern, text, re.IGNORECASE), f"{language} {key}: {pattern!r} in {text!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_fit_a_phone_screen(language: str) -> None:
    for key, value in CATALOGS.entries[language].items():
        for text in value if isinstance(value, tuple) else (value,):
            assert len(text) <= 700, f"{language} {key} is {len(text)} characters"


def keys_used_in_code() -> set[str]:
    """Every literal key passed to a translator in the code (t("...") or t.plural("...")."""
    found = set()
    for folder in ("bot", "handlers", "schedules"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"""\bt(?:\.plural)?\(\s*"([a-z_][a-z0-9_.]*)"\s*[,)]""", path.read_text()))
    return found


def test_every_key_the_code_uses_exists() -> None:
    used = keys_used_in_code()
    assert len(used) > 40  # the scan itself works
    assert used - set(CATALOGS.entries["en"]) == set()


def test_keys_built_from_names_exist() -> None:
    """Keys the code builds from enums (window.evening, rhythm.daily, ...) exist too."""
    from core.schedule import Rhythm, Window
    from handlers import COMMANDS, views

    built = (
        {f"window.{w}" for w in Window}
        | {f"when.today.{w}" for w in Window}
        | {f"when.tomorrow.{w}" for w in Window}
        | {f"when.part.{w}" for w in Window}
        | {f"rhythm.{r}" for r in Rhythm}
        | {f"weekday.{d}" for d in range(7)}
        | {f"month.{m}" for m in range(1, 13)}
        | {f"language.{lang}" for lang in LANGUAGES}
        | {f"command.{c}" for c in COMMANDS}
        | {f"pause.{c}" for c in views.PAUSE_CHOICES}
        | set(views.GREETINGS)
    )
    assert built - set(CATALOGS.entries["en"]) == set()


def test_a_missing_text_is_refused_at_start_up(tmp_path: Path) -> None:
    for language in LANGUAGES:
        target = tmp_path / language / "LC_MESSAGES"
        target.mkdir(parents=True)
        source = (ROOT / "locales" / language / "LC_MESSAGES" / "komorebi.po").read_text()
        if language == "ja":
            source = source.replace('msgstr "OK"', 'msgstr ""', 1)
        (target / "komorebi.po").write_text(source)
    with pytest.raises(CatalogError, match="consent.yes"):
        Catalogs(tmp_path)


def test_an_unknown_key_is_an_error_not_a_silent_key_on_screen() -> None:
    with pytest.raises(CatalogError):
        CATALOGS["en"]("no.such.text")
