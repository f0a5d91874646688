"""Task texts: content an organisation can edit without touching code.

One CSV file per language under ``content/tasks/`` (columns ``level,id,text``; see
``content/README.md``). Both files must list the same task ids at the same levels, with at least
:data:`MIN_TASKS_PER_LEVEL` per level. A broken file stops the start with its name and line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from bot.i18n import LANGUAGES
from core.crisis import CrisisDetector, CrisisPatternError, parse_patterns
from core.ladder import LEVELS

CONTENT_ROOT = Path(__file__).resolve().parent.parent / "content"
CONTENT = CONTENT_ROOT / "tasks"
HEADER = ["level", "id", "text"]
MIN_TASKS_PER_LEVEL = 8
# Characters in one task text, per language (content/README.md): a short line on a phone.
MAX_TEXT_LENGTH = {"en": 90, "ja": 45}
# An id travels in button data (64 bytes at most, with the day and the answer) and in the database.
MAX_ID_LENGTH = 40
ID_PATTERN = re.compile(r"^l(?P<level>[0-9])-[a-z0-9]+(?:-[a-z0-9]+)*$")


class ContentError(Exception):
    """A content file is missing or broken; the message names the file and the line."""


@dataclass(frozen=True)
class _Row:
    line: int
    level: int
    text: str


class TaskCatalog:
    """Every task, by level, with its words in each language."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or CONTENT
        paths = {language: directory / f"{language}.csv" for language in LANGUAGES}
        rows = {language: _read_tasks(path, MAX_TEXT_LENGTH[language]) for language, path in paths.items()}
        _check_languages_agree(paths, rows)
        first = rows[LANGUAGES[0]]
        self._levels: dict[str, int] = {task: row.level for task, row in first.items()}
        self._texts: dict[str, dict[str, str]] = {
            language: {task: row.text for task, row in found.items()} for language, found in rows.items()
        }
        self.by_level: dict[int, tuple[str, ...]] = {
            level: tuple(task for task, at in self._levels.items() if at == level) for level in LEVELS
        }

    def level_of(self, task_id: str) -> int | None:
        return self._levels.get(task_id)

    def text(self, language: str, task_id: str) -> str:
        return self._texts[language][task_id]


def _records(path: Path) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """The header and every later non-blank record of a CSV file, each with the line it starts on
    (a quoted field may run over several lines, and then the csv module's count is its last line)."""
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    records: list[tuple[int, list[str]]] = []
    header = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return header, records
        except csv.Error as exc:
            raise ContentError(f"{path}, line {start}: {exc}") from exc
        if start == 1:
            header = row
        elif any(cell.strip() for cell in row):
            records.append((start, row))


def _read_tasks(path: Path, max_length: int) -> dict[str, _Row]:
    """One language's tasks by id, after every check that one file can fail on its own."""
    header, records = _records(path)
    if header != HEADER:
        raise ContentError(f"{path}, line 1: the first line must be exactly: {','.join(HEADER)}")
    found: dict[str, _Row] = {}
    for line, row in records:
        where = f"{path}, line {line}"
        if any(len(cell.splitlines()) > 1 for cell in row):
            raise ContentError(
                f'{where}: a field runs over more than one line (a line break in a text, or a quote " that is not closed)'
            )
        if len(row) != len(HEADER):
            raise ContentError(f"{where}: expected 3 columns (level,id,text), found {len(row)}")
        level_text, task_id, text = (cell.strip() for cell in row)
        if not level_text.isdecimal() or int(level_text) not in LEVELS:
            raise ContentError(f"{where}: level must be a number from 0 to 5, not {level_text!r}")
        level = int(level_text)
        named = ID_PATTERN.match(task_id)
        if named is None or len(task_id) > MAX_ID_LENGTH:
            raise ContentError(
                f"{where}: id {task_id!r} must look like l{level}-word: lowercase letters, digits and hyphens,"
                f" at most {MAX_ID_LENGTH} characters"
            )
        if int(named["level"]) != level:
            raise ContentError(f"{where}: id {task_id!r} starts with l{named['level']}, but its level is {level}")
        if task_id in found:
            raise ContentError(f"{where}: id {task_id!r} appears twice (first on line {found[task_id].line})")
        if not text:
            raise ContentError(f"{where}: the text of {task_id!r} is empty")
        if len(text) > max_length:
            raise ContentError(
                f"{where}: the text of {task_id!r} is {len(text)} characters long; {path.name} allows at most {max_length}"
            )
        found[task_id] = _Row(line, level, text)
    for level in LEVELS:
        count = sum(1 for row in found.values() if row.level == level)
        if count < MIN_TASKS_PER_LEVEL:
            raise ContentError(f"{path}: level {level} has {count} tasks, at least {MIN_TASKS_PER_LEVEL} are needed")
    return found


def _check_languages_agree(paths: dict[str, Path], rows: dict[str, dict[str, _Row]]) -> None:
    """Every id in every file: the row of a task that another file lacks is named, with its line."""
    for language, found in rows.items():
        for other, theirs in rows.items():
            for task_id, row in found.items():
                if task_id not in theirs:
                    raise ContentError(
                        f"{paths[language]}, line {row.line}: the task {task_id!r} is not in {paths[other].name}"
                        f" (both files need the same ids: add it there too, or remove it here)"
                    )


def _read_text(path: Path) -> str:
    """A UTF-8 file's text, with or without a byte-order mark; a byte that is not UTF-8 is named
    with its line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError(f"{path}: cannot be read ({exc.strerror})") from exc
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ContentError(
            f'{path}, line {line}: not valid UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8 ("CSV UTF-8" in a spreadsheet)'
        ) from exc


def _content_lines(path: Path) -> list[str]:
    return _read_text(path).splitlines()


def load_helplines(directory: Path = CONTENT_ROOT / "helplines") -> dict[str, str]:
    """The help lines of this deployment, per language: every line that is not blank or a comment."""
    lines = {}
    for language in LANGUAGES:
        path = directory / f"{language}.txt"
        shown = [line.strip() for line in _content_lines(path) if line.strip() and not line.lstrip().startswith("#")]
        if not shown:
            raise ContentError(f"{path}: no help lines (a crisis reply must always give numbers)")
        lines[language] = "\n".join(shown)
    return lines


def load_crisis_detector(directory: Path = CONTENT_ROOT / "crisis") -> CrisisDetector:
    """The crisis-signal patterns of every language, in one detector (people mix languages)."""
    patterns = []
    for language in LANGUAGES:
        path = directory / f"{language}.txt"
        try:
            patterns.append(parse_patterns(_content_lines(path), str(path)))
        except CrisisPatternError as exc:
            raise ContentError(str(exc)) from exc
    return CrisisDetector(patterns)
