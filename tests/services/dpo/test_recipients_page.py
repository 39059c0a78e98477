"""The DPO finishes what the outbox could not: recipients to inform by hand, notices given up on (R-5)."""

from __future__ import annotations

import pytest

from privateline.app.system import System
from privateline.storage.recipient_outbox import NoticeState, RecipientOutbox
from tests.services.dpo.conftest import ConsoleServer, audit_entries, make_account


def queue_notice(system: System, recipient: str = "repair_service") -> str:
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        outbox = RecipientOutbox(uow.connection)
        notice_id = outbox.add(recipient, "device_owner", "pseudonym-1", "erasure", ["device_checkin"], now, None)
        uow.commit()
    return notice_id


def state_of(system: System, notice_id: str) -> NoticeState:
    with system.database.reading() as connection:
        found = RecipientOutbox(connection).get(notice_id)
    assert found is not None
    return found.state


@pytest.mark.promise("R-5")
def test_the_dpo_sees_the_notices_to_send_by_hand_and_marks_one_informed(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    by_hand, failed = queue_notice(system), queue_notice(system, "group_logistics")
    with system.database.unit_of_work() as uow:
        outbox = RecipientOutbox(uow.connection)
        outbox.sort_by_endpoint(configured=["group_logistics"])  # repair_service has no endpoint
        outbox.give_up(failed, "HTTP 503")
        uow.commit()
    assert (state_of(system, by_hand), state_of(system, failed)) == (NoticeState.BY_HAND, NoticeState.FAILED)

    browser = console.signed_in()
    page = browser.get("/dpo/recipients")
    assert page.status_code == 200
    assert f'id="notice-{by_hand}" data-state="by_hand"' in page.text
    assert f'id="notice-{failed}" data-state="failed"' in page.text
    assert "Repair service provider" in page.text and "HTTP 503" in page.text

    done = browser.submit("/dpo/recipients", f"/dpo/recipients/{by_hand}/informed")
    assert done.status_code == 303
    resent = browser.submit("/dpo/recipients", f"/dpo/recipients/{failed}/resend")
    assert resent.status_code == 303
    assert state_of(system, by_hand) is NoticeState.INFORMED_BY_HAND
    assert state_of(system, failed) is NoticeState.PENDING
    after = browser.get("/dpo/recipients").text
    assert f'id="notice-{by_hand}"' not in after
    kinds = [(k, d["notice"], d["by"]) for k, _, d in audit_entries(system, "recipients.")]
    assert kinds == [("recipients.informed_by_hand", by_hand, "dpo:erika"), ("recipients.resent", failed, "dpo:erika")]

    again = browser.submit("/dpo/recipients", f"/dpo/recipients/{by_hand}/informed")
    assert again.status_code == 409  # settled once


def test_the_recipients_page_needs_the_dpo_signed_in_and_its_forms_a_token(console: ConsoleServer) -> None:
    system = console.system
    notice = queue_notice(system)
    stranger = console.browser()
    assert stranger.get("/dpo/recipients").status_code == 303
    make_account(system)
    browser = console.signed_in()
    forged = browser.post(f"/dpo/recipients/{notice}/informed", {"csrf": "not-the-token"})
    assert forged.status_code == 403
    assert state_of(system, notice) is NoticeState.PENDING
