"""A real SIP phone on the SIP service: two baresip instances register, A calls B, both hang up.

The server is `privateline serve --role sip` in its own process (SQLite, provisioned with the
CLI; see tests/edges/sip/sipp.py), or Kamailio with `PRIVATELINE_SIP_REFERENCE=kamailio`.
baresip must be installed; a missing one fails the test (`.ci/run` installs it).

The server offers MD5 challenges only (`sip_digest_algorithms = ["MD5"]`), as an operator with
such phones configures it: baresip 1.0 (libre) gives up on a 401 as soon as one of its
challenges names an algorithm it does not know ("Register: Function not implemented"), even
when an MD5 challenge is offered first (RFC 8760 §2.6 would have it take the one it supports).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edges.sip import sipp
from tests.edges.sip.baresip_support import Baresip
from tests.edges.sip.sipp import SipServer, Subscriber

pytestmark = pytest.mark.subprocess

CALLER = Subscriber("320001", "phone-secret-320001")
CALLEE = Subscriber("320002", "phone-secret-320002")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SipServer]:
    sipp.require("baresip", "baresip")
    running = sipp.server_under_test(tmp_path / "server", {"PRIVATELINE_SIP_DIGEST_ALGORITHMS": '["MD5"]'})
    running.provision([CALLER, CALLEE])
    running.start()
    yield running
    running.stop()


@pytest.mark.promise("DEV-3", "DEV-4")
def test_two_baresip_phones_register_call_each_other_and_hang_up(server: SipServer, tmp_path: Path) -> None:
    a = Baresip(tmp_path / "a", CALLER.number, CALLER.password, server.port, auto_answer=False)
    b = Baresip(tmp_path / "b", CALLEE.number, CALLEE.password, server.port, auto_answer=True)
    try:
        for phone in (a, b):
            phone.start()
        for phone in (a, b):
            # libre prints the registrar's 200 with the number of bindings it listed (RFC 3261 §10.3 step 8).
            line = phone.wait_for_output(" 200 OK")
            assert f"{phone.number}@" in line and "binding" in line, line

        a.command("dial", f"sip:{CALLEE.number}@{sipp.HOST}:{server.port}")
        caller_side = a.wait_for_event("CALL_ESTABLISHED")
        callee_side = b.wait_for_event("CALL_ESTABLISHED")
        assert caller_side["direction"] == "outgoing" and CALLEE.number in caller_side["peeruri"]
        assert callee_side["direction"] == "incoming" and CALLER.number in callee_side["peeruri"]

        # The BYE goes along the Record-Route set through the proxy; B sees the call end.
        a.command("hangup")
        a.wait_for_event("CALL_CLOSED")
        closed = b.wait_for_event("CALL_CLOSED")
        assert closed["id"] == callee_side["id"]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- server output ---\n{server.output()[-4000:]}") from None
    finally:
        a.stop()
        b.stop()
