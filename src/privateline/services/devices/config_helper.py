"""The configuration helper: `GET /config-helper` (DEV-8).

Lists the operator's phones whose latest check-in came from the same internet
connection as the visitor, each with its product name, software version and a link to
its own configuration page at its internal address.  "Same connection" is decided by
comparing keyed fingerprints of the public address, so no address is ever stored; a
visitor from any other connection sees none of them.  Only what DEV-8 names is shown:
no number, MAC, serial, device name or nickname.

Given the purpose gate, a phone whose owner restricted the processing of the helper, of
the check-in whose report it shows, of the factory record, or of everything (Art. 18,
R-7) is not listed: its report stays stored but is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.records import Device, device
from privateline.services.devices.reports import device_report, public_network_fingerprint
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.services.pages import Pages
from privateline.storage.database import Database

_pages = Pages("privateline.services.devices")
ACTIVITY = "config_helper"
# What the helper shows comes from the check-in's report and the factory record: a
# restriction of either stops its use here too (Art. 18 restricts the data, not a purpose).
DATA_FROM = ("device_checkin", "device_factory_records")


@dataclass(frozen=True)
class LocalDevice:
    product: str
    software_version: str
    internal_ip: str

    @property
    def link(self) -> str:
        host = f"[{self.internal_ip}]" if ":" in self.internal_ip else self.internal_ip
        return f"http://{host}/"


def devices_behind(database: Database, fingerprint: str, gate: DeviceGate | None = None) -> list[LocalDevice]:
    query = (
        select(device, device_report.c.software_version.label("reported_software"))
        .join(device_report, device_report.c.device_id == device.c.id)
        .where(device_report.c.public_network == fingerprint, device.c.in_service.is_(True))
        .order_by(device.c.product, device.c.internal_ip)
    )
    found: list[LocalDevice] = []
    with database.reading() as connection:
        for row in connection.execute(query).all():
            if gate is not None:
                record = Device(**{c.name: row._mapping[c.name] for c in device.columns})
                if not gate.verdict(connection, record, ACTIVITY, data_from=DATA_FROM):
                    continue
            found.append(LocalDevice(row.product, row.reported_software, row.internal_ip))
    return found


class ConfigHelperPage:
    def __init__(
        self,
        database: Database,
        pseudonymizer: Pseudonymizer,
        proxies: TrustedProxies,
        gate: DeviceGate,
    ) -> None:
        self.database = database
        self.pseudonymizer = pseudonymizer
        self.proxies = proxies
        self.gate = gate

    def __call__(self, request: Request) -> Response:
        peer = request.client.host if request.client else None
        address = client_address(peer, request.headers.getlist("x-forwarded-for"), self.proxies)
        found = (
            []
            if address is None
            else devices_behind(self.database, public_network_fingerprint(self.pseudonymizer, address), self.gate)
        )
        return _pages.response(request, "config_helper.html.j2", devices=found)
