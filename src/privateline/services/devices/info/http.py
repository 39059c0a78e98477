"""The routes of the information services (DEV-6): the handsets' Info Center and the JSON API.

`info_router` is mounted by the application.  The handset pages (`handset.py`, under
`/info/`) speak the Gigaset Info Center scheme in XHTML-GP (`gigaset.py`); the JSON API
(`api.py`, under `/device/v1/info/`) offers the same profile, weather and biorhythm to
other clients.  Both check the device, its service switch and the purpose gate the same
way (`service.py`).  The handsets name their base station by its MAC, as real handsets
do; the JSON API signs the device in with its number and device password first
(`devices.device_auth`, R-12), which needs the SIP realm and the trusted proxies.
Handset and JSON endpoints are plain functions run in the worker thread pool, because
each does blocking database work and may wait for the weather service.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.clock import Clock
from privateline.services.devices.device_auth import DeviceSignIn
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.info.api import InfoApi
from privateline.services.devices.info.gigaset import HandsetRequest, Query
from privateline.services.devices.info.handset import HandsetPages, Page
from privateline.services.devices.info.weather import WeatherProvider
from privateline.services.forwarding import TrustedProxies
from privateline.storage.database import Database


def info_router(
    database: Database,
    clock: Clock,
    weather: WeatherProvider,
    gate: DeviceGate,
    *,
    realm: str,
    proxies: TrustedProxies,
) -> APIRouter:
    """Both interfaces; every use of a profile is asked of the purpose gate first (R-7, R-8).

    `realm` is the SIP realm the device passwords' HA1 is kept for; `proxies` are the
    proxies whose X-Forwarded-For is believed when failed sign-ins are counted per source.
    """
    router = APIRouter()
    pages = HandsetPages(database, clock, weather, gate)
    for path, build in pages.routes():
        router.add_api_route(path, _handset_endpoint(pages, build, path), methods=["GET"], include_in_schema=False)
    api = InfoApi(database, clock, weather, gate, DeviceSignIn(database, clock, realm, proxies))
    for path, method, endpoint in api.routes():
        router.add_api_route(path, endpoint, methods=[method], tags=["information services"])
    return router


def _handset_endpoint(
    pages: HandsetPages, build: Callable[[HandsetRequest, Query], Page], path: str
) -> Callable[[Request], Response]:
    name = path.rsplit("/", 1)[-1]

    def endpoint(request: Request) -> Response:
        return pages.respond(request.scope.get("query_string", b""), build, name)

    return endpoint
