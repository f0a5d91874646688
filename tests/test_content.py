"""The task files: complete in both languages, and a broken one is refused with its file and line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import CONTENT_HELP
from bot.content import CONTENT, MIN_TASKS_PER_LEVEL, ContentError, TaskCatalog, load_helplines
from bot.i18n import LANGUAGES
from core.clock import FakeClock
from core.ladder import LEVELS
from tests.harness import Harness
from tests.test_catalogues import BANNED
from tests.test_checkin_loop import to_next_hello
from tests.test_onboarding import ME, onboard

ROOT = Path(__file__).resolve().parent.parent

CATALOG = TaskCatalog()
# The line of l1-water in each shipped file (the tests below break that row).
WATER_LINE = {
    language: next(
        number
        for number, line in enumerate((CONTENT / f"{language}.csv").read_text(encoding="utf-8-sig").splitlines(), 1)
        if line.startswith("1,l1-water,")
    )
    for language in LANGUAGES
}


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


def broken(tmp_path: Path, language: str, edit, *, both: bool = False) -> Path:  # noqa: ANN001 - a str -> str function
    """Copies of the task files in `tmp_path`, with `edit` made to one language's (or to both)."""
    for name in LANGUAGES:
        shutil.copy(CONTENT / f"{name}.csv", tmp_path / f"{name}.csv")
    for name in LANGUAGES if both else (language,):
        path = tmp_path / f"{name}.csv"
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path / f"{language}.csv"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("1,l1-water,", "7,l1-water,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: level must be a number from 0 to 5"),
        (lambda s: s.replace("1,l1-water,", "²,l1-water,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: level must be a number from 0 to 5"),
        (lambda s: s.replace("1,l1-water,", "1,L1 Water,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: id 'L1 Water'"),
        (lambda s: s.replace("1,l1-water,", "1,l1-curtains,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: id 'l1-curtains' appears twice"),
        (lambda s: re.sub(r"\n1,l1-water,[^\n]*", "\n1,l1-water,", s, count=1), rf"ja\.csv, line {WATER_LINE['ja']}: the text of 'l1-water' is empty"),
        (lambda s: re.sub(r"\n1,l1-water,[^\n]*", "\n1,l1-water", s, count=1), rf"ja\.csv, line {WATER_LINE['ja']}: expected 3 columns"),
        (lambda s: s.replace("level,id,text", "lvl,id,text", 1), r"ja\.csv, line 1: the first line must be"),
        (lambda s: s.replace("1,l1-water,", "2,l1-water,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: id 'l1-water' starts with l1, but its level is 2"),
        (lambda s: s.replace("1,l1-water,", "1,l3-water,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: id 'l3-water' starts with l3, but its level is 1"),
        # An id in one file only: the row that has it is named, and the file that lacks it.
        (lambda s: re.sub(r"\n1,l1-water,[^\n]*", "", s, count=1), rf"en\.csv, line {WATER_LINE['en']}: the task 'l1-water' is not in ja\.csv"),
        (lambda s: s.replace("1,l1-water,", "1,l1-extra,余分。\n1,l1-water,", 1), rf"ja\.csv, line {WATER_LINE['ja']}: the task 'l1-extra' is not in en\.csv"),
        # A line break in a text, or a quote left open: the line where the field starts.
        (lambda s: s.replace("1,l1-water,", '1,l1-water,"コップ\n', 1), rf"ja\.csv, line {WATER_LINE['ja']}: a field runs over more than one line"),
        (lambda s: s.replace("1,l1-water,", '1,l1-water,"', 1), rf"ja\.csv, line {WATER_LINE['ja']}: a field runs over more than one line"),
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
    with pytest.raises(ContentError, match=r"ja\.csv: level 3 has 2 tasks, at least 8"):
        TaskCatalog(tmp_path)


def test_too_few_tasks_in_one_file_names_that_file(tmp_path: Path) -> None:
    level_3 = CATALOG.by_level[3]
    drop = "|".join(level_3[: len(level_3) - MIN_TASKS_PER_LEVEL + 1])  # one too many
    broken(tmp_path, "en", lambda s: re.sub(rf"\n3,({drop}),[^\n]*", "", s))
    with pytest.raises(ContentError, match=rf"en\.csv: level 3 has {MIN_TASKS_PER_LEVEL - 1} tasks, at least 8"):
        TaskCatalog(tmp_path)


def test_an_id_must_carry_its_level_even_when_both_files_agree(tmp_path: Path) -> None:
    broken(tmp_path, "ja", lambda s: s.replace("1,l1-water,", "1,l3-water,", 1), both=True)
    with pytest.raises(ContentError, match=rf"ja\.csv, line {WATER_LINE['ja']}: id 'l3-water' starts with l3, but its level is 1"):
        TaskCatalog(tmp_path)


@pytest.mark.parametrize(("language", "limit"), [("en", 90), ("ja", 45)])
def test_texts_are_held_to_the_length_of_their_language(tmp_path: Path, language: str, limit: int) -> None:
    def text_of(length: int):  # noqa: ANN202 - an edit
        return lambda s: re.sub(r"\n1,l1-water,[^\n]*", "\n1,l1-water," + "w" * length, s, count=1)

    broken(tmp_path, language, text_of(limit))
    assert TaskCatalog(tmp_path).text(language, "l1-water") == "w" * limit
    broken(tmp_path, language, text_of(limit + 1))
    with pytest.raises(ContentError, match=rf"{language}\.csv, line {WATER_LINE[language]}: .* {limit + 1} characters long; .* at most {limit}$"):
        TaskCatalog(tmp_path)


def test_a_byte_that_is_not_utf8_is_named_with_file_and_line(tmp_path: Path) -> None:
    path = broken(tmp_path, "ja", lambda s: s)
    path.write_bytes(path.read_bytes().replace("コップ".encode(), b"\x83R\x83b\x83v", 1))  # Shift_JIS
    with pytest.raises(ContentError, match=rf"ja\.csv, line {WATER_LINE['ja']}: not valid UTF-8"):
        TaskCatalog(tmp_path)


def test_a_help_line_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "ja.txt").write_bytes("# 相談窓口\n".encode() + "よりそいホットライン".encode("shift_jis") + b"\n")
    (tmp_path / "en.txt").write_text("A line\n", "utf-8")
    with pytest.raises(ContentError, match=r"ja\.txt, line 2: not valid UTF-8"):
        load_helplines(tmp_path)


def test_a_spreadsheet_export_with_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    for name in LANGUAGES:
        (tmp_path / f"{name}.csv").write_text((CONTENT / f"{name}.csv").read_text("utf-8"), encoding="utf-8-sig")
    assert TaskCatalog(tmp_path).by_level == CATALOG.by_level


# `python -m bot ARGS`, with the task files read from another folder whatever the settings say
# (`simulate` always runs on the shipped tasks; KOMOREBI_TASKS_DIR is tested below).
MAIN_WITH_TASKS_FROM = (
    "import sys; from pathlib import Path; import bot.content; bot.content.CONTENT = Path(sys.argv[1]);"
    " from bot.cli import main; raise SystemExit(main(sys.argv[2:]))"
)


@pytest.mark.parametrize("command", [["run"], ["try"], ["simulate", "--participants", "1", "--days", "1"]])
def test_the_command_line_names_a_broken_file_and_exits_2_without_a_traceback(tmp_path: Path, command: list[str]) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    broken(tasks, "ja", lambda s: s.replace("1,l1-water,", "1,l3-water,", 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KOMOREBI_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"}
    result = subprocess.run(
        [sys.executable, "-c", MAIN_WITH_TASKS_FROM, str(tasks), *command],
        cwd=tmp_path, input="", capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert result.returncode == 2
    # (`run` has set up its logging by then: a library's start-up lines may come first.)
    assert result.stderr.endswith(
        f"The content is not valid:\n  {tasks / 'ja.csv'}, line {WATER_LINE['ja']}: id 'l3-water' starts with l3, but its level is 1\n"
        f"{CONTENT_HELP}\n"
    )
    assert "Traceback" not in result.stderr


async def test_an_organisations_own_tasks_come_from_the_folder_its_setting_names(
    tmp_path: Path, engine: AsyncEngine, clock: FakeClock
) -> None:
    ours = "Picture the garden of our drop-in space for a moment."
    broken(tmp_path, "en", lambda s: re.sub(r"(?m)^0,(l0-[a-z0-9-]+),.*$", rf"0,\1,{ours}", s))
    async with Harness.started(engine, clock, KOMOREBI_TASKS_DIR=str(tmp_path)) as bot:
        await onboard(bot)
        await to_next_hello(bot)
        assert bot.api.last(ME).text.endswith(ours)


def test_a_broken_file_in_the_tasks_folder_setting_stops_run_with_its_name(tmp_path: Path) -> None:
    broken(tmp_path, "ja", lambda s: s.replace("1,l1-water,", "1,l3-water,", 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KOMOREBI_", "DATABASE_"))}
    env |= {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
            "KOMOREBI_TASKS_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert result.returncode == 2
    assert f"{tmp_path / 'ja.csv'}, line {WATER_LINE['ja']}: id 'l3-water' starts with l3, but its level is 1" in result.stderr
    assert "Traceback" not in result.stderr
