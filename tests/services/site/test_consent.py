"""The website visitor's consent: banner, cookie settings, the ledger, and the visitor's rights.

Through real HTTP against the whole application.  The visitor cookie is `Secure`, which
httpx (like a browser) does not send over plain HTTP, so `Visitor` keeps it itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from privateline.kernel.clock import FakeClock
from privateline.services.site.consent.visitor import COOKIE
from privateline.storage.audit_log import AuditLog
from privateline.storage.consent_ledger import consent_event
from privateline.storage.subject_rights import objection
from tests.conftest import LiveServer

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
CONSENT_PURPOSES = {"social_buttons", "web_analytics"}
OBJECTABLE = {"event_analytics"}


@dataclass
class Visitor:
    client: httpx.Client
    cookie: str | None = None
    set_cookies: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers: dict[str, str] = dict(kwargs.pop("headers", {}))
        if self.cookie is not None:
            headers.setdefault("Cookie", f"{COOKIE}={self.cookie}")
        response = self.client.request(method, path, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() == COOKIE:
                self.set_cookies.append(header)
                value, *attributes = (p.strip() for p in rest.split(";"))
                gone = any(a.lower() == "max-age=0" for a in attributes) or value in ("", '""')
                self.cookie = None if gone else value
        self.client.cookies.clear()
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def choose(
        self, action: str, page: str = "/privacy", *, allow: tuple[str, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        """Answer from the banner on `page` (or the settings form when `page` is the settings page)."""
        shown = self.get(page, headers=kwargs.pop("page_headers", {}))
        form: dict[str, Any] = {"csrf": csrf_of(shown.text), "action": action}
        if page == "/privacy":
            form.update({"from": "banner", "return_to": page})
        if allow:
            form["allow"] = list(allow)
        return self.request("POST", "/cookie-settings", data=form, **kwargs)


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a token"
    return html.unescape(found.group(1))


@pytest.fixture
def visitors(live_server: LiveServer) -> Iterator[list[Visitor]]:
    made: list[Visitor] = []

    def close() -> None:
        for v in made:
            v.client.close()

    yield made
    close()


@pytest.fixture
def visitor(live_server: LiveServer, visitors: list[Visitor]) -> Visitor:
    return new_visitor(live_server, visitors)


def new_visitor(live_server: LiveServer, visitors: list[Visitor]) -> Visitor:
    made = Visitor(httpx.Client(base_url=live_server.url, timeout=10))
    visitors.append(made)
    return made


def ledger(live_server: LiveServer) -> list[sa.Row[Any]]:
    with live_server.system.database.reading() as c:
        return list(c.execute(sa.select(consent_event).order_by(consent_event.c.id)))


def objections(live_server: LiveServer) -> list[sa.Row[Any]]:
    with live_server.system.database.reading() as c:
        return list(c.execute(sa.select(objection).where(objection.c.withdrawn_at.is_(None))))


def has_banner(page: str) -> bool:
    return 'id="consent-banner"' in page


@pytest.mark.promise("WEB-8")
def test_web_8_every_page_has_the_settings_link_and_the_banner_until_the_visitor_chooses(
    live_server: LiveServer, visitor: Visitor
) -> None:
    for path in ("/privacy", "/privacy-center", "/device", "/config-helper", "/privacy?lang=de"):
        page = visitor.get(path).text
        assert 'id="cookie-settings-link"' in page, path
        assert has_banner(page), path
    assert ledger(live_server) == [] and visitor.cookie is None  # nothing is set or stored before a choice

    answered = visitor.choose("reject_all")
    assert answered.status_code == 303 and answered.headers["location"] == "/privacy"
    [set_cookie] = visitor.set_cookies
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "max-age"} <= attributes
    assert "max-age=31536000" in set_cookie.lower()  # as long as a consent lasts (WEB-8)

    rows = ledger(live_server)
    assert {(r.purpose, r.kind, r.method) for r in rows} == {(p, "refused", "banner") for p in CONSENT_PURPOSES}
    assert len({r.record_id for r in rows}) == 1  # one receipt for the one choice
    assert all(r.register_version == live_server.system.loaded.version for r in rows)
    assert {(o.activity, o.state) for o in objections(live_server)} == {("event_analytics", "upheld")}
    with live_server.system.database.reading() as c:
        kinds = [e.kind for e in AuditLog(c).entries()]
    assert "consent.recorded" in kinds

    for path in ("/privacy", "/privacy-center", "/device"):
        page = visitor.get(path).text
        assert not has_banner(page) and 'id="cookie-settings-link"' in page


@pytest.mark.promise("WEB-8")
def test_web_8_a_consent_lasts_one_year_then_the_visitor_is_asked_again_and_the_record_goes(
    live_server: LiveServer, visitor: Visitor, clock: FakeClock
) -> None:
    assert visitor.choose("accept_all").status_code == 303
    given = ledger(live_server)
    assert {(r.purpose, r.kind) for r in given} == {(p, "given") for p in CONSENT_PURPOSES}
    assert all(r.expires_at - r.at == timedelta(days=365) for r in given)
    settings = visitor.get("/cookie-settings").text
    assert settings.count(" checked") == 3

    clock.advance(timedelta(days=364))
    assert not has_banner(visitor.get("/privacy").text)
    clock.advance(timedelta(days=2))
    assert has_banner(visitor.get("/privacy").text)  # asked again
    assert visitor.get("/cookie-settings").text.count(" checked") == 1  # only the objectable one is on by default
    live_server.system.sweep()
    assert ledger(live_server) == []  # consent records are deleted one year after they were given


@pytest.mark.promise("R-9", "WEB-8")
def test_r_9_withdrawing_a_consent_is_as_easy_and_keeps_what_was_lawful_before(
    live_server: LiveServer, visitor: Visitor, clock: FakeClock
) -> None:
    page = "/cookie-settings"
    assert visitor.choose("save", page, allow=("web_analytics",)).status_code == 303
    clock.advance(timedelta(days=3))
    saved = visitor.choose("save", page)  # nothing ticked: withdraw
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/cookie-settings?lang=en&saved=")
    receipt = saved.headers["location"].split("saved=")[1]
    shown = visitor.get(saved.headers["location"]).text
    assert receipt in shown and "withdrawn" in shown
    kinds = [(r.purpose, r.kind) for r in ledger(live_server) if r.purpose == "web_analytics"]
    assert kinds == [("web_analytics", "given"), ("web_analytics", "withdrawn")]  # the earlier consent is still proven
    assert visitor.get(page).text.count(" checked") == 0


@pytest.mark.promise("R-8")
def test_r_8_global_privacy_control_is_an_objection_no_tick_box_outvotes(
    live_server: LiveServer, visitor: Visitor
) -> None:
    gpc = {"Sec-GPC": "1"}
    page = visitor.get("/privacy", headers=gpc).text
    assert not has_banner(page)  # nothing to ask: the browser has said no
    assert 'id="gpc"' in visitor.get("/cookie-settings", headers=gpc).text
    assert visitor.choose("accept_all", "/cookie-settings", headers=gpc, page_headers=gpc).status_code == 303
    assert {(r.purpose, r.kind) for r in ledger(live_server)} == {(p, "refused") for p in CONSENT_PURPOSES}
    assert {(o.activity, o.source) for o in objections(live_server)} == {("event_analytics", "gpc")}


def test_a_choice_from_another_site_or_without_the_forms_token_records_nothing(
    live_server: LiveServer, visitor: Visitor
) -> None:
    forged = visitor.request("POST", "/cookie-settings", data={"action": "accept_all"})
    assert forged.status_code == 403 and "load the page again" in forged.text
    token = csrf_of(visitor.get("/privacy").text)
    cross_site = visitor.request(
        "POST",
        "/cookie-settings",
        data={"csrf": token, "action": "accept_all"},
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    unknown = visitor.request("POST", "/cookie-settings", data={"csrf": token, "action": "save", "allow": "selling"})
    assert unknown.status_code == 422
    assert ledger(live_server) == [] and visitor.cookie is None


@pytest.mark.promise("R-2", "R-6")
def test_a_visitor_downloads_their_own_records_and_no_one_else_gets_them(
    live_server: LiveServer, visitors: list[Visitor]
) -> None:
    alice, mallory = new_visitor(live_server, visitors), new_visitor(live_server, visitors)
    assert alice.choose("accept_all").status_code == 303
    assert mallory.choose("reject_all").status_code == 303
    package = alice.get("/cookie-settings/export.json")
    assert package.status_code == 200
    document = package.json()
    [store] = [s for s in document["stores"] if s["store"] == "consent_event"]
    assert {(r["purpose"], r["kind"]) for r in store["rows"]} == {(p, "given") for p in CONSENT_PURPOSES}
    assert any(a["id"] == "website_consent_records" for a in document["processing"]["activities"])

    alice_receipt = ledger(live_server)[0].record_id
    nobody = new_visitor(live_server, visitors)
    answers = {
        "no cookie": nobody.get("/cookie-settings/export.json"),
        "another visitor's receipt": nobody.get(
            "/cookie-settings/export.json", headers={"Cookie": f"{COOKIE}={alice_receipt}"}
        ),
        "a forged cookie": nobody.get("/cookie-settings/export.json", headers={"Cookie": f"{COOKIE}={alice.cookie}x"}),
    }
    for what, answer in answers.items():
        assert answer.status_code == 404, what
        assert answer.json() == answers["no cookie"].json(), what  # nothing tells whether anyone exists


@pytest.mark.promise("R-4")
def test_forgetting_a_browser_keeps_only_the_proof_of_consent_the_law_requires(
    live_server: LiveServer, visitor: Visitor
) -> None:
    assert visitor.choose("accept_all").status_code == 303
    page = visitor.get("/cookie-settings").text
    forgotten = visitor.request("POST", "/cookie-settings/forget", data={"csrf": csrf_of(page)})
    assert forgotten.status_code == 200
    assert visitor.cookie is None  # the browser forgets its settings
    assert 'id="kept"' in forgotten.text and "consent_event" in forgotten.text
    assert len(ledger(live_server)) == 2  # proof of consent, kept under Art. 7(1) / 17(3)(b)
    assert has_banner(visitor.get("/privacy").text)
