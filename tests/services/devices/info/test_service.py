"""The shared rules of both interfaces: many first uses at once still make exactly one profile."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from privateline.app.system import System
from privateline.services.devices.info.service import RefusedError, change_profile, profile_for_use
from privateline.services.devices.profiles import InfoProfile
from tests.services.devices.info.conftest import add_device, all_profiles

ATTEMPTS = 8


@pytest.mark.promise("DEV-6")
def test_simultaneous_first_uses_create_one_profile(system: System) -> None:
    phone = add_device(system)
    start = threading.Barrier(ATTEMPTS)

    def use(n: int) -> InfoProfile:
        start.wait()
        if n % 2:
            return change_profile(system.database, system.clock, phone.mac, {"city": f"City {n}"})
        return profile_for_use(system.database, system.clock, phone.mac)

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        profiles = list(pool.map(use, range(ATTEMPTS)))
    assert {p.device_id for p in profiles} == {phone.id}
    rows = all_profiles(system)
    assert len(rows) == 1
    assert rows[0]["city"] in {f"City {n}" for n in range(1, ATTEMPTS, 2)}


def test_refusals_say_why(system: System) -> None:
    off = add_device(system, info_on=False)
    with pytest.raises(RefusedError) as raised:
        profile_for_use(system.database, system.clock, off.mac)
    assert raised.value.kind == RefusedError.SWITCHED_OFF
    with pytest.raises(RefusedError) as raised:
        change_profile(system.database, system.clock, "7C2F80FFFFFE", {"city": "x"})
    assert raised.value.kind == RefusedError.UNKNOWN
    assert all_profiles(system) == []
