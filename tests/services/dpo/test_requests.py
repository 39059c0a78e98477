"""The DPO's queue and decisions on rights requests (R-13, Art. 12(3) and (4) GDPR)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from privateline.kernel.clock import FakeClock
from privateline.kernel.requests import RequestKind, RequestState
from tests.services.dpo.conftest import (
    ConsoleServer,
    audit_entries,
    file_request,
    make_account,
    stored_request,
    text_of,
)

_ROW = re.compile(r'<tr class="(overdue|open)" data-request="([^"]+)">(.*?)</tr>', re.S)


def queue_rows(page: str) -> list[tuple[str, str, str]]:
    """(class, request id, text) of each row of the queue, in order."""
    return [
        (m.group(1), m.group(2), " ".join(re.sub(r"<[^>]+>", " ", m.group(3)).split())) for m in _ROW.finditer(page)
    ]


def trail_rows(page: str) -> list[list[str]]:
    body = re.search(r'<table id="trail">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body is not None
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td>(.*?)</td>", row, re.S)])
    return rows


@pytest.mark.promise("R-13")
def test_a_request_left_open_for_a_month_is_marked_overdue_and_heads_the_queue(
    console: ConsoleServer, clock: FakeClock
) -> None:
    system = console.system
    make_account(system)
    started = clock.now()
    old = file_request(system, RequestKind.ERASURE, "pseudonym-old", verified=False)
    clock.advance(timedelta(days=10))
    new = file_request(system, RequestKind.ACCESS, "pseudonym-new")

    browser = console.signed_in()
    rows = queue_rows(browser.get("/dpo").text)
    assert [(c, i) for c, i, _ in rows] == [("open", old.id), ("open", new.id)]
    assert "in 21 days" in rows[0][2] and "OVERDUE" not in rows[0][2]

    clock.set(started + relativedelta(months=1) + timedelta(days=1))
    browser = console.signed_in()  # the earlier session has long expired
    page = browser.get("/dpo").text
    rows = queue_rows(page)
    assert [(c, i) for c, i, _ in rows] == [("overdue", old.id), ("open", new.id)]
    assert "OVERDUE by 1 day" in rows[0][2]
    assert "erasure" in rows[0][2] and "received, identity not yet verified" in rows[0][2]
    assert "2026-03-01 09:00 UTC" in rows[0][2] and "2026-04-01 09:00 UTC" in rows[0][2]  # received, due
    assert "OVERDUE" not in rows[1][2] and "in 9 days" in rows[1][2]
    assert text_of(page, "overdue-count") == "1 overdue request."
    assert "OVERDUE by 1 day" in text_of(browser.get(f"/dpo/requests/{old.id}").text, "due")


@pytest.mark.promise("R-13")
def test_approving_starts_work_and_names_the_dpo_in_the_audit_chain(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = file_request(system)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    answer = browser.submit(page, f"{page}/approve")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{page}?done=approved"
    shown = browser.get(answer.headers["location"]).text
    assert text_of(shown, "state") == "in progress"
    assert text_of(shown, "notice") == "The request is in progress."
    assert stored_request(system, stored.id).request.state is RequestState.IN_PROGRESS
    assert [row[2:5] for row in trail_rows(shown)] == [
        ["rights.received", "—", "—"],
        ["rights.identity_verified", "subject", "received"],
        ["rights.in_progress", "dpo:erika", "identity_verified"],
    ]
    assert ("rights.in_progress", "pseudonym-1") in [(k, s) for k, s, _ in audit_entries(system, "rights.")]


@pytest.mark.promise("R-13")
def test_an_extension_records_its_reason_and_the_new_due_date(console: ConsoleServer, clock: FakeClock) -> None:
    system = console.system
    make_account(system)
    received = clock.now()
    stored = file_request(system)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    assert browser.submit(page, f"{page}/approve").status_code == 303
    clock.advance(timedelta(days=20))
    browser = console.signed_in()  # the earlier session has expired
    reason = "Your request covers eleven years of records kept in three systems."
    answer = browser.submit(page, f"{page}/extend", months="2", reason=f"  {reason}\n")
    assert answer.status_code == 303
    shown = browser.get(answer.headers["location"]).text
    assert text_of(shown, "state") == "extended"
    assert text_of(shown, "due") == "2026-06-01 09:00 UTC"  # one month, then two more
    assert text_of(shown, "reason") == reason

    after = stored_request(system, stored.id).request
    assert after.state is RequestState.EXTENDED
    assert after.due_at == received + relativedelta(months=3)
    assert after.reason == reason
    extended = [d for k, _, d in audit_entries(system, "rights.extended")]
    assert extended == [{"request": stored.id, "from": "in_progress", "by": "dpo:erika", "reason": reason}]
    assert trail_rows(shown)[-1][2:6] == ["rights.extended", "dpo:erika", "in_progress", reason]


@pytest.mark.promise("R-13")
@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        (
            {"months": "1", "reason": "   "},
            422,
            "An extension needs a reason, which the subject is told (Art. 12(3) GDPR).",
        ),
        ({"months": "1"}, 422, "An extension needs a reason, which the subject is told (Art. 12(3) GDPR)."),
        ({"months": "3", "reason": "complex"}, 422, "An extension is 1 to 2 months beyond the first month"),
        ({"months": "0", "reason": "complex"}, 422, "An extension is 1 to 2 months beyond the first month"),
        ({"months": "two", "reason": "complex"}, 422, "An extension is 1 to 2 months beyond the first month"),
        ({"months": "1", "reason": "x" * 2001}, 422, "A reason has at most 2000 characters."),
    ],
)
def test_an_extension_without_a_reason_or_beyond_two_months_is_refused_with_why(
    console: ConsoleServer, fields: dict[str, str], status: int, message: str
) -> None:
    system = console.system
    make_account(system)
    stored = file_request(system)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    browser.submit(page, f"{page}/approve")
    answer = browser.submit(page, f"{page}/extend", **fields)
    assert answer.status_code == status
    assert text_of(answer.text, "error").startswith(message)
    after = stored_request(system, stored.id).request
    assert after.state is RequestState.IN_PROGRESS and after.reason is None
    assert audit_entries(system, "rights.extended") == []


@pytest.mark.promise("R-13")
def test_an_extension_after_the_first_month_is_refused_with_409(console: ConsoleServer, clock: FakeClock) -> None:
    system = console.system
    make_account(system)
    stored = file_request(system)
    page = f"/dpo/requests/{stored.id}"
    console.signed_in().submit(page, f"{page}/approve")
    clock.advance(timedelta(days=32))
    answer = console.signed_in().submit(page, f"{page}/extend", months="1", reason="complex")
    assert answer.status_code == 409
    assert text_of(answer.text, "error") == (
        "Not done: an extension must be announced within one month of receipt (Art. 12(3))."
    )
    assert stored_request(system, stored.id).request.state is RequestState.IN_PROGRESS


@pytest.mark.promise("R-13")
def test_a_refusal_records_its_reason_and_a_second_refusal_is_409(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = file_request(system, verified=False)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"

    empty = browser.submit(page, f"{page}/refuse", reason="")
    assert empty.status_code == 422
    assert text_of(empty.text, "error") == "A refusal needs a reason, which the subject is told (Art. 12(4) GDPR)."

    reason = "The identity of the requester could not be verified."
    answer = browser.submit(page, f"{page}/refuse", reason=reason)
    assert answer.status_code == 303
    shown = browser.get(answer.headers["location"]).text
    assert text_of(shown, "state") == "refused"
    assert text_of(shown, "reason") == reason
    assert 'id="actions"' not in shown  # nothing left to decide
    after = stored_request(system, stored.id).request
    assert (after.state, after.reason, after.closed_at) == (RequestState.REFUSED, reason, system.clock.now())
    assert [d for _, _, d in audit_entries(system, "rights.refused")] == [
        {"request": stored.id, "from": "received", "by": "dpo:erika", "reason": reason}
    ]
    # A refused request leaves the queue.
    assert stored.id not in browser.get("/dpo").text

    # A second refusal, sent from the page as it was before the first one, is a conflict.
    again = browser.post(f"{page}/refuse", {"csrf": _token(browser), "reason": "Another reason."})
    assert again.status_code == 409
    assert text_of(again.text, "error") == "Not done: a request that is refused cannot become refused."
    assert stored_request(system, stored.id).request.reason == reason
    assert len(audit_entries(system, "rights.refused")) == 1


@pytest.mark.promise("R-13")
def test_nothing_is_approved_before_the_subjects_identity_is_verified(console: ConsoleServer) -> None:
    system = console.system
    make_account(system)
    stored = file_request(system, verified=False)
    browser = console.signed_in()
    page = f"/dpo/requests/{stored.id}"
    assert 'id="approve"' not in browser.get(page).text
    answer = browser.post(f"{page}/approve", {"csrf": _token(browser)})
    assert answer.status_code == 409
    assert text_of(answer.text, "error") == "Not done: a request that is received cannot become in_progress."
    assert stored_request(system, stored.id).request.state is RequestState.RECEIVED


def test_an_unknown_request_is_404(console: ConsoleServer) -> None:
    make_account(console.system)
    browser = console.signed_in()
    for request_id in ("AAAAAAAAAAAAAAAAAAAAAA", "not%20an%20id", "x" * 65):
        assert browser.get(f"/dpo/requests/{request_id}").status_code == 404
        for action in ("approve", "refuse", "extend"):
            answer = browser.post(
                f"/dpo/requests/{request_id}/{action}", {"csrf": _token(browser), "reason": "r", "months": "1"}
            )
            assert answer.status_code == 404, action
    assert audit_entries(console.system, "rights.") == []


def _token(browser: object) -> str:
    from tests.services.dpo.conftest import Browser, csrf_of

    assert isinstance(browser, Browser)
    return csrf_of(browser.get("/dpo").text)
