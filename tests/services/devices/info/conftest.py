"""Devices, a simulated handset and a local stand-in for Open-Meteo, for the information-service tests."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from privateline.app.system import System
from privateline.services.devices.credentials import password_forms
from privateline.services.devices.profiles import info_profile
from privateline.services.devices.records import device_by_mac, insert_devices
from tests.services.devices.info.xhtml import PREFIX, parse, text_of

_serial = itertools.count(1)


@dataclass(frozen=True)
class Phone:
    id: int
    number: str
    mac: str


def add_device(system: System, *, info_on: bool = True, in_service: bool = True) -> Phone:
    """A device in the factory records, inserted directly (information services on by default)."""
    n = next(_serial)
    number = f"{4000 + n}"
    mac = f"7C2F80{0xA00000 + n:06X}"
    forms = password_forms(number, system.settings.sip_realm, f"factory-pw-{n}")
    row = {
        "number": number,
        "serial": f"INFO-{n:06d}",
        "mac": mac,
        "product": "Gigaset C430 IP",
        "sip_ha1_md5": forms.ha1_md5,
        "sip_ha1_sha256": forms.ha1_sha256,
        "portal_hash": forms.portal_hash,
        "voip_on": True,
        "info_on": info_on,
        "messaging_on": True,
        "in_service": in_service,
        "created_at": system.clock.now(),
    }
    with system.database.unit_of_work() as uow:
        insert_devices(uow.connection, [row])
        uow.commit()
    with system.database.reading() as connection:
        stored = device_by_mac(connection, mac)
    assert stored is not None
    return Phone(stored.id, number, mac)


def profile_row(system: System, device_id: int) -> dict[str, Any] | None:
    """The device's row in the `info_profile` table, read straight from the database."""
    with system.database.reading() as connection:
        row = connection.execute(select(info_profile).where(info_profile.c.device_id == device_id)).first()
    return None if row is None else dict(row._mapping)


def all_profiles(system: System) -> list[dict[str, Any]]:
    with system.database.reading() as connection:
        return [dict(r._mapping) for r in connection.execute(select(info_profile))]


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    root: ET.Element = field(repr=False)

    @property
    def text(self) -> str:
        return text_of(self.root)

    def link(self, label: str) -> str:
        """The href of the link whose text contains `label`."""
        for anchor in self.root.iter(PREFIX + "a"):
            if label in " ".join("".join(anchor.itertext()).split()):
                return anchor.get("href", "")
        raise AssertionError(f"no link {label!r} on the page: {self.text}")

    def form(self) -> tuple[str, dict[str, str]]:
        """The form's action and the current values of its text fields."""
        form = self.root.find(f".//{PREFIX}form")
        assert form is not None, f"no form on the page: {self.text}"
        fields = {i.get("name", ""): i.get("value", "") for i in form.iter(PREFIX + "input") if i.get("type") == "text"}
        return form.get("action", ""), fields


class Handset:
    """A handset behind a Gigaset base station, as the Info Center sees it.

    Like a real base it appends its own parameters (`lang`, `tz`, `mac`, `cc`,
    `handsetid`, `provid`) to every URL, also to links that already carry some of them,
    and submits forms with GET as browsers do: the action's own query is replaced by the
    fields.  Every answer is checked to be a valid XHTML-GP page.
    """

    def __init__(
        self, client: httpx.Client, mac: str, *, lang: str = "3", tz: str = "60", handset_id: str = "02B6EC8AA5"
    ) -> None:
        self.client = client
        self.mac = mac
        self.lang = lang
        self.tz = tz
        self.handset_id = handset_id

    @property
    def base_parameters(self) -> str:
        return urlencode(
            [
                ("lang", self.lang),
                ("tz", self.tz),
                ("mac", self.mac),
                ("cc", "49"),
                ("handsetid", self.handset_id),
                ("provid", "11"),
            ]
        )

    def get(self, url: str) -> Answer:
        answer = self.client.get(url)
        assert answer.headers["content-type"] == "application/xhtml+xml; charset=utf-8"
        return Answer(answer.status_code, answer.headers, answer.content, parse(answer.content))

    def open(self, path: str, extra: str = "") -> Answer:
        return self.get(f"{path}?{extra + '&' if extra else ''}{self.base_parameters}")

    def follow(self, page: Answer, label: str) -> Answer:
        href = page.link(label)
        return self.get(f"{href}{'&' if '?' in href else '?'}{self.base_parameters}")

    def submit(self, page: Answer, encoding: str = "utf-8", **fields: str) -> Answer:
        action, _current = page.form()
        path = urlsplit(action).path
        return self.get(f"{path}?{urlencode(fields, encoding=encoding)}&{self.base_parameters}")


@dataclass
class FakeOpenMeteo:
    """A local HTTP server answering like Open-Meteo's geocoding and forecast APIs."""

    url: str
    places: dict[str, dict[str, Any]]
    requests: list[tuple[str, dict[str, list[str]]]]
    # Replaces the answer of a path: (status, body bytes), or a function of the query.
    override: dict[str, Callable[[dict[str, list[str]]], tuple[int, bytes]]]

    @property
    def geocoding_url(self) -> str:
        return f"{self.url}/v1/search"

    @property
    def forecast_url(self) -> str:
        return f"{self.url}/v1/forecast"


WMO_CODES = [3, 61, 0, 95, 71, 45, 80]


def _forecast(query: dict[str, list[str]]) -> dict[str, Any]:
    """Open-Meteo's daily forecast shape, values derived from the requested dates."""
    first, last = date.fromisoformat(query["start_date"][0]), date.fromisoformat(query["end_date"][0])
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return {
        "latitude": float(query["latitude"][0]),
        "longitude": float(query["longitude"][0]),
        "generationtime_ms": 0.1,
        "utc_offset_seconds": 3600,
        "timezone": "Europe/Berlin",
        "timezone_abbreviation": "GMT+1",
        "elevation": 38.0,
        "daily_units": {"time": "iso8601", "weather_code": "wmo code", "temperature_2m_max": "°C"},
        "daily": {
            "time": days,
            "weather_code": WMO_CODES[: len(days)],
            "temperature_2m_max": [round(9.4 + n, 1) for n in range(len(days))],
            "temperature_2m_min": [round(-1.6 + n, 1) for n in range(len(days))],
        },
    }


@pytest.fixture
def open_meteo() -> Iterator[FakeOpenMeteo]:
    places = {
        "berlin": {"name": "Berlin", "latitude": 52.52437, "longitude": 13.41053, "country_code": "DE"},
        "münchen": {"name": "München", "latitude": 48.13743, "longitude": 11.57549, "country_code": "DE"},
        "utrecht": {"name": "Utrecht", "latitude": 52.09083, "longitude": 5.12222, "country_code": "NL"},
    }
    requests: list[tuple[str, dict[str, list[str]]]] = []
    override: dict[str, Callable[[dict[str, list[str]]], tuple[int, bytes]]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            requests.append((parts.path, query))
            if parts.path in override:
                status, body = override[parts.path](query)
            elif parts.path == "/v1/search":
                key = " ".join(query.get("name", [""])[0].casefold().split())
                found = places.get(key)
                answer: dict[str, Any] = {"generationtime_ms": 0.2}
                if found is not None:
                    answer["results"] = [{"id": 1, **found}]
                status, body = 200, json.dumps(answer).encode()
            elif parts.path == "/v1/forecast":
                status, body = 200, json.dumps(_forecast(query)).encode()
            else:
                status, body = 404, b'{"error": true, "reason": "not found"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeOpenMeteo(f"http://127.0.0.1:{server.server_address[1]}", places, requests, override)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """The URL of a server that accepts connections but never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections complete in the backlog; nobody ever reads or answers
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
