"""The command line and configuration, as an operator meets them."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.app import GC_YOUNG_THRESHOLD, build_application, settle_memory
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KOMOREBI_", "DATABASE_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
        check=False,
    )


def test_run_without_a_token_explains_how_to_get_one_and_exits_2(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "/newbot" in result.stderr
    assert "python -m bot try" in result.stderr


def test_a_bad_setting_is_named_and_exits_2(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, KOMOREBI_DEFAULT_TIMEZONE="Mars/Olympus", TELEGRAM_BOT_TOKEN="1:x")
    assert result.returncode == 2
    assert "KOMOREBI_DEFAULT_TIMEZONE" in result.stderr and "Mars/Olympus" in result.stderr


def test_settings_come_from_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "KOMOREBI_COORDINATORS", "KOMOREBI_DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=42:from-dotenv\nKOMOREBI_COORDINATORS=5, 6\nKOMOREBI_DEFAULT_TIMEZONE=Europe/Berlin\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.telegram_bot_token == "42:from-dotenv"
    assert settings.coordinators == {5, 6}
    assert settings.default_timezone == "Europe/Berlin"
    assert settings.database_url == "sqlite+aiosqlite:///data/komorebi.db"


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    database = tmp_path / "k.db"
    result = run_cli("migrate", cwd=tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert result.returncode == 0, result.stderr
    tables = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"participants", "hellos", "checkins", "alembic_version"} <= tables


def test_simulate_runs_from_the_command_line_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from bot.simulate import scratch_folder

    scratch = Path(scratch_folder() or tempfile.gettempdir())
    before = set(scratch.glob("komorebi-simulation-*"))
    result = run_cli("simulate", "--participants", "6", "--days", "3", "--seed", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Komorebi simulation: 6 participants, 3 days")
    assert "OK: within the pressure budget" in result.stdout
    assert set(scratch.glob("komorebi-simulation-*")) == before  # its database is gone with it


def test_settling_memory_freezes_what_start_up_made_and_collects_less_often() -> None:
    """`run` and `simulate` call it once start-up is done (bot/cli.py)."""
    threshold = gc.get_threshold()
    try:
        settle_memory()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_run_and_simulate_settle_memory_once_start_up_is_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.app
    import bot.cli
    import bot.simulate
    from bot.cli import main

    steps: list[str] = []

    class Started:
        def run_polling(self, **_kwargs: object) -> None:
            steps.append("polling")

    async def simulated(*_args: object) -> int:
        steps.append("simulation")
        return 0

    monkeypatch.setattr(bot.app, "settle_memory", lambda: steps.append("settled"))
    monkeypatch.setattr(bot.app, "build_application", lambda *_a, **_k: steps.append("built") or Started())
    monkeypatch.setattr(bot.simulate, "simulate", simulated)
    # run's logging set-up would change the levels of the test process's loggers for good.
    monkeypatch.setattr(bot.cli, "configure_logging", lambda _level: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:settle")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    assert main(["run"]) == 0
    assert main(["simulate", "--participants", "1", "--days", "1"]) == 0
    assert steps == ["built", "settled", "polling", "settled", "simulation"]


def test_try_chats_with_the_real_bot_in_a_terminal(tmp_path: Path) -> None:
    script = "1\n1\n:next\n4\n/progress\n:quit\n"
    result = run_cli("try", "--database", str(tmp_path / "try.db"), cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Is this okay with you?" in out and "[1] OK   [2] Not now" in out
    assert "Looks good" in out
    assert "(the clock moves to" in out
    assert "[1] Done   [2] Maybe later   [3] Too much today   [4] I'm here   [5] Not today   [6] Pause for a while" in out
    assert "Thank you for saying hello" in out
    assert "Days you showed up in the last 7: 1" in out


class _FakeTelegramServer(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        _FakeTelegramServer.paths.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        me = {"id": 77, "is_bot": True, "first_name": "K", "username": "k_bot", "can_join_groups": False,
              "can_read_all_group_messages": False, "supports_inline_queries": False}
        body = json.dumps({"ok": True, "result": me if self.path.endswith("/getMe") else True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def bot_api_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeTelegramServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/custom/bot"
    server.shutdown()
    server.server_close()


async def test_the_bot_talks_to_the_configured_bot_api_server(bot_api_server: str, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        TELEGRAM_BOT_TOKEN="77:SECRET",
        TELEGRAM_API_BASE_URL=bot_api_server,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
    )
    application = build_application(settings)
    async with application:
        assert application.bot.username == "k_bot"
    assert _FakeTelegramServer.paths[0] == "/custom/bot77:SECRET/getMe"
    assert application.bot.base_file_url.startswith(bot_api_server.removesuffix("/bot") + "/file/bot")


def test_each_worker_sends_at_its_configured_share_of_telegrams_limit() -> None:
    settings = Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x", KOMOREBI_SEND_RATE="14")
    limiter = build_application(settings).bot.rate_limiter
    assert limiter._overall_rate == 14
    default = build_application(Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x")).bot.rate_limiter
    assert default._overall_rate == 29
    with pytest.raises(ValidationError):
        Settings(_env_file=None, TELEGRAM_BOT_TOKEN="1:x", KOMOREBI_SEND_RATE="45")  # above Telegram's limit
