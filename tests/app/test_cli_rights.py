"""`privateline rights export|erase|replay` as an operator scripts them (R-2, R-4, R-13).

The commands act only on requests whose subject's identity was verified through the
subject's own channel; the requests here are filed and verified the way the device
portal does it, then carried out from the shell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from privateline.app.cli import app
from privateline.app.system import System
from privateline.kernel.clock import FakeClock
from privateline.kernel.requests import RequestKind
from privateline.services.devices.subject import device_subject
from privateline.storage.rights_requests import RightsRequests
from tests.conftest import LiveServer
from tests.mentions import mentions
from tests.services.devices.conftest import MakePhone, Phone, stored
from tests.services.privacy.test_erasure import backup_and_restore, subject_rows, use_every_device_service

runner = CliRunner()


def env_of(system: System) -> dict[str, str]:
    return {
        "PRIVATELINE_DATA_DIR": str(system.settings.data_dir),
        "PRIVATELINE_DATABASE_URL": str(system.database.engine.url.render_as_string(hide_password=False)),
    }


def file_request(system: System, phone: Phone, kind: RequestKind, *, verified: bool = True) -> str:
    subject = device_subject(stored(system, phone), system.pseudonymizer)
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        requests = RightsRequests(uow.connection)
        filed = requests.file(kind, subject.kind, subject.pseudonym, now, {"via": "test"})
        if verified:
            requests.transition(filed.id, lambda r: r.verify_identity(now), now, by="subject")
        uow.commit()
    return filed.id


def state_of(system: System, request_id: str) -> str:
    with system.database.reading() as connection:
        found = RightsRequests(connection).get(request_id)
    assert found is not None
    return found.request.state.value


@pytest.mark.promise("R-2", "R-13")
def test_export_writes_the_subjects_package_and_completes_the_request(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock, tmp_path: Path
) -> None:
    system = live_server.system
    phone, other = make_phone(), make_phone()
    use_every_device_service(live_server, phone, clock)
    use_every_device_service(live_server, other, clock)
    request_id = file_request(system, phone, RequestKind.ACCESS)

    target = tmp_path / "package.json"
    result = runner.invoke(app, ["rights", "export", request_id, "--out", str(target)], env=env_of(system))
    assert result.exit_code == 0, result.output
    package = json.loads(target.read_text(encoding="utf-8"))
    stores = {s["store"]: s["rows"] for s in package["stores"]}
    assert stores["info_profile"][0]["city"] == "Utrecht"
    assert [row["number"] for row in stores["device"]] == [phone.number]  # this phone's data, no other's
    assert not mentions(target.read_text(encoding="utf-8"), other.number)
    assert package["processing"]["activities"], "the package says what each activity is for (R-2)"
    assert state_of(system, request_id) == "completed"


@pytest.mark.promise("R-13")
def test_nothing_is_exported_or_erased_before_the_identity_is_verified(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    system = live_server.system
    phone = make_phone()
    use_every_device_service(live_server, phone, clock)
    access = file_request(system, phone, RequestKind.ACCESS, verified=False)
    erasure = file_request(system, phone, RequestKind.ERASURE, verified=False)

    exported = runner.invoke(app, ["rights", "export", access], env=env_of(system))
    assert exported.exit_code == 2
    assert "not verified" in exported.output and "Utrecht" not in exported.output
    erased = runner.invoke(app, ["rights", "erase", erasure], env=env_of(system))
    assert erased.exit_code == 2 and "not verified" in erased.output
    assert "info_profile" in subject_rows(system, phone)
    assert (state_of(system, access), state_of(system, erasure)) == ("received", "received")

    unknown = runner.invoke(app, ["rights", "export", "no-such-request"], env=env_of(system))
    assert unknown.exit_code == 2 and "no rights request" in unknown.output
    wrong_kind = runner.invoke(app, ["rights", "erase", file_request(system, phone, RequestKind.ACCESS)])
    assert wrong_kind.exit_code == 2


@pytest.mark.promise("R-4")
def test_erase_then_replay_after_a_restore_leaves_only_legal_holds(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    system = live_server.system
    phone, bystander = make_phone(), make_phone()
    use_every_device_service(live_server, phone, clock)
    use_every_device_service(live_server, bystander, clock)
    take_backup, restore_backup = backup_and_restore(system)
    take_backup()

    request_id = file_request(system, phone, RequestKind.ERASURE)
    erased = runner.invoke(app, ["rights", "erase", request_id, "--json"], env=env_of(system))
    assert erased.exit_code == 0, erased.output
    report = json.loads(erased.stdout)
    assert report["erased"] == {"device_report": 1, "voip_nickname": 1, "info_profile": 1}
    assert state_of(system, request_id) == "completed"
    # What stays: the factory record (anonymised) and what the law requires to keep (the request,
    # the audit trail, the erasure journal).
    left = {"device", "audit_entry", "erasure_journal"}
    assert set(subject_rows(system, phone)) == left | {"rights_request"}

    restore_backup()  # from before the erasure: the subject's data is back
    assert {"device_report", "voip_nickname", "info_profile"} <= set(subject_rows(system, phone))
    replayed = runner.invoke(app, ["rights", "replay"], env=env_of(system))
    assert replayed.exit_code == 0, replayed.output
    assert set(subject_rows(system, phone)) == left  # the backup predates the request itself
    assert "device_report" in subject_rows(system, bystander)


def test_notify_recipients_sends_what_is_due_and_says_how_many(live_server: LiveServer) -> None:
    result = runner.invoke(app, ["rights", "notify-recipients"], env=env_of(live_server.system))
    assert result.exit_code == 0, result.output
    assert "delivered 0, to retry 0, failed 0" in result.stdout
