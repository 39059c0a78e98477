"""Two SIP processes of one instance serve the same phones (DEV-4: the location is shared through
the database): the callee registers at one process, the caller calls through the other.

Both processes are `privateline serve --role sip` on one data directory (one SQLite database,
one nonce key), on two ports; the phones are SIPp agents (see test_sipp.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edges.sip import sipp
from tests.edges.sip.sipp import PrivatelineSip, Subscriber
from tests.edges.sip.test_sipp import passed, run
from tests.ports import free_port

pytestmark = pytest.mark.subprocess

CALLER = Subscriber("330001", "shared-secret-330001")
CALLEE = Subscriber("330002", "shared-secret-330002")


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[PrivatelineSip, PrivatelineSip]]:
    sipp.require("sipp", "sip-tester")
    first = PrivatelineSip(tmp_path / "instance")
    first.provision([CALLER, CALLEE])
    second = PrivatelineSip(tmp_path / "instance")  # the same data directory, another port
    first.start()
    try:
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


@pytest.mark.promise("DEV-3", "DEV-4")
def test_a_call_reaches_a_phone_registered_at_another_process(
    two_processes: tuple[PrivatelineSip, PrivatelineSip], tmp_path: Path
) -> None:
    through, registered_at = two_processes
    assert through.port != registered_at.port
    port = free_port()
    passed(registered_at, run(registered_at, "register.xml", tmp_path / "callee", CALLEE, local_port=port))
    phone = sipp.start("uas.xml", registered_at.port, tmp_path / "callee" / "uas", server_mode=True, local_port=port)
    try:
        sipp.wait_udp_bound(port, phone.process)
        caller = run(
            through, "uac.xml", tmp_path, CALLER, CALLEE.number, auth_uri=f"{CALLEE.number}@127.0.0.1:{through.port}"
        )
        passed(through, caller, phone.finish())
    finally:
        phone.stop()
