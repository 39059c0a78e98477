"""Across the running application: the DPO extends a device owner's request and the owner is told why (R-13).

Art. 12(3) GDPR: an extension is told to the subject within the first month, with its
reasons.  A device owner has no address we know (DEV-5), so they are told where they
follow their requests: the portal's list shows the new due date and the reason.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest
from dateutil.relativedelta import relativedelta

from privateline.kernel.clock import FakeClock
from tests.conftest import LiveServer
from tests.services.devices.conftest import MakePhone
from tests.services.devices.portal.conftest import Browser as PortalBrowser
from tests.services.devices.portal.conftest import csrf_of
from tests.services.dpo.conftest import PASSWORD, make_account
from tests.services.dpo.conftest import Browser as ConsoleBrowser


@pytest.mark.promise("R-13")
def test_an_extension_by_the_dpo_is_shown_to_the_owner_with_its_reason_and_new_due_date(
    live_server: LiveServer, make_phone: MakePhone, clock: FakeClock
) -> None:
    system = live_server.system
    phone = make_phone()
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as a,
        httpx.Client(base_url=live_server.url, timeout=30) as b,
    ):
        owner, dpo = PortalBrowser(a, None), ConsoleBrowser(b, None)
        assert owner.sign_in(phone.number, phone.password).status_code == 303
        page = owner.get("/device/rights")
        wrong = "The device name shown for my phone is not the one I gave it."
        filed = owner.post("/device/rights", {"csrf": csrf_of(page.text), "kind": "rectification", "text": wrong})
        assert filed.status_code == 303, filed.text
        found = re.search(r"#request-([A-Za-z0-9_-]+)$", filed.headers["location"])
        assert found is not None
        request_id = found.group(1)
        received = clock.now()

        make_account(system)
        assert dpo.sign_in("erika", PASSWORD).status_code == 303
        console_page = f"/dpo/requests/{request_id}"
        assert dpo.submit(console_page, f"{console_page}/approve").status_code == 303
        clock.advance(timedelta(days=10))
        assert dpo.sign_in("erika", PASSWORD).status_code == 303
        reason = "We must ask the repair service, which holds the older records of your phone."
        assert dpo.submit(console_page, f"{console_page}/extend", months="1", reason=reason).status_code == 303

        assert owner.sign_in(phone.number, phone.password).status_code == 303
        shown = owner.get("/device/rights").text
        row = shown[shown.index(f'id="request-{request_id}"') :]
        row = row[: row.index("</tr>")]
        assert 'data-state="extended"' in row
        assert reason in html.unescape(row)
        assert (received + relativedelta(months=2)).date().isoformat() in row
