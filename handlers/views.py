"""What the participant sees: texts from the catalogues and their one-tap keyboards.

Callback data is short and carries no identity: the participant is always the person who tapped,
so a forged button can only ever touch the tapper's own record.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from core.ladder import GROUP_LEVEL, LEVELS
from core.schedule import WINDOW_HOURS, Rhythm, Window, hello_day_for
from core.streaks import DayMark, Progress
from storage.models import Participant
from storage.repo import FamilyView

COMMON_ZONES = (
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
)
GREETINGS = ("hello.greeting.1", "hello.greeting.2", "hello.greeting.3", "hello.greeting.4", "hello.greeting.5")
HELLO_ANSWERS = ("here", "not_today", "pause")
PAUSE_CHOICES = ("day", "week", "open")


@functools.lru_cache(maxsize=8192)
def _button(text: str, data: str) -> InlineKeyboardButton:
    """A button; PTB's buttons cannot be changed once made, so one made already is handed out again
    (a day's hellos share most of theirs, and making one is a good part of a hello's cost)."""
    return InlineKeyboardButton(text, callback_data=data)


def one_per_row(choices: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """A keyboard of (label, callback data) choices, one button to a row."""
    return InlineKeyboardMarkup([[_button(label, data)] for label, data in choices])


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


# --- onboarding and settings -------------------------------------------------------------------


def welcome(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    keyboard = [[_button(t("consent.yes"), "c:yes"), _button(t("consent.no"), "c:no")]]
    return t("welcome"), InlineKeyboardMarkup(keyboard)


def settings_lines(t: Translator, participant: Participant) -> str:
    tasks = (
        t("settings.tasks_on", level=level_label(t, participant.level))
        if participant.wants_tasks
        else t("settings.tasks_off")
    )
    return t(
        "settings.lines",
        language=t(f"language.{participant.language}"),
        timezone=participant.timezone,
        window=window_label(t, Window(participant.window)),
        rhythm=t(f"rhythm.{participant.rhythm}"),
        tasks=tasks,
        group=t("settings.on" if participant.group_opt_in else "settings.off"),
        peer=t("settings.peer_on" if participant.peer_visible else "settings.off")
        + ("" if participant.cheers_on else t("settings.cheers_off")),
    )


def level_label(t: Translator, level: int) -> str:
    return t("level.label", level=level, name=t(f"level.{level}"))


def summary(t: Translator, participant: Participant, key: str = "summary") -> tuple[str, InlineKeyboardMarkup]:
    """One screen of settings (the kind defaults, at first) with "Looks good" / "Change"."""
    keyboard = [[_button(t("summary.ok"), "s:ok"), _button(t("summary.change"), "s:change")]]
    return t(key, lines=settings_lines(t, participant)), InlineKeyboardMarkup(keyboard)


def settings_menu(t: Translator, participant: Participant) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [
        _button(t("settings.language"), "set:lang"),
        _button(t("settings.timezone"), "set:tz"),
        _button(t("settings.window"), "set:win"),
        _button(t("settings.rhythm"), "set:rhy"),
        _button(t("settings.tasks"), "set:tasks"),
        _button(t("settings.level"), "set:lvl"),
        _button(t("settings.group"), "set:grp"),
        _button(t("settings.peer"), "set:peer"),
        _button(t("settings.family"), "set:family"),
    ]
    keyboard = _rows(buttons, 2) + [[_button(t("settings.done"), "set:done")]]
    return t("settings", lines=settings_lines(t, participant)), InlineKeyboardMarkup(keyboard)


def language_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    keyboard = [[_button(t("language.ja"), "set:lang:ja"), _button(t("language.en"), "set:lang:en")]]
    return t("choose.language"), InlineKeyboardMarkup(keyboard)


def timezone_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [_button(zone, f"set:tz:{zone}") for zone in COMMON_ZONES]
    return t("choose.timezone"), InlineKeyboardMarkup(_rows(buttons, 2))


def window_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [[_button(window_label(t, w), f"set:win:{w}")] for w in Window]
    return t("choose.window"), InlineKeyboardMarkup(buttons)


def rhythm_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [_button(t(f"rhythm.{r}"), f"set:rhy:{r}") for r in Rhythm]
    return t("choose.rhythm"), InlineKeyboardMarkup(_rows(buttons, 2))


def tasks_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    keyboard = [[_button(t("choose.tasks_on"), "set:tasks:on"), _button(t("choose.tasks_off"), "set:tasks:off")]]
    return t("choose.tasks"), InlineKeyboardMarkup(keyboard)


def level_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [[_button(level_label(t, level), f"set:lvl:{level}")] for level in LEVELS]
    return t("choose.level"), InlineKeyboardMarkup(buttons)


def group_choice(t: Translator, then_level: bool = False) -> tuple[str, InlineKeyboardMarkup]:
    """The explicit opt-in for group activities; `then_level` also moves to step 5 on "Yes"."""
    yes = "set:grp:on5" if then_level else "set:grp:on"
    keyboard = [[_button(t("choose.group_on"), yes), _button(t("choose.group_off"), "set:grp:off")]]
    return t("choose.group"), InlineKeyboardMarkup(keyboard)


def peer_choice(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """Whether the peer team sees an anonymized card, and whether their cheers come through."""
    return t("choose.peer"), one_per_row(
        [
            (t("choose.peer_on"), "set:peer:on"),
            (t("choose.peer_off"), "set:peer:off"),
            (t("choose.cheers_on"), "set:cheers:on"),
            (t("choose.cheers_off"), "set:cheers:off"),
        ]
    )


def when_text(t: Translator, at: dt.datetime | None, now: dt.datetime, participant: Participant, zone: ZoneInfo) -> str:
    """'this evening', 'tomorrow morning', or a date: when the next hello comes, in plain words."""
    if at is None:
        return t("when.unknown")
    window = Window(participant.window)
    day = hello_day_for(at, window, zone)
    today = hello_day_for(now, window, zone)
    if day == today:
        return t(f"when.today.{window}")
    if day == today + dt.timedelta(days=1):
        return t(f"when.tomorrow.{window}")
    return t(
        "when.date",
        part=t(f"when.part.{window}"),
        month_name=t(f"month.{day.month}"),
        day=day.day,
        weekday=t(f"weekday.{day.weekday()}"),
    )


# --- the hello ------------------------------------------------------------------------------------


def hello_keyboard(t: Translator, prefix: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(t("hello.here"), f"{prefix}:here"), _button(t("hello.not_today"), f"{prefix}:not_today")],
            [_button(t("hello.pause"), f"{prefix}:pause")],
        ]
    )


# How a button's data writes its day (``f"{day:{BUTTON_DAY}}"``); :func:`button_day` reads it back.
BUTTON_DAY = "%Y%m%d"


def button_day(text: str) -> dt.date | None:
    """The day a button's data names (written with :data:`BUTTON_DAY`), or None if `text` is not one."""
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def task_rows(t: Translator, day: dt.date, task_id: str, *, with_too_much: bool = True) -> list[list[InlineKeyboardButton]]:
    prefix = f"t:{day:{BUTTON_DAY}}:{task_id}"
    rows = [[_button(t("task.done"), f"{prefix}:done"), _button(t("task.later"), f"{prefix}:later")]]
    if with_too_much:
        rows.append([_button(t("task.too_much"), f"{prefix}:too_much")])
    return rows


def thank_row(t: Translator, cheer_id: int) -> list[InlineKeyboardButton]:
    """The "Say thank you" button under a cheer from the peer team."""
    return [_button(t("thanks.button"), f"ty:{cheer_id}")]


def hello(
    t: Translator,
    day: dt.date,
    rng: random.Random,
    task: tuple[str, str] | None = None,
    notes: tuple[str, ...] = (),
    ask_about_notes: str | None = None,
    cheer: tuple[str, int] | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """A real hello, with a small task (id, words) if one fits, any notes from family (or, the
    first time, a question whether to show them), and a cheer from the peer team (words, id). Its
    buttons name the hello-day, the task and the cheer they answer, nothing about the person."""
    text = t(rng.choice(GREETINGS))
    rows = hello_keyboard(t, f"h:{day:{BUTTON_DAY}}").inline_keyboard
    if task is not None:
        task_id, words = task
        text += "\n\n" + t("task.with_hello", task=words)
        rows = (*task_rows(t, day, task_id), *rows)
    if notes:
        text += "\n\n" + "\n\n".join(notes)
    if ask_about_notes is not None:
        text += "\n\n" + t("notes.ask", name=ask_about_notes)
        rows = (*rows, [_button(t("notes.yes"), "nt:yes"), _button(t("notes.no"), "nt:no")])
    if cheer is not None:
        words, cheer_id = cheer
        text += "\n\n" + words
        rows = (*rows, thank_row(t, cheer_id))
    return text, InlineKeyboardMarkup(rows)


def door(t: Translator, day: dt.date) -> tuple[str, InlineKeyboardMarkup]:
    """The weekly message of a quiet spell: no task, no question that needs an answer."""
    prefix = f"h:{day:{BUTTON_DAY}}"
    return t("door.open"), InlineKeyboardMarkup([[_button(t("hello.here"), f"{prefix}:here")]])


def task_offer(t: Translator, key: str, day: dt.date, task_id: str, words: str, *, with_too_much: bool = True) -> tuple[str, InlineKeyboardMarkup]:
    """A task on its own (asked for with /task, or an easier one after "too much")."""
    return t(key, task=words), InlineKeyboardMarkup(task_rows(t, day, task_id, with_too_much=with_too_much))


def smaller_keyboard(t: Translator, day: dt.date, task_id: str) -> InlineKeyboardMarkup:
    """One button under the acceptance of a "too much": a smaller task, only if they want one."""
    return InlineKeyboardMarkup([[_button(t("task.smaller"), f"sm:{day:{BUTTON_DAY}}:{task_id}")]])


def rating_keyboard(day: dt.date, task_id: str) -> InlineKeyboardMarkup:
    prefix = f"r:{day:{BUTTON_DAY}}:{task_id}"
    numbers = [_button(str(n), f"{prefix}:{n}") for n in range(11)]
    return InlineKeyboardMarkup([numbers[:6], numbers[6:]])


def step_up_offer(t: Translator, level: int) -> tuple[str, InlineKeyboardMarkup]:
    key = "step_up.ask_group" if level + 1 == GROUP_LEVEL else "step_up.ask"
    # The buttons name the step the offer was made at: after any change of step they do nothing.
    keyboard = [
        [_button(t("step_up.yes"), f"e:yes:{level}"), _button(t("step_up.no"), f"e:no:{level}")],
        [_button(t("step_up.later"), f"e:later:{level}")],
    ]
    return t(key), InlineKeyboardMarkup(keyboard)


def without_rows(markup: InlineKeyboardMarkup | None, prefix: str) -> InlineKeyboardMarkup | None:
    """The same keyboard minus the rows whose buttons start with `prefix` (None if nothing is left)."""
    if markup is None:
        return None
    rows = [row for row in markup.inline_keyboard if not all((b.callback_data or "").startswith(prefix) for b in row)]
    return InlineKeyboardMarkup(rows) if rows else None


def sample_hello(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    return t("sample.hello"), hello_keyboard(t, "sample")


def pause_menu(t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [[_button(t(f"pause.{choice}"), f"p:{choice}")] for choice in PAUSE_CHOICES]
    buttons.append([_button(t("pause.cancel"), "p:cancel")])
    return t("pause.ask"), InlineKeyboardMarkup(buttons)


# --- progress -------------------------------------------------------------------------------------

DOTS = {DayMark.SHOWED_UP: "●", DayMark.MISSED: "・", DayMark.REST: "・"}


def calendar(marks: tuple[DayMark, ...]) -> str:
    """Four rows of seven dots, oldest first, today last: ● a day showed up, ・ any other day.

    Missed and rest days look the same on purpose: the calendar shows presence, never absence.
    """
    dots = [DOTS[mark] for mark in marks]
    return "\n".join(" ".join(dots[i : i + 7]) for i in range(0, len(dots), 7))


def progress(t: Translator, p: Progress) -> str:
    return "\n".join(
        [
            t("progress.title"),
            t("progress.last7", n=p.last_7),
            t("progress.last28", n=p.last_28),
            "",
            calendar(p.calendar),
            "",
            t.plural("progress.streak", p.current_streak),
            t.plural("progress.best", p.best_streak),
            t("progress.total", n=p.total_days),
            t("progress.rest_note"),
        ]
    )


def window_label(t: Translator, window: Window) -> str:
    """'Evening (18:00–21:00)': the name from the catalogue, the hours from the schedule rules."""
    start, end = WINDOW_HOURS[window]
    return t(f"window.{window}", hours=f"{start:%H:%M}–{end:%H:%M}")


# --- families ----------------------------------------------------------------------------------------

WELLBEING = ("ok", "soso", "hard")


def family_weekly(t: Translator, relatives: list[FamilyView], tip: str) -> tuple[str, InlineKeyboardMarkup]:
    """The weekly note to a family member: only what each relative chose to share, warmly; a tip;
    and a one-tap question about the family member's own week."""
    lines = []
    for view in relatives:
        if view.share == "count_level":
            lines.append(t.plural("family.weekly.count", view.days_this_week, label=view.relative_label, step=level_label(t, view.level)))
        elif view.share == "checked_in":
            key = "family.weekly.checked_in" if view.days_this_week else "family.weekly.quiet"
            lines.append(t(key, label=view.relative_label))
        else:
            lines.append(t("family.weekly.private", label=view.relative_label))
    body = "\n".join(lines) if lines else t("family.weekly.no_links")
    keyboard = InlineKeyboardMarkup([[_button(t(f"family.wellbeing.btn.{w}"), f"fw:{w}") for w in WELLBEING]])
    return t("family.weekly", relatives=body, tip=tip), keyboard
