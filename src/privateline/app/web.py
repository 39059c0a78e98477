"""The HTTP application: routes of every service, the access log, background work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from privateline.app.system import System
from privateline.services.devices.device_api import CHECKIN_PATH, device_api
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.info.http import info_router
from privateline.services.devices.info.weather import HttpWeather, OfflineWeather, WeatherProvider
from privateline.services.devices.portal.http import portal_router
from privateline.services.dpo.http import dpo_router
from privateline.services.forwarding import TrustedProxies
from privateline.services.privacy.center.http import privacy_center_router
from privateline.services.privacy.email_link.http import email_link_router
from privateline.services.privacy.transmission import Transmitter, parse_networks
from privateline.services.site.access_log import AccessLogMiddleware, AccessLogWriter
from privateline.services.site.consent.http import ConsentSite
from privateline.services.site.notice_http import notice_router

log = structlog.get_logger("privateline.web")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


class CheckinFirst:
    """Answer phones' check-ins ahead of the application's routing, middleware and error pages.

    Every phone calls `POST /device/v1/checkin` every day (bench/checkin): the endpoint is
    a complete ASGI app that validates, authenticates and answers by itself, check-ins
    are kept out of the access log anyway (DEV-1), so only the security headers are
    added.  Everything else, the lifespan included, goes to the application.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.checkin = SecurityHeaders(app.state.checkin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CHECKIN_PATH and scope["method"] == "POST":
            await self.checkin(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _every(seconds: float, work: Callable[[], Any], what: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await asyncio.to_thread(work)
        except Exception as exc:  # keep the loop alive; the next round retries
            log.error("background work failed", work=what, error=type(exc).__name__)


# The device cloud's machine interfaces: called by phones, not visited by people, and kept
# out of the website access log (DEV-1: no history of a phone's reports).
DEVICE_INTERFACES = ("/device/v1/", "/info/")


def weather_provider(system: System) -> WeatherProvider:
    settings = system.settings
    if settings.weather_provider == "open-meteo":
        return HttpWeather(
            forecast_url=settings.weather_forecast_url,
            geocoding_url=settings.weather_geocoding_url,
            timeout=settings.weather_timeout_seconds,
        )
    return OfflineWeather()


def create_app(system: System, *, background: bool = True) -> FastAPI:
    writer = AccessLogWriter(system.database)
    proxies = TrustedProxies.parse(system.settings.trusted_proxies)
    # Every use of a phone's data by the device services asks the purpose gate.
    device_gate = DeviceGate(system.rights.gate, system.pseudonymizer)
    devices = device_api(
        system.database, system.clock, system.pseudonymizer, proxies, system.settings.sip_realm, device_gate
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        devices.desk.start()
        if background:
            tasks = [
                asyncio.create_task(_every(system.settings.access_log_flush_seconds, writer.flush, "access log")),
                asyncio.create_task(_every(system.settings.sweep_interval_seconds, system.sweep, "retention sweep")),
                asyncio.create_task(
                    _every(
                        system.settings.recipient_delivery_seconds,
                        system.deliver_recipient_notices,
                        "recipient notices",
                    )
                ),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(devices.desk.stop)
            await asyncio.to_thread(writer.flush)

    app = FastAPI(
        title="privateline",
        summary="Device cloud, customer service and website whose privacy notice is enforced by code",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # No OpenTelemetry is configured; FastAPI would still look for its providers on
        # every request (measured: about a tenth of the event loop's time under load).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.system = system
    app.state.checkin = devices.checkin
    app.state.access_log = writer

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>privateline</title>"
            "<h1>privateline</h1><ul>"
            '<li><a href="/privacy">Privacy notice</a> (<a href="/privacy?lang=de">Deutsch</a>, '
            '<a href="/privacy?lang=nl">Nederlands</a>)</li>'
            '<li><a href="/privacy-center">Privacy center: your data protection rights</a></li>'
            '<li><a href="/config-helper">Your phones in this network</a></li>'
            '<li><a href="/device">Your phone: data, services and updates</a></li>'
            '<li><a href="/dpo">Data protection officer\'s console</a></li>'
            '<li><a href="/cookie-settings">Cookie settings</a></li>'
            '<li><a href="/api/docs">API</a></li></ul></html>'
        )

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "register_version": system.loaded.version}

    app.include_router(notice_router(system.loaded, system.database))
    app.router.routes.extend(devices.routes)
    app.include_router(
        info_router(
            system.database,
            system.clock,
            weather_provider(system),
            device_gate,
            realm=system.settings.sip_realm,
            proxies=proxies,
        )
    )
    app.include_router(
        portal_router(
            system.database,
            system.clock,
            system.pseudonymizer,
            system.session_key,
            proxies,
            system.tables,
            secure_cookies=system.settings.cookie_secure,
            register=system.loaded,
            rights=system.rights,
            # Portability straight to another provider (R-6, Art. 20(2)), within the
            # operator's rules for which networks may be reached.
            transmitter=Transmitter(
                parse_networks(system.settings.portability_allowed_networks), system.settings.portability_ca_file
            ),
        )
    )
    consent = ConsentSite(
        system.database,
        system.clock,
        system.pseudonymizer,
        system.session_key,
        system.loaded,
        system.rights,
        secure_cookies=system.settings.cookie_secure,
    )
    # Every page made with services.pages gets the cookie-settings link and banner (WEB-8).
    app.state.site_chrome = consent.chrome
    app.include_router(consent.router())
    app.include_router(privacy_center_router(system.loaded))
    # Newsletter recipients prove who they are by a signed link sent to their address.
    app.include_router(
        email_link_router(
            system.database,
            system.clock,
            system.pseudonymizer,
            system.session_key,
            proxies,
            system.loaded,
            system.rights,
            system.settings,
        )
    )
    app.include_router(
        dpo_router(
            system.database,
            system.clock,
            system.session_key,
            proxies,
            system.loaded,
            secure_cookies=system.settings.cookie_secure,
        )
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        AccessLogMiddleware, writer=writer, clock=system.clock, proxies=proxies, excluded=DEVICE_INTERFACES
    )
    return app
