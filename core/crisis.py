"""Crisis signals in free text: is there a sign of suicidal thoughts, self-harm, wanting to
disappear, hopelessness about living or being in danger?

Pure code: no Telegram, no database, no files. The patterns come from plain text lists an
organisation can extend (``content/crisis/ja.txt`` and ``content/crisis/en.txt``); the caller
reads them and hands the lines to :func:`parse_patterns`. One :class:`CrisisDetector` checks the
patterns of every language at once, because people mix languages in one message.

How a message is checked:

1. It is normalised with :func:`normalise` (width, case, katakana, spacing, elongation, ...).
2. Every exclusion (``not:`` lines) is cut out of the normalised text, each match replaced by one
   space. Exclusions are for harmless uses such as 死ぬほど眠い or "dying to try it".
3. The message matches when any phrase or any ``re:`` regular expression is found in what is left.

Phrases are matched a little more kindly than plain substrings (see :func:`phrase_regex`): a
phrase may be typed with or without spaces between its Latin letters ("k m s", "killmyself",
"kill my self"), any of its letters may be doubled ("kil", "dieee" after normalising), and a
phrase that begins or ends with a Latin letter or digit only matches whole words, so "kms" is not
found inside "walkms".

Everything is compiled once, in :class:`CrisisDetector`; a check is one normalisation and a few
regular-expression searches (microseconds for a short message).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "CrisisDetector",
    "CrisisPatternError",
    "Patterns",
    "normalise",
    "parse_patterns",
    "phrase_regex",
]


class CrisisPatternError(ValueError):
    """A pattern line that cannot be used; the message names the source and the line number."""


# --- character classes -------------------------------------------------------------------------

_CJK = "\u3005\u3006\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Kana and kanji (after normalising, katakana has become hiragana)."""

_LATIN = "a-z0-9\u00c0-\u024f"
"""Letters and digits that make up words separated by spaces: where a phrase begins or ends with
one of these, it only matches at a word edge."""

_IS_CJK = re.compile(f"[{_CJK}]")
_IS_LATIN = re.compile(f"[{_LATIN}]")

# --- kana folding ------------------------------------------------------------------------------

_KANA_FOLD: dict[int, int | None] = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
"""Katakana ァ..ヶ to hiragana ぁ..ゖ, the iteration marks ヽヾ to ゝゞ, and the long-vowel mark ー
removed (しにたーい and しにたい are the same word; ゲーム becomes げむ)."""
_KANA_FOLD[0x30FD] = 0x309D
_KANA_FOLD[0x30FE] = 0x309E
_KANA_FOLD[0x30FC] = None


def _vowel_elongation() -> re.Pattern[str]:
    """Small ぁぃぅぇぉ right after a kana with the same vowel (たぁ, しぃ, ねぇ) only lengthen the
    sound; this pattern finds them. The vowel of each kana comes from its Unicode name."""
    small = {"a": "ぁ", "i": "ぃ", "u": "ぅ", "e": "ぇ", "o": "ぉ"}
    by_vowel: dict[str, list[str]] = {vowel: [] for vowel in small}
    for cp in range(0x3041, 0x3097):
        name = unicodedata.name(chr(cp), "")
        vowel = name[-1:].lower()
        if name.startswith("HIRAGANA LETTER") and vowel in by_vowel:
            by_vowel[vowel].append(chr(cp))
    return re.compile("|".join(f"(?<=[{''.join(kana)}]){small[vowel]}+" for vowel, kana in by_vowel.items()))


_SMALL_VOWEL_ELONGATION = _vowel_elongation()
_SMALL_VOWEL_TO_FULL = str.maketrans("ぁぃぅぇぉ", "あいうえお")

# --- the normalisation steps -------------------------------------------------------------------

_KATAKANA = re.compile("[\u30a1-\u30fe]")
_SMALL_VOWEL = re.compile("[ぁぃぅぇぉ]")
_APOSTROPHE = re.compile(r"['\u2018\u2019\u02bc`](?<=[^\W\d_].)(?=[^\W\d_])")
_LEET = re.compile(r"(?<=[a-z])[013457](?=[a-z])")
_LEET_LETTERS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}")
_BREAK = re.compile(r"\W*[.,!?;:\u3001\u3002\u2026\n\r\u2028\u2029]\W*")
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[^\w.]+(?=[{_CJK}])")
_GAP = re.compile(r"[^\w.]+")


def _fold_letters(text: str) -> str:
    """Case and kana folding shared by :func:`normalise` and by regular expressions (steps 2 to 5
    below). Each step runs only when the text holds a character it changes."""
    text = text.casefold()
    if not text.isascii():
        if _KATAKANA.search(text):
            text = text.translate(_KANA_FOLD)
        if _SMALL_VOWEL.search(text):
            text = _SMALL_VOWEL_ELONGATION.sub("", text).translate(_SMALL_VOWEL_TO_FULL)
    return _APOSTROPHE.sub("", text)


def normalise(text: str, language: str | None = None) -> str:
    """The form every message and every pattern is compared in.

    Exactly these steps, in this order:

    1. Unicode NFKC: full-width letters, digits and punctuation become ASCII (ＫＭＳ -> KMS,
       ！ -> !), half-width katakana becomes full-width (ｼﾆﾀｲ -> シニタイ), … becomes "...".
    2. casefold (KMS -> kms).
    3. Katakana becomes hiragana (シニタイ -> しにたい); the long-vowel mark ー is removed
       (しにたーい -> しにたい).
    4. A small ぁぃぅぇぉ after a kana with the same vowel is removed (しにたぁい -> しにたい); any
       other small ぁぃぅぇぉ becomes full size (しにたぃ -> しにたい).
    5. An apostrophe between two letters is removed (don't -> dont, I'm -> im); ', ‘, ’, ʼ, `.
    6. A digit between two letters a-z is read as the letter it stands for: 0 o, 1 i, 3 e, 4 a,
       5 s, 7 t (d1e -> die, k1ll -> kill, su1c1de -> suicide; 4にたい and 10 kms stay).
    7. A letter repeated three or more times is kept twice (dieeee -> diee, 死にたいいいい ->
       死にたいい, sooo -> soo). Digits are left alone.
    8. Every run of characters that are not letters or digits (spaces, punctuation, symbols,
       emoji, underscores) becomes:
       - "." if it contains a sentence or clause break: . , ! ? ; : 。 、 … or a line break
         (so "no. 死にたい!!" -> "no.死にたい");
       - nothing, if it sits between two kana/kanji (死 に た い -> 死にたい, 死・に・た・い -> 死にたい);
       - otherwise one space (kill  my-self -> kill my self).
    9. Spaces and breaks at the start and end are removed.

    So the result holds lowercase words separated by single spaces, Japanese without spaces, and
    "." where a sentence or clause ended. `language` is accepted for language-specific rules
    later; today every language is normalised the same way, because people mix languages.
    """
    del language  # the same rules for every language (see above)
    text = unicodedata.normalize("NFKC", text).replace("_", " ")
    text = _fold_letters(text)
    if _LEET.search(text):
        text = _LEET.sub(lambda digit: _LEET_LETTERS[digit.group()], text)
    text = _LETTER_RUN.sub(r"\1\1", text)
    text = _BREAK.sub(".", text)
    if not text.isascii():
        text = _CJK_GAP.sub("", text)
    text = _GAP.sub(" ", text)
    return text.strip(" .")


# --- patterns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Patterns:
    """The patterns of one list: normalised phrases, and compiled regular expressions that apply
    to normalised text. `exclusions` are cut out of the text before the others are looked for."""

    phrases: tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...]
    exclusions: tuple[re.Pattern[str], ...]


def _phrase_tokens(phrase: str) -> list[str]:
    """The pieces of the regular expression for one normalised phrase (see :func:`phrase_regex`)."""
    # One entry per run of a repeated character, counted word by word ("kiss someone" has two
    # separate s-runs, so it still matches "kiss someone" and not only "kisomeone").
    runs: list[str] = []
    for word in phrase.split(" "):
        previous = ""
        for char in word:
            if char != previous:
                runs.append(char)
            previous = char
    tokens: list[str] = []
    for index, char in enumerate(runs):
        literal = re.escape(char)
        if index and not (_IS_CJK.match(runs[index - 1]) and _IS_CJK.match(char)):
            tokens.append(" ?")
        if index == 0 and _IS_LATIN.match(char):
            tokens.append(f"{literal}(?<![{_LATIN}]{literal}){literal}*")
        else:
            tokens.append(f"{literal}{literal}*")
    if runs and _IS_LATIN.match(runs[-1]):
        tokens.append(f"(?![{_LATIN}])")
    return tokens


def phrase_regex(phrase: str) -> str:
    """The regular expression a phrase is matched with, for a phrase already normalised.

    - Each run of one character matches one or more of it ("kill" matches "kil" and "killl").
    - Between two characters that are not both kana/kanji, one space is optional ("kms" matches
      "k m s"; "kill myself" matches "killmyself" and "kill my self").
    - A phrase beginning (ending) with a Latin letter or digit must not be preceded (followed) by
      another one ("kms" is not found in "walkms" or "kmsx").
    """
    return "".join(_phrase_tokens(phrase))


_ESCAPE = re.compile(r"(\\.)", re.DOTALL)
_EMPTY_PROBE = "ab cd.死に あい 12"


def _normalise_regex(source: str) -> str:
    """Steps 1 to 5 of :func:`normalise` applied to a regular expression, leaving ``\\X`` escapes
    alone, so it can be written naturally (katakana, full-width, capitals, don't)."""
    parts = _ESCAPE.split(unicodedata.normalize("NFKC", source))
    parts[::2] = [_fold_letters(part) for part in parts[::2]]
    return "".join(parts)


def _compile_regex(source: str, where: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(_normalise_regex(source))
    except re.error as error:
        raise CrisisPatternError(f"{where}: not a valid regular expression ({error})") from None
    if compiled.search("") is not None or any(m.start() == m.end() for m in compiled.finditer(_EMPTY_PROBE)):
        raise CrisisPatternError(
            f"{where}: the regular expression {source!r} can match empty text, so it would match "
            "(or cut up) every message"
        )
    return compiled


def parse_patterns(lines: Iterable[str], source: str) -> Patterns:
    """Read one pattern list. `source` names it in error messages ("content/crisis/ja.txt").

    Each line, after removing spaces at both ends (and a UTF-8 BOM on the first line):

    - empty, or starting with ``#``: ignored;
    - ``re:REGEX``: a regular expression searched for in the normalised text;
    - ``not:PHRASE`` or ``not:re:REGEX``: an exclusion, cut out of the normalised text first;
    - anything else: a phrase, normalised with :func:`normalise` and matched as described in
      :func:`phrase_regex`.

    Regular expressions get steps 1 to 5 of :func:`normalise` (katakana, width, case, ー,
    apostrophes), except inside ``\\`` escapes; write their syntax in ASCII. Raises
    :class:`CrisisPatternError` naming `source` and the line for an empty pattern, an invalid
    regular expression, or one that can match empty text.
    """
    phrases: dict[str, None] = {}
    regexes: dict[str, re.Pattern[str]] = {}
    exclusions: dict[str, re.Pattern[str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = (raw.lstrip("\ufeff") if number == 1 else raw).strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        exclude = line.startswith("not:")
        body = line[len("not:") :].strip() if exclude else line
        is_regex = body.startswith("re:")
        if is_regex:
            body = body[len("re:") :].strip()
        if not body:
            raise CrisisPatternError(f"{where}: the pattern is empty")
        if is_regex:
            compiled = _compile_regex(body, where)
            (exclusions if exclude else regexes).setdefault(compiled.pattern, compiled)
            continue
        phrase = normalise(body)
        if not phrase or phrase == ".":
            raise CrisisPatternError(
                f"{where}: the phrase {body!r} is empty once spaces and punctuation are removed"
            )
        if exclude:
            exclusions.setdefault(phrase, re.compile(phrase_regex(phrase)))
        else:
            phrases.setdefault(phrase, None)
    return Patterns(tuple(phrases), tuple(regexes.values()), tuple(exclusions.values()))


# --- the detector ------------------------------------------------------------------------------


def _trie_regex(token_lists: Iterable[list[str]]) -> str:
    """One regular expression for many phrases, shared beginnings written once (a trie), so a
    search tries only the phrases that begin with the character at hand."""
    end = ""  # marks the end of a phrase; a shorter phrase makes its longer ones unnecessary
    root: dict[str, dict] = {}
    for tokens in token_lists:
        node = root
        for token in tokens:
            if end in node:
                break
            node = node.setdefault(token, {})
        else:
            node.clear()
            node[end] = {}

    def emit(node: dict[str, dict]) -> str:
        if end in node:
            return ""
        alternatives = [token + emit(child) for token, child in sorted(node.items())]
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    top = [token + emit(child) for token, child in sorted(root.items())]
    return "|".join(top)


_DEFAULT_FLAGS = re.compile("").flags


def _combine(patterns: Sequence[re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    """Several regular expressions as one alternation when that keeps their meaning (no groups,
    which would renumber, and no flags of their own); otherwise as they are."""
    if len(patterns) < 2:
        return tuple(patterns)
    if all(p.groups == 0 and p.flags == _DEFAULT_FLAGS for p in patterns):
        try:
            return (re.compile("|".join(f"(?:{p.pattern})" for p in patterns)),)
        except re.error:
            pass
    return tuple(patterns)


class CrisisDetector:
    """Checks messages against the patterns of every language at once. Build it once: all the
    compiling happens here, and :meth:`matches` compiles nothing."""

    def __init__(self, patterns: Sequence[Patterns]) -> None:
        phrases = dict.fromkeys(phrase for p in patterns for phrase in p.phrases)
        source = _trie_regex(_phrase_tokens(phrase) for phrase in phrases)
        self._phrases = re.compile(source) if source else None
        self._regexes = _combine(list(dict.fromkeys(r for p in patterns for r in p.regexes)))
        self._exclusions = _combine(list(dict.fromkeys(r for p in patterns for r in p.exclusions)))

    def first_match(self, text: str) -> str | None:
        """The normalised piece of `text` that matched, or None; for tests and for checking a
        pattern list by hand."""
        normalised = normalise(text)
        if not normalised:
            return None
        for exclusion in self._exclusions:
            normalised = exclusion.sub(" ", normalised)
        if self._phrases is not None and (found := self._phrases.search(normalised)):
            return found.group()
        for regex in self._regexes:
            if found := regex.search(normalised):
                return found.group()
        return None

    def matches(self, text: str) -> bool:
        """Whether `text` shows a sign of crisis according to the patterns."""
        return self.first_match(text) is not None
