"""Message catalogues: one gettext `.po` file per language under `locales/`.

Messages are looked up by key (the msgid, such as ``hello.here``); the English and Japanese files
each hold the words. The `.po` files are read with Babel and compiled in memory at start-up, so
editing a text needs no build step, only a restart. Placeholders use ``{name}``.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("ja", "en")
DOMAIN = "komorebi"
LOCALES = Path(__file__).resolve().parent.parent / "locales"


class CatalogError(Exception):
    """A catalogue is missing, unreadable or incomplete."""


def guess_language(language_code: str | None, default: str) -> str:
    """The supported language for Telegram's IETF tag (``ja``, ``ja-JP``, ``en-GB``...), else `default`."""
    if language_code:
        primary = language_code.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return default


@dataclass(frozen=True)
class Translator:
    """The texts of one language."""

    language: str
    _translations: gettext.GNUTranslations
    _keys: frozenset[str]

    def __call__(self, key: str, **values: object) -> str:
        if key not in self._keys:
            raise CatalogError(f"no text {key!r} in the {self.language} catalogue")
        return self._translations.gettext(key).format(**values) if values else self._translations.gettext(key)

    def plural(self, key: str, n: int, **values: object) -> str:
        if key not in self._keys:
            raise CatalogError(f"no text {key!r} in the {self.language} catalogue")
        return self._translations.ngettext(key, key, n).format(n=n, **values)


class Catalogs:
    """Every language's texts, loaded once."""

    def __init__(self, directory: Path = LOCALES) -> None:
        self.directory = directory
        self._translators: dict[str, Translator] = {}
        self.entries: dict[str, Mapping[str, str | tuple[str, ...]]] = {}
        for language in LANGUAGES:
            path = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
            try:
                with path.open("rb") as handle:
                    catalog = read_po(handle, locale=language)
            except (OSError, ValueError) as exc:
                raise CatalogError(f"cannot read {path}: {exc}") from exc
            entries = {str(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalog if m.id}
            empty = sorted(key for key, value in entries.items() if not value or not all(value))
            if empty:
                raise CatalogError(f"{path}: empty text for {', '.join(empty)}")
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            self._translators[language] = Translator(
                language, gettext.GNUTranslations(buffer), frozenset(entries)
            )
            self.entries[language] = entries

    def __getitem__(self, language: str) -> Translator:
        return self._translators.get(language) or self._translators["en"]
