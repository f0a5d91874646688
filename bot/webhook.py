"""Webhook mode: a small ASGI app (Starlette) that takes Telegram's deliveries.

- ``POST /telegram``: checks Telegram's secret-token header in constant time, drops a delivery
  whose update id a worker already took in (Telegram retries; several workers may sit behind one
  address), and puts the update on the Application's queue.
- ``GET /healthz``: 200 when the database answers and the tick ran recently, 503 otherwise.
- ``GET /metrics``: Prometheus text.

The Application starts and stops with the app (its lifespan), webhook set and all.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.app import on_shutdown, on_startup
from bot.services import services_of
from storage import repo

log = logging.getLogger("komorebi.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram"
# The tick counts as late when it has not finished for this many of its intervals.
LATE_AFTER_TICKS = 3


def create_web_app(application: Application, *, set_webhook: bool = True) -> Starlette:
    services = services_of(application)
    settings = services.settings
    if not settings.webhook_secret:
        raise ValueError("webhook mode needs KOMOREBI_WEBHOOK_SECRET")
    secret = settings.webhook_secret.encode()

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret):
            return Response(status_code=403)
        try:
            data = await request.json()
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return Response(status_code=400)
        async with services.sessions() as session:
            first = await repo.first_delivery(session, update_id, services.clock.now())
            await session.commit()
        if not first:
            services.metrics.duplicate_updates.inc()
            return Response(status_code=200)
        await application.update_queue.put(Update.de_json(data, application.bot))
        return Response(status_code=200)

    async def healthz(_request: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            async with services.sessions() as session:
                await repo.ping(session)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said plainly
            checks["database"] = type(exc).__name__
        since = services.clock.now().timestamp() - services.metrics.last_tick_at
        late = since > LATE_AFTER_TICKS * settings.tick_seconds
        checks["tick"] = "late" if late else "ok"
        healthy = all(value == "ok" for value in checks.values())
        return JSONResponse(checks, status_code=200 if healthy else 503)

    async def metrics(_request: Request) -> Response:
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with application:
            await on_startup(application)
            if set_webhook:
                await application.bot.set_webhook(
                    url=settings.webhook_url,
                    secret_token=settings.webhook_secret,
                    allowed_updates=Update.ALL_TYPES,
                )
            await application.start()
            services.metrics.tick_finished(services.clock.now().timestamp())  # a fresh start is not late
            log.info("webhook mode: ready")
            yield
            await application.stop()
            await on_shutdown(application)

    routes = [
        Route(WEBHOOK_PATH, telegram, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
