"""Task texts: content an organisation can edit without touching code.

One CSV file per language under ``content/tasks/`` (columns ``level,id,text``; see
``content/README.md``). Both files must list the same task ids at the same levels, with at least
:data:`MIN_TASKS_PER_LEVEL` per level. A broken file stops the start with its name and line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from bot.i18n import LANGUAGES
from core.crisis import CrisisDetector, CrisisPatternError, parse_patterns
from core.ladder import LEVELS

CONTENT_ROOT = Path(__file__).resolve().parent.parent / "content"
CONTENT = CONTENT_ROOT / "tasks"
MIN_TASKS_PER_LEVEL = 8
MAX_TEXT_LENGTH = 200
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class ContentError(Exception):
    """A content file is missing or broken; the message names the file and the line."""


@dataclass(frozen=True)
class Task:
    id: str
    level: int


class TaskCatalog:
    """Every task, by level, with its words in each language."""

    def __init__(self, directory: Path = CONTENT) -> None:
        self._levels: dict[str, int] = {}
        self._texts: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            path = directory / f"{language}.csv"
            self._texts[language] = self._read(path)
        self._check_languages_agree(directory)
        self.by_level: dict[int, tuple[str, ...]] = {
            level: tuple(task for task, at in self._levels.items() if at == level) for level in LEVELS
        }
        for level, tasks in self.by_level.items():
            if len(tasks) < MIN_TASKS_PER_LEVEL:
                raise ContentError(
                    f"{directory}: level {level} has {len(tasks)} tasks, at least {MIN_TASKS_PER_LEVEL} are needed"
                )

    def _read(self, path: Path) -> dict[str, str]:
        try:
            handle = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ContentError(f"{path}: cannot be read ({exc.strerror})") from exc
        texts: dict[str, str] = {}
        with handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header != ["level", "id", "text"]:
                raise ContentError(f"{path}, line 1: the first line must be exactly: level,id,text")
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != 3:
                    raise ContentError(f"{path}, line {line}: expected 3 columns (level,id,text), found {len(row)}")
                level_text, task_id, text = (cell.strip() for cell in row)
                if not level_text.isdigit() or int(level_text) not in LEVELS:
                    raise ContentError(f"{path}, line {line}: level must be a number from 0 to 5, not {level_text!r}")
                if not ID_PATTERN.match(task_id):
                    raise ContentError(f"{path}, line {line}: id {task_id!r} must be lowercase letters, digits and hyphens")
                if task_id in texts:
                    raise ContentError(f"{path}, line {line}: id {task_id!r} appears twice")
                if not text:
                    raise ContentError(f"{path}, line {line}: the text of {task_id!r} is empty")
                if len(text) > MAX_TEXT_LENGTH:
                    raise ContentError(f"{path}, line {line}: the text of {task_id!r} is longer than {MAX_TEXT_LENGTH} characters")
                level = int(level_text)
                known = self._levels.setdefault(task_id, level)
                if known != level:
                    raise ContentError(f"{path}, line {line}: {task_id!r} is at level {level} here and {known} in another language")
                texts[task_id] = text
        return texts

    def _check_languages_agree(self, directory: Path) -> None:
        for language in LANGUAGES:
            missing = sorted(set(self._levels) - set(self._texts[language]))
            if missing:
                raise ContentError(f"{directory / (language + '.csv')}: no text for {', '.join(missing)}")

    def level_of(self, task_id: str) -> int | None:
        return self._levels.get(task_id)

    def text(self, language: str, task_id: str) -> str:
        return self._texts[language][task_id]


def _content_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ContentError(f"{path}: cannot be read ({exc.strerror})") from exc


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
