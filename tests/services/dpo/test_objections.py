"""The DPO decides an objection to processing on legitimate interests, with a reason (R-8, Art. 21(1) GDPR).

Until the decision the processing stays stopped; upholding keeps it stopped and completes the
request, compelling legitimate grounds let it resume and refuse the request; either way the
reason is recorded for the subject and the decision is in the audit chain.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from privateline.app.system import System
from privateline.kernel.gate import Ground, Verdict
from privateline.kernel.requests import RequestKind, RequestState
from privateline.services.privacy.choices import object_to
from privateline.services.privacy.held import Subject
from privateline.storage.rights_requests import RightsRequests, StoredRequest
from privateline.storage.subject_rights import ObjectionState, SubjectRights
from tests.services.dpo.conftest import ConsoleServer, audit_entries, make_account, stored_request, text_of

CUSTOMER = Subject("customer", "customer-7", "pseudonym-c7")
WEIGHED = "helpdesk"  # on legitimate interests: an objection is weighed (Art. 21(1))
MARKETING = "marketing_customer_relations"  # direct marketing: an objection is upheld at once


def _objection(system: System, activity: str, subject: Subject = CUSTOMER) -> StoredRequest:
    """An objection as the subject's channel files it: verified, recorded, waiting when it is weighed."""
    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        requests = RightsRequests(uow.connection)
        filed = requests.file(RequestKind.OBJECTION, subject.kind, subject.pseudonym, now, {"activity": activity})
        requests.transition(filed.id, lambda r: r.verify_identity(now), now, by="subject")
        object_to(uow.connection, system.loaded.register, subject, activity, now, filed.id)
        uow.commit()
    return stored_request(system, filed.id)


def _gate(system: System, activity: str, at: datetime | None = None) -> Verdict:
    with system.database.reading() as connection:
        return system.rights.gate.verdict(connection, CUSTOMER, activity, at=at)


def _state(system: System, activity: str) -> ObjectionState | None:
    with system.database.reading() as connection:
        return SubjectRights(connection).objections(CUSTOMER.pseudonym).get(activity)


@pytest.mark.promise("R-8")
def test_compelling_grounds_recorded_with_a_reason_let_the_processing_resume(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = _objection(system, WEIGHED)
    assert _state(system, WEIGHED) is ObjectionState.PENDING
    refused = _gate(system, WEIGHED)
    assert not refused and refused.ground is Ground.OBJECTED  # stopped while it is weighed

    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    shown = browser.get(page).text
    assert 'id="decide-objection"' in shown and text_of(shown, "activity") == WEIGHED
    assert 'id="refuse"' not in shown  # decided with its own form, never just refused
    sideways = browser.submit(page, f"{page}/refuse", reason="no")
    assert sideways.status_code == 409
    assert "decided with the objection's form" in text_of(sideways.text, "error")

    for fields, message in (
        ({"decision": "override", "reason": "  "}, "A decision on an objection needs a reason"),
        ({"decision": "override"}, "A decision on an objection needs a reason"),
        ({"decision": "maybe", "reason": "why not"}, "Choose whether to uphold the objection"),
    ):
        answer = browser.submit(page, f"{page}/objection", **fields)
        assert answer.status_code == 422, fields
        assert text_of(answer.text, "error").startswith(message)
    assert _state(system, WEIGHED) is ObjectionState.PENDING
    assert audit_entries(system, "rights.objection_decided") == []

    reason = "The ticket concerns a fraud complaint we must answer (legal claims)."
    answer = browser.submit(page, f"{page}/objection", decision="override", reason=reason)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{page}?done=objection_overridden"
    after = stored_request(system, stored.id).request
    assert (after.state, after.reason) == (RequestState.REFUSED, reason)
    assert _state(system, WEIGHED) is ObjectionState.OVERRIDDEN
    assert _gate(system, WEIGHED)
    decided = [(s, d) for _, s, d in audit_entries(system, "rights.objection_decided")]
    assert decided == [
        (
            CUSTOMER.pseudonym,
            {"request": stored.id, "activity": WEIGHED, "decision": "overridden", "by": "dpo:erika", "reason": reason},
        )
    ]
    assert [d["by"] for _, _, d in audit_entries(system, "rights.refused")] == ["dpo:erika"]
    # Decided once: a second decision is a conflict.
    again = browser.submit(page, f"{page}/objection", decision="uphold", reason="changed my mind")
    assert again.status_code == 409
    assert _state(system, WEIGHED) is ObjectionState.OVERRIDDEN


@pytest.mark.promise("R-8")
def test_an_upheld_objection_keeps_the_processing_stopped_and_tells_the_subject_why(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = _objection(system, WEIGHED)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    reason = "No grounds outweigh the customer's interest in not being processed for this."
    answer = browser.submit(page, f"{page}/objection", decision="uphold", reason=reason)
    assert answer.status_code == 303
    shown = browser.get(answer.headers["location"]).text
    assert text_of(shown, "state") == "completed" and text_of(shown, "reason") == reason
    assert 'id="actions"' not in shown
    after = stored_request(system, stored.id).request
    assert (after.state, after.reason) == (RequestState.COMPLETED, reason)
    assert _state(system, WEIGHED) is ObjectionState.UPHELD
    assert not _gate(system, WEIGHED)


@pytest.mark.promise("R-8")
def test_an_objection_to_direct_marketing_has_nothing_to_decide(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = _objection(system, MARKETING)
    assert _state(system, MARKETING) is ObjectionState.UPHELD  # at once, unconditionally
    assert not _gate(system, MARKETING)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    assert 'id="decide-objection"' not in browser.get(page).text
    answer = browser.submit(page, f"{page}/objection", decision="override", reason="we need the sales")
    assert answer.status_code == 409
    assert "never overridden" in text_of(answer.text, "error")
    assert _state(system, MARKETING) is ObjectionState.UPHELD
    assert not _gate(system, MARKETING)


def test_only_an_objection_is_decided_and_only_by_a_signed_in_dpo(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = _objection(system, WEIGHED)
    stranger = console.browser()
    answer = stranger.post(f"/dpo/requests/{stored.id}/objection", {"decision": "override", "reason": "x"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/dpo/sign-in")
    assert _state(system, WEIGHED) is ObjectionState.PENDING

    now = system.clock.now()
    with system.database.unit_of_work() as uow:
        requests = RightsRequests(uow.connection)
        access = requests.file(RequestKind.ACCESS, "customer", CUSTOMER.pseudonym, now)
        requests.transition(access.id, lambda r: r.verify_identity(now), now, by="subject")
        uow.commit()
    browser = console.signed_in()
    page = f"/dpo/requests/{access.id}"
    refused = browser.submit(page, f"{page}/objection", decision="uphold", reason="x")
    assert refused.status_code == 409
    assert text_of(refused.text, "error") == "Not done: this request is not an objection."
    assert stored_request(system, access.id).request.state is RequestState.IDENTITY_VERIFIED
