"""The device API under `/device/v1/` and the configuration helper page, assembled.

`POST /device/v1/checkin`  the daily report (see `checkin`);
`POST /device/v1/update`   the owner's answer to an update offer, from the phone (DEV-9);
`GET  /config-helper`      the phones in the visitor's own network (DEV-8).

Both device calls authenticate with the number and device password (HTTP Basic) and
share one count of failed attempts per source and per number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from privateline.kernel.clock import Clock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.kernel.ratelimit import FailureLimit
from privateline.services.devices.checkin import (
    CHALLENGE,
    CheckinDesk,
    CheckinEndpoint,
    basic_credentials,
    describe_validation,
    refuse,
)
from privateline.services.devices.config_helper import ConfigHelperPage
from privateline.services.devices.credentials import matches_ha1
from privateline.services.devices.gate import DeviceGate
from privateline.services.devices.records import SUBJECT, device_by_number
from privateline.services.devices.updates import Decision, NoSuchOfferError, decide
from privateline.services.forwarding import TrustedProxies, client_address
from privateline.storage.audit_log import AuditLog
from privateline.storage.database import Database

# Ten wrong passwords per quarter hour from one source, five against one number: a
# phone with a stale password retries once a day, a guesser is slowed to a crawl.
FAILURES_PER_SOURCE = (10, timedelta(minutes=15))
FAILURES_PER_NUMBER = (5, timedelta(minutes=15))


class UpdateAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    decision: Decision


CHECKIN_PATH = "/device/v1/checkin"


@dataclass
class DeviceApi:
    routes: list[BaseRoute]
    desk: CheckinDesk
    # The check-in as a bare ASGI app: the application answers it ahead of its own routing
    # and middleware (`app.web.CheckinFirst`), since every phone calls it every day.
    checkin: CheckinEndpoint


def device_api(
    database: Database,
    clock: Clock,
    pseudonymizer: Pseudonymizer,
    proxies: TrustedProxies,
    realm: str,
    gate: DeviceGate,
) -> DeviceApi:
    per_source = FailureLimit(*FAILURES_PER_SOURCE)
    per_number = FailureLimit(*FAILURES_PER_NUMBER)
    desk = CheckinDesk(database, clock, realm)
    checkin = CheckinEndpoint(desk, clock, pseudonymizer, proxies, per_source, per_number)

    def answer_update(number: str, password: str, body: bytes, source: str) -> Response:
        now = clock.now()
        try:
            answer = UpdateAnswer.model_validate_json(body)
        except ValidationError as exc:
            return refuse(422, describe_validation(exc, "invalid answer"))
        with database.unit_of_work() as uow:
            record = device_by_number(uow.connection, number)
            if record is None or not matches_ha1(record.sip_ha1_sha256, number, realm, password):
                per_source.fail(source, now)
                per_number.fail(number, now)
                return refuse(401, "number or device password is wrong", CHALLENGE)
            if not record.in_service:
                return refuse(403, "this device has been taken out of service")
            try:
                decide(
                    uow.connection,
                    record.id,
                    record.product,
                    record.software_version,
                    answer.version,
                    answer.decision,
                    now,
                )
            except NoSuchOfferError as exc:
                return refuse(409, str(exc))
            AuditLog(uow.connection).append(
                now,
                "device.update_answered",
                pseudonymizer.pseudonym(SUBJECT, record.number),
                {"version": answer.version, "decision": answer.decision.value, "via": "device"},
            )
            uow.commit()
        return JSONResponse({"version": answer.version, "decision": answer.decision.value})

    async def update(request: Request) -> Response:
        peer = request.client.host if request.client else None
        source = client_address(peer, request.headers.getlist("x-forwarded-for"), proxies) or "unknown"
        credentials = basic_credentials(request.headers.get("authorization"))
        if credentials is None:
            return refuse(401, "sign in with the device's number and password (HTTP Basic)", CHALLENGE)
        number, password = credentials
        now = clock.now()
        if per_source.blocked_for(source, now) or per_number.blocked_for(number, now):
            return refuse(429, "too many failed sign-ins; try again later")
        body = await request.body()
        return await run_in_threadpool(answer_update, number, password, body, source)

    routes: list[BaseRoute] = [
        Route(CHECKIN_PATH, checkin, methods=["POST"]),  # an ASGI app, not a request handler
        Route("/device/v1/update", update, methods=["POST"]),
        # The helper shows a phone only when the purpose gate allows its report's use.
        Route("/config-helper", ConfigHelperPage(database, pseudonymizer, proxies, gate).__call__, methods=["GET"]),
    ]
    return DeviceApi(routes, desk, checkin)
