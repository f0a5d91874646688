"""The task files: complete in both languages, and a broken one is refused with its file and line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.content import CONTENT, MIN_TASKS_PER_LEVEL, ContentError, TaskCatalog
from bot.i18n import LANGUAGES
from core.ladder import LEVELS
from tests.test_catalogues import BANNED

CATALOG = TaskCatalog()


def test_every_level_has_enough_tasks_in_both_languages() -> None:
    for level in LEVELS:
        tasks = CATALOG.by_level[level]
        assert len(tasks) >= MIN_TASKS_PER_LEVEL
        for task in tasks:
            for language in LANGUAGES:
                assert CATALOG.text(language, task).strip()


@pytest.mark.parametrize("language", LANGUAGES)
def test_task_texts_follow_the_voice_rules(language: str) -> None:
    for level in LEVELS:
        for task in CATALOG.by_level[level]:
            text = CATALOG.text(language, task)
            for pattern in [*BANNED[language], r"!"]:
                assert not re.search(pattern, text, re.IGNORECASE), f"{language} {task}: {text!r}"


def broken(tmp_path: Path, language: str, edit) -> Path:  # noqa: ANN001 - a str -> str function
    for name in LANGUAGES:
        shutil.copy(CONTENT / f"{name}.csv", tmp_path / f"{name}.csv")
    path = tmp_path / f"{language}.csv"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("1,l1-water,", "7,l1-water,", 1), r"ja\.csv, line 13: level must be a number from 0 to 5"),
        (lambda s: s.replace("1,l1-water,", "1,L1 Water,", 1), r"ja\.csv, line 13: id 'L1 Water'"),
        (lambda s: s.replace("1,l1-water,", "1,l1-curtains,", 1), r"ja\.csv, line 13: id 'l1-curtains' appears twice"),
        (lambda s: re.sub(r"\n1,l1-water,[^\n]*", "\n1,l1-water,", s, count=1), r"ja\.csv, line 13: the text of 'l1-water' is empty"),
        (lambda s: re.sub(r"\n1,l1-water,[^\n]*", "\n1,l1-water", s, count=1), r"ja\.csv, line 13: expected 3 columns"),
        (lambda s: s.replace("level,id,text", "lvl,id,text", 1), r"ja\.csv, line 1: the first line must be"),
        (lambda s: s.replace("1,l1-water,", "2,l1-water,", 1), r"en\.csv, line 13: 'l1-water' is at level 1 here and 2"),
        (lambda s: re.sub(r"\n1,l1-water,[^\n]*", "", s, count=1), r"ja\.csv: no text for l1-water"),
    ],
)
def test_a_broken_file_is_refused_naming_file_and_line(tmp_path: Path, edit, message: str) -> None:  # noqa: ANN001
    broken(tmp_path, "ja", edit)
    with pytest.raises(ContentError, match=message):
        TaskCatalog(tmp_path)


def test_too_few_tasks_at_a_level_is_refused(tmp_path: Path) -> None:
    def keep_two_at_level_3(text: str) -> str:
        lines = text.splitlines()
        kept, seen = [], 0
        for line in lines:
            if line.startswith("3,"):
                seen += 1
                if seen > 2:
                    continue
            kept.append(line)
        return "\n".join(kept) + "\n"

    for name in LANGUAGES:
        (tmp_path / f"{name}.csv").write_text(keep_two_at_level_3((CONTENT / f"{name}.csv").read_text("utf-8")), "utf-8")
    with pytest.raises(ContentError, match="level 3 has 2 tasks"):
        TaskCatalog(tmp_path)


def test_a_spreadsheet_export_with_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    for name in LANGUAGES:
        (tmp_path / f"{name}.csv").write_text((CONTENT / f"{name}.csv").read_text("utf-8"), encoding="utf-8-sig")
    assert TaskCatalog(tmp_path).by_level == CATALOG.by_level
