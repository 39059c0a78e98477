"""The SIP service as phones meet it: SIPp scenarios against `privateline serve --role sip`.

Each test drives the real server, a process of its own on a free port, with SIPp
(tests/edges/sip/sipp/*.xml; see tests/edges/sip/sipp.py for the runner).  The server runs on
SQLite only: it is another process, which the PostgreSQL fixtures of the suite do not reach;
its data directory is fresh in the module's tmp dir and the devices are provisioned with the
`privateline devices import` and `privateline devices switch` commands, as an operator would.

`PRIVATELINE_SIP_REFERENCE=kamailio` runs the same tests against Kamailio
(bench/sip/kamailio/kamailio.cfg), the registrar the scenarios were validated on.

sipp (Debian's sip-tester) must be installed; a missing one fails the tests (`.ci/run`
installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edges.sip import sipp
from tests.edges.sip.sipp import SippProcess, SippRun, SipServer, Subscriber
from tests.ports import free_port

pytestmark = pytest.mark.subprocess

REGISTRANT = Subscriber("310001", "reg-secret-310001")
WRONG_PASSWORD = Subscriber("310002", "reg-secret-310002")
UNREGISTERING = Subscriber("310003", "reg-secret-310003")
REFRESHING = Subscriber("310004", "reg-secret-310004")
CALLER = Subscriber("310010", "call-secret-310010")
CALLEE = Subscriber("310011", "call-secret-310011")
RINGING = Subscriber("310012", "call-secret-310012")
VOIP_OFF = Subscriber("310020", "off-secret-310020", voip=False)
SWITCHED_OFF = Subscriber("310021", "off-secret-310021")
UNKNOWN_NUMBER = "319999"  # never provisioned
NOT_A_NUMBER = "318888"  # never provisioned

DEVICES = [REGISTRANT, WRONG_PASSWORD, UNREGISTERING, REFRESHING, CALLER, CALLEE, RINGING, VOIP_OFF, SWITCHED_OFF]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    sipp.require("sipp", "sip-tester")
    running = sipp.server_under_test(tmp_path_factory.mktemp("sip-server"))
    running.provision(DEVICES)
    running.start()
    yield running
    running.stop()


def passed(server: SipServer, *runs: SippRun) -> None:
    """Every run succeeded; otherwise SIPp's logs and the server's output say why."""
    problems = []
    for run in runs:
        try:
            run.check()
        except AssertionError as exc:
            problems.append(str(exc))
    if problems:
        # Every agent's view: in a call the callee's log often tells what the caller's cannot.
        raise AssertionError("\n\n".join(problems) + f"\n--- server output ---\n{server.output()[-4000:]}")


def run(
    server: SipServer, scenario: str, workdir: Path, device: Subscriber, *fields: str, **options: object
) -> SippRun:
    """One call of `scenario` as `device` ([field0] number, [field1] its credentials, then `fields`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    injection = sipp.write_injection(
        workdir / f"{scenario}.csv", [[device.number, sipp.auth(device.number, device.password), *fields]]
    )
    return sipp.run(scenario, server.port, workdir / scenario, injection=injection, **options)


def called(server: SipServer, number: str) -> str:
    """The -auth_uri of a call to `number`: the INVITE's Request-URI (RFC 2617 §3.2.2.5)."""
    return f"{number}@{sipp.HOST}:{server.port}"


def answering_phone(server: SipServer, workdir: Path, device: Subscriber, scenario: str) -> SippProcess:
    """`device` registered from a port of its own, then a SIPp UAS on that port, bound and waiting."""
    port = free_port()
    passed(server, run(server, "register.xml", workdir / "callee", device, local_port=port))
    phone = sipp.start(scenario, server.port, workdir / "callee" / scenario, server_mode=True, local_port=port)
    sipp.wait_udp_bound(port, phone.process)
    return phone


@pytest.mark.promise("DEV-3", "DEV-4")
def test_register_with_digest_authentication(server: SipServer, tmp_path: Path) -> None:
    passed(server, run(server, "register.xml", tmp_path, REGISTRANT))


@pytest.mark.promise("DEV-3", "DEV-4")
def test_register_with_a_wrong_password_is_challenged_then_refused(server: SipServer, tmp_path: Path) -> None:
    wrong = Subscriber(WRONG_PASSWORD.number, "not-the-device-password")
    passed(server, run(server, "register_wrong_password.xml", tmp_path, wrong))
    # The device itself still registers afterwards.
    passed(server, run(server, "register.xml", tmp_path / "right", WRONG_PASSWORD))


@pytest.mark.promise("DEV-3", "DEV-4")
def test_register_of_an_unknown_device_is_refused(server: SipServer, tmp_path: Path) -> None:
    passed(server, run(server, "register_unknown.xml", tmp_path, Subscriber(UNKNOWN_NUMBER, "any-password")))


@pytest.mark.promise("DEV-3", "DEV-4")
def test_contact_star_removes_every_binding(server: SipServer, tmp_path: Path) -> None:
    passed(server, run(server, "unregister.xml", tmp_path, UNREGISTERING))


@pytest.mark.promise("DEV-3", "DEV-4")
def test_a_registration_is_refreshed_with_the_same_call_id_and_a_higher_cseq(server: SipServer, tmp_path: Path) -> None:
    passed(server, run(server, "reregister.xml", tmp_path, REFRESHING))


@pytest.mark.promise("DEV-3")
def test_a_call_through_the_proxy_rings_is_answered_and_hung_up_along_the_record_route(
    server: SipServer, tmp_path: Path
) -> None:
    phone = answering_phone(server, tmp_path, CALLEE, "uas.xml")
    try:
        caller = run(server, "uac.xml", tmp_path, CALLER, CALLEE.number, auth_uri=called(server, CALLEE.number))
        passed(server, caller, phone.finish())
    finally:
        phone.stop()


@pytest.mark.promise("DEV-3")
def test_a_ringing_call_is_cancelled(server: SipServer, tmp_path: Path) -> None:
    phone = answering_phone(server, tmp_path, RINGING, "uas_ringing.xml")
    try:
        caller = run(
            server, "uac_cancel.xml", tmp_path, CALLER, RINGING.number, auth_uri=called(server, RINGING.number)
        )
        passed(server, caller, phone.finish())
    finally:
        phone.stop()


@pytest.mark.promise("DEV-3")
def test_a_call_to_a_number_that_is_not_a_device_is_refused_with_404(server: SipServer, tmp_path: Path) -> None:
    refused = run(
        server, "call_not_a_number.xml", tmp_path, CALLER, NOT_A_NUMBER, auth_uri=called(server, NOT_A_NUMBER)
    )
    passed(server, refused)


@pytest.mark.promise("DEV-3", "DEV-10")
def test_a_device_with_voip_switched_off_can_neither_register_nor_call(server: SipServer, tmp_path: Path) -> None:
    passed(
        server,
        run(server, "register_voip_off.xml", tmp_path, VOIP_OFF),
        run(server, "call_voip_off.xml", tmp_path, VOIP_OFF, CALLEE.number, auth_uri=called(server, CALLEE.number)),
    )


@pytest.mark.promise("DEV-3", "DEV-4", "DEV-10")
def test_switching_voip_off_stops_a_registered_device_at_once(server: SipServer, tmp_path: Path) -> None:
    passed(server, run(server, "register.xml", tmp_path / "on", SWITCHED_OFF))
    server.switch_voip(SWITCHED_OFF.number, on=False)
    passed(
        server,
        run(server, "register_voip_off.xml", tmp_path, SWITCHED_OFF),
        run(server, "call_voip_off.xml", tmp_path, SWITCHED_OFF, CALLEE.number, auth_uri=called(server, CALLEE.number)),
    )
