"""Webhook mode: the real Application behind the ASGI app, driven over HTTP in-process."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.fakeapi import FakeBotAPI, text_update
from bot.webhook import SECRET_HEADER, WEBHOOK_PATH, create_web_app
from core.clock import FakeClock
from tests.harness import offline_application

SECRET = "a-very-secret_token-123"
ME = 6006


class Web:
    def __init__(self, client: httpx.AsyncClient, api: FakeBotAPI, clock: FakeClock, application) -> None:  # noqa: ANN001
        self.client, self.api, self.clock, self.application = client, api, clock, application

    async def post(self, update: dict, secret: str | None = SECRET) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        status = (await self.client.post(WEBHOOK_PATH, json=update, headers=headers)).status_code
        await self.application.update_queue.join()  # wait until the Application handled it
        return status


@pytest.fixture
async def web(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Web]:
    database = tmp_path / "web.db"
    shutil.copy(sqlite_template, database)
    clock = FakeClock(dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.UTC))
    api = FakeBotAPI(clock=clock.now)
    application, _ = offline_application(
        clock,
        api,
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        KOMOREBI_WEBHOOK_URL="https://komorebi.example/telegram",
        KOMOREBI_WEBHOOK_SECRET=SECRET,
        updater=False,
    )
    app = create_web_app(application)
    async with app.router.lifespan_context(app):  # what an ASGI server does at start and stop
        for job in application.job_queue.jobs():
            job.enabled = False  # no real-time tick in a test: the fake clock decides
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://komorebi.test") as client:
            yield Web(client, api, clock, application)


async def test_the_webhook_is_registered_with_the_secret(web: Web) -> None:
    [call] = web.api.calls_to("setWebhook")
    assert call.params["url"] == "https://komorebi.example/telegram"
    assert call.params["secret_token"] == SECRET


async def test_a_delivery_without_the_secret_is_refused_and_not_handled(web: Web) -> None:
    assert await web.post(text_update(ME, "/start", update_id=10), secret=None) == 403
    assert await web.post(text_update(ME, "/start", update_id=11), secret="wrong") == 403
    assert web.api.messages(ME) == []


async def test_an_update_is_handled_once_even_when_telegram_retries_it(web: Web) -> None:
    update = text_update(ME, "/start", update_id=20)
    assert await web.post(update) == 200
    assert await web.post(update) == 200  # Telegram retried the same delivery
    assert len(web.api.messages(ME)) == 1
    assert "komorebi_duplicate_updates_total 1.0" in (await web.client.get("/metrics")).text


async def test_a_malformed_delivery_is_a_bad_request(web: Web) -> None:
    response = await web.client.post(WEBHOOK_PATH, content=b"not json", headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400


async def test_health_and_metrics(web: Web) -> None:
    health = await web.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"database": "ok", "tick": "ok"}
    await web.post(text_update(ME, "/start", update_id=30))
    await web.post(web.api.press(ME, "OK"))
    await web.post(web.api.press(ME, "Looks good"))
    await web.post(text_update(ME, "here I am", update_id=31))
    [job] = web.application.job_queue.jobs()
    await job.run(web.application)  # one tick, as the JobQueue would run it (nothing is due yet)
    text = (await web.client.get("/metrics")).text
    assert "komorebi_checkins_total 1.0" in text
    assert 'komorebi_hellos_total{outcome="sent"} 0.0' in text
    # The tick has not run for long: not healthy any more.
    web.clock.advance(dt.timedelta(minutes=5))
    late = await web.client.get("/healthz")
    assert late.status_code == 503 and late.json()["tick"] == "late"


def test_webhook_mode_without_its_settings_explains_and_exits_2(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    result = run_cli("run", "--webhook", cwd=tmp_path, TELEGRAM_BOT_TOKEN="1:x")
    assert result.returncode == 2
    assert "KOMOREBI_WEBHOOK_URL" in result.stderr and "KOMOREBI_WEBHOOK_SECRET" in result.stderr
