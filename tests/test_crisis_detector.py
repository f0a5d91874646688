"""The crisis-signal detector: the real pattern lists catch every must-match sentence in Japanese
and English and pass every ordinary one; normalisation, the pattern format and its errors."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.crisis import (
    CrisisDetector,
    CrisisPatternError,
    Patterns,
    normalise,
    parse_patterns,
    phrase_regex,
)

ROOT = Path(__file__).resolve().parents[1]
PATTERN_DIR = ROOT / "content" / "crisis"
DATA_DIR = Path(__file__).resolve().parent / "data"
LANGUAGES = ("ja", "en")
MIN_LINES = 70


def load_patterns(language: str) -> Patterns:
    path = PATTERN_DIR / f"{language}.txt"
    return parse_patterns(path.read_text(encoding="utf-8").splitlines(), f"content/crisis/{language}.txt")


def load_sentences(name: str) -> list[str]:
    """One sentence per line; empty lines and lines starting with # (notes) are skipped."""
    lines = (DATA_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


DETECTOR = CrisisDetector([load_patterns(language) for language in LANGUAGES])
POSITIVES = {language: load_sentences(f"crisis_{language}") for language in LANGUAGES}
NEGATIVES = {language: load_sentences(f"ordinary_{language}") for language in LANGUAGES}


def rates(
    detector: CrisisDetector, positives: Sequence[str], negatives: Sequence[str]
) -> tuple[float, float]:
    """(detection rate, false-positive rate): the share of `positives` the detector matches and
    the share of `negatives` it matches."""
    detected = sum(detector.matches(text) for text in positives) / len(positives)
    false_positives = sum(detector.matches(text) for text in negatives) / len(negatives)
    return detected, false_positives


# --- the real lists ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_there_are_enough_varied_sentences(language: str) -> None:
    positives, negatives = POSITIVES[language], NEGATIVES[language]
    assert len(positives) >= MIN_LINES
    assert len(negatives) >= MIN_LINES
    assert len(set(positives)) == len(positives), "a must-match sentence appears twice"
    assert len(set(negatives)) == len(negatives), "an ordinary sentence appears twice"
    assert not set(positives) & set(negatives)


@pytest.mark.parametrize("text", [text for language in LANGUAGES for text in POSITIVES[language]])
def test_every_must_match_sentence_matches(text: str) -> None:
    assert DETECTOR.matches(text), f"missed: {text!r} (normalised: {normalise(text)!r})"


@pytest.mark.parametrize("text", [text for language in LANGUAGES for text in NEGATIVES[language]])
def test_no_ordinary_sentence_matches(text: str) -> None:
    found = DETECTOR.first_match(text)
    assert found is None, f"matched {found!r} in {text!r} (normalised: {normalise(text)!r})"


@pytest.mark.parametrize("language", LANGUAGES)
def test_detection_and_false_positive_rates(language: str) -> None:
    detected, false_positives = rates(DETECTOR, POSITIVES[language], NEGATIVES[language])
    print(
        f"{language}: detection {detected:.1%} of {len(POSITIVES[language])}, "
        f"false positives {false_positives:.1%} of {len(NEGATIVES[language])}"
    )
    assert (detected, false_positives) == (1.0, 0.0)


def test_rates_counts_shares() -> None:
    detector = CrisisDetector([parse_patterns(["死にたい"], "test")])
    assert rates(detector, ["死にたい", "眠い"], ["眠い", "死にたいよ", "雨", "晴れ"]) == (0.5, 0.25)


def test_one_detector_checks_both_languages_in_one_message() -> None:
    assert DETECTOR.matches("I'm fine. 本当は消えたい")
    assert DETECTOR.matches("今日はつらい。I want to disappear")
    assert not DETECTOR.matches("今日は雨。I stayed home and played games")


def test_an_exclusion_does_not_hide_a_sign_elsewhere_in_the_message() -> None:
    assert not DETECTOR.matches("死ぬほど眠い")
    assert DETECTOR.matches("死ぬほど眠い。でも本当は死にたい")
    assert not DETECTOR.matches("I'm dying to try it")
    assert DETECTOR.matches("I'm dying to try it but honestly I want to die")


def test_a_check_is_fast() -> None:
    messages = [*POSITIVES["ja"], *NEGATIVES["ja"], *POSITIVES["en"], *NEGATIVES["en"]]
    for text in messages:  # warm up
        DETECTOR.matches(text)
    start = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        for text in messages:
            DETECTOR.matches(text)
    per_message = (time.perf_counter() - start) / (rounds * len(messages))
    # About 20 µs here; the bound is loose so a busy test machine does not fail it.
    assert per_message < 500e-6


def test_the_pattern_files_document_their_format() -> None:
    for language in LANGUAGES:
        header = (PATTERN_DIR / f"{language}.txt").read_text(encoding="utf-8").split("\n\n# ---", 1)[0]
        for word in ("FORMAT", "re:", "not:", "not:re:", "normalised", "JUDGEMENT"):
            assert word in header, f"{language}.txt header lacks {word!r}"


# --- normalise() -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＫＭＳ", "kms"),  # full-width to ASCII, then lowercase
        ("I WANT TO DIE", "i want to die"),
        ("ｼﾆﾀｲ", "しにたい"),  # half-width katakana
        ("シニタイ", "しにたい"),  # katakana to hiragana
        ("ｼﾞｻﾂ", "じさつ"),  # half-width voiced mark joins its kana
        ("死 に た い", "死にたい"),  # spaces between Japanese characters go
        ("死・に・た・い", "死にたい"),
        ("死　に　た　い", "死にたい"),  # ideographic space
        ("死にたいいいい", "死にたいい"),  # a letter repeated 3+ times is kept twice
        ("しにたーーい", "しにたい"),  # ー is removed
        ("しにた〜い", "しにたい"),  # wave dash is a symbol between Japanese characters
        ("しにたぁぁい", "しにたい"),  # lengthening small vowel
        ("しにたぃ", "しにたい"),  # other small vowels become full size
        ("ゲーム", "げむ"),
        ("I DON'T want to", "i dont want to"),  # apostrophes inside words go
        ("I’m done", "im done"),
        ("kill  my-self", "kill my self"),  # runs of spaces and hyphens become one space
        ("snake_case", "snake case"),
        ("dieeee", "diee"),
        ("soooo tired", "soo tired"),
        ("1000 steps", "1000 steps"),  # digits are not collapsed
        ("もう無理。死にたい", "もう無理.死にたい"),  # sentence breaks become "."
        ("I can't go on... everything hurts!", "i cant go on.everything hurts"),
        ("ok, fine", "ok.fine"),
        ("line one\nline two", "line one.line two"),
        ("死にたい😭😭", "死にたい"),  # emoji are symbols
        ("kms 笑", "kms 笑"),  # a space stays between Latin and Japanese
        ("3.5 km", "3.5 km"),
        ("  hello   world  ", "hello world"),
        ("!!!", ""),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_is_the_same_for_every_language_and_idempotent() -> None:
    for text in [*POSITIVES["ja"], *POSITIVES["en"], *NEGATIVES["ja"], *NEGATIVES["en"]]:
        once = normalise(text)
        assert normalise(text, "ja") == normalise(text, "en") == once
        assert normalise(once) == once


def test_phrase_regex() -> None:
    kms = re.compile(phrase_regex("kms"))
    assert kms.search("ugh kms")
    assert kms.search("k m s")
    assert kms.search("kmss")
    assert not kms.search("walkms")
    assert not kms.search("kmsx")
    myself = re.compile(phrase_regex("kill myself"))
    for text in ("kill myself", "killmyself", "kill my self", "kil myself", "killl myself"):
        assert myself.search(text), text
    assert not myself.search("skill myself")
    assert re.compile(phrase_regex("kiss someone")).search("kiss someone")
    japanese = re.compile(phrase_regex("死にたい"))
    assert japanese.search("本当に死にたいよ")
    assert not japanese.search("死に たい")  # normalised text never has that space


# --- parse_patterns() --------------------------------------------------------------------------


def test_the_format() -> None:
    patterns = parse_patterns(
        [
            "\ufeff# a comment",
            "",
            "   ",
            "  死にたい  ",
            "Kill Myself",
            "re:きえ(?:たい|たく)",
            "not:死ぬほど",
            "not:re:dying to \\w+",
            "死にたい",  # a repeat is kept once
        ],
        "test.txt",
    )
    assert patterns.phrases == ("死にたい", "kill myself")
    assert [regex.pattern for regex in patterns.regexes] == ["きえ(?:たい|たく)"]
    assert len(patterns.exclusions) == 2
    with pytest.raises(AttributeError):
        patterns.phrases = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["# fine", "", "re:(unclosed"], r"^ja\.txt, line 3: not a valid regular expression"),
        (["死にたい", "re:[a-"], r"^ja\.txt, line 2: not a valid regular expression"),
        (["not:re:(?<=a+)b"], r"^ja\.txt, line 1: not a valid regular expression"),
        (["re:"], r"^ja\.txt, line 1: the pattern is empty"),
        (["ok", "re:   "], r"^ja\.txt, line 2: the pattern is empty"),
        (["not:"], r"^ja\.txt, line 1: the pattern is empty"),
        (["a", "b", "not:re:"], r"^ja\.txt, line 3: the pattern is empty"),
        (["！？…"], r"^ja\.txt, line 1: the phrase '！？…' is empty"),
        (["not:---"], r"^ja\.txt, line 1: the phrase '---' is empty"),
        (["re:a*"], r"^ja\.txt, line 1: .* can match empty text"),
        (["re:死にたい|"], r"^ja\.txt, line 1: .* can match empty text"),
        (["not:re:\\b"], r"^ja\.txt, line 1: .* can match empty text"),
    ],
)
def test_a_bad_line_is_refused_naming_source_and_line(lines: list[str], message: str) -> None:
    with pytest.raises(CrisisPatternError, match=message):
        parse_patterns(lines, "ja.txt")


def test_pattern_error_is_a_value_error() -> None:
    assert issubclass(CrisisPatternError, ValueError)


def test_a_broken_real_file_names_its_line(tmp_path: Path) -> None:
    lines = (PATTERN_DIR / "ja.txt").read_text(encoding="utf-8").splitlines()
    lines.insert(40, "re:死に(たい")
    with pytest.raises(CrisisPatternError, match=r"^content/crisis/ja\.txt, line 41: "):
        parse_patterns(lines, "content/crisis/ja.txt")


def detector(*lines: str) -> CrisisDetector:
    return CrisisDetector([parse_patterns(lines, "test.txt")])


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("シニタイ", "しにたい"),  # katakana pattern, hiragana message
        ("しにたい", "シニタイ"),
        ("ｼﾆﾀｲ", "しにたい"),  # half-width pattern
        ("ＫＭＳ", "kms"),  # full-width pattern
        ("kms", "ＫＭＳ"),
        ("Don't Want To Live", "i dont want to live"),
        ("死 に た い", "死にたい"),
        ("re:リス(?:カ|トカット)", "りすかした"),  # katakana inside a regular expression
        ("re:ＯＤした", "odした"),  # full-width inside a regular expression
        ("re:I DON'T\\b", "i dont know"),  # capitals and apostrophes, \b kept
        ("re:ホーム", "ほむ"),  # ー dropped from a regular expression too
        ("re:\\w+にたい", "しにたい"),  # escapes are left alone (\w, not \W)
    ],
)
def test_a_pattern_written_in_any_form_matches_the_normalised_message(pattern: str, text: str) -> None:
    assert detector(pattern).matches(text)


def test_exclusions_are_cut_out_before_matching() -> None:
    check = detector("死ぬ", "not:死ぬほど", "dying", "not:re:dying to \\w+")
    assert check.matches("もう死ぬ")
    assert not check.matches("死ぬほど眠い")
    assert check.matches("死ぬほど眠い、もう死ぬ")
    assert not check.matches("I'm dying to know")
    assert check.matches("I'm dying")
    # a cut leaves a space behind, so the text around it does not join into a new phrase
    assert not detector("しぬ", "not:ほど").matches("しほどぬ")


def test_an_empty_detector_matches_nothing() -> None:
    empty = CrisisDetector([])
    assert not empty.matches("死にたい")
    assert empty.first_match("kms") is None
    assert not detector("# only a comment").matches("kms")


def test_regular_expressions_with_groups_or_flags_keep_their_meaning() -> None:
    check = detector("re:(ha)\\1", "re:(?i)zz", "re:(.)x\\1")
    assert check.matches("haha")
    assert not check.matches("hahe")
    assert check.matches("axa")
    assert check.matches("zz")


def test_first_match_shows_the_normalised_piece() -> None:
    assert DETECTOR.first_match("ｼﾆﾀｲ") == "しにたい"
    assert DETECTOR.first_match("ugh K M S") == "k m s"
    assert DETECTOR.first_match("") is None
