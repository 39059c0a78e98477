"""The e-mail channel through the whole application, over real HTTP and real SMTP (R-13, R-2, R-4, R-9).

Identity is never bypassed: asking for a link tells nobody whether an address is
known; a link works once, for thirty minutes, exactly as it was sent; an expired,
replayed, altered or foreign link gets one refusal that names nobody; and what is
held about an address is shown, handed out or erased only in the short session its
own link started.
"""

from __future__ import annotations

import html
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer
from structlog.testing import capture_logs

from privateline.kernel.requests import RequestKind, RequestState
from privateline.services.privacy.center.http import EMAIL_LINK
from privateline.services.privacy.email_link.http import COOKIE, PATH
from privateline.services.privacy.email_link.link import LIFETIME, LinkTokens
from privateline.services.privacy.email_link.session import ABSOLUTE, IDLE
from privateline.storage.audit_log import audit_entry
from privateline.storage.consent_ledger import ConsentLedger
from privateline.storage.email_link_redemptions import email_link_redemption
from privateline.storage.rights_requests import RightsRequests
from tests.conftest import LiveServer
from tests.services.privacy.email_link.conftest import (
    _CSRF,
    _TOKEN,
    PUBLIC_URL,
    database_text,
    field_of,
    main_of,
    pseudonym_of,
    subscribe,
)
from tests.services.privacy.email_link.smtp import Inbox

OPEN = "/privacy-center/email/open"
ANNA = "Anna.Schmidt@Example.org"  # known: the newsletter's sign-up recorded her consent
ANNA_NORMALISED = "anna.schmidt@example.org"
NOBODY = "nobody.here@example.net"  # unknown
MALLORY = "mallory@example.com"


def _token_of(path: str) -> str:
    return parse_qs(urlsplit(path).query)["t"][0]


def _with_token(token: str) -> str:
    return f"{OPEN}?{urlencode({'lang': 'en', 't': token})}"


def _audit_kinds(live_server: LiveServer, subject: str) -> list[str]:
    with live_server.system.database.reading() as c:
        query = sa.select(audit_entry.c.kind).where(audit_entry.c.subject == subject).order_by(audit_entry.c.seq)
        return list(c.execute(query).scalars())


def _redemptions(live_server: LiveServer) -> list[Any]:
    with live_server.system.database.reading() as c:
        return list(c.execute(sa.select(email_link_redemption)))


@pytest.mark.promise("R-13")
def test_every_address_gets_the_same_answer_and_no_store_or_log_line_holds_it(
    live_server: LiveServer, people: Any, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    system = live_server.system
    subscribe(system, ANNA, system.clock.now())
    person = people()
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        center = person.request("GET", "/privacy-center")
        form = re.search(r'<form method="post" action="([^"]+)" id="newsletter-form">', center.text)
        assert form is not None
        action = html.unescape(form.group(1))
        assert action == f"{EMAIL_LINK}?lang=en" and EMAIL_LINK == PATH
        # A forged Host header does not move the link: links are built from public_url.
        answers = [
            person.request("POST", action, data={"address": a}, headers={"Host": "attacker.example"})
            for a in (ANNA, NOBODY)
        ]
    known, unknown = answers
    assert known.status_code == unknown.status_code == 200
    assert main_of(known.text) == main_of(unknown.text)
    assert "we have sent a link to it" in main_of(known.text)
    assert "set-cookie" not in known.headers and "set-cookie" not in unknown.headers
    # The link goes out whatever we hold: the mails differ only in their links.
    to_anna, to_nobody = inbox.last_to(ANNA_NORMALISED), inbox.last_to(NOBODY)
    for mail in (to_anna, to_nobody):
        assert mail.link.startswith(f"{PUBLIC_URL}/privacy-center/email/open?lang=en&t=")
        assert mail.message["From"] == "Privacy <privacy@operator.example>"
        assert mail.message["Auto-Submitted"] == "auto-generated"
        assert mail.message["Content-Language"] == "en"
    assert to_anna.message["Subject"] == to_nobody.message["Subject"]
    assert to_anna.body.replace(to_anna.link, "") == to_nobody.body.replace(to_nobody.link, "")
    assert "30 minutes" in to_anna.body and system.loaded.register.controller.name in to_anna.body

    live_server.stop()  # flushes the access log
    stored = database_text(system).lower()
    # Our own log lines and the server's (not the test's HTTP client or the test's SMTP server).
    ours = [r for r in caplog.records if r.name.startswith(("privateline", "uvicorn", "sqlalchemy", "alembic"))]
    logged = (repr(logs) + "\n".join(r.getMessage() + repr(r.__dict__) for r in ours)).lower()
    for secret in (ANNA_NORMALISED, NOBODY, "anna.schmidt", "nobody.here", _token_of(to_anna.path).lower()):
        assert secret not in stored
        assert secret not in logged
    assert not (system.settings.data_dir / "outbox-mail").exists()


@pytest.mark.promise("R-13", "R-2")
def test_a_link_opens_what_is_held_about_its_address_and_works_once(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    system = live_server.system
    receipt = subscribe(system, ANNA, system.clock.now())
    anna = people()
    anna.ask(ANNA)
    path = inbox.last_to(ANNA_NORMALISED).path
    # A mail scanner that fetches the link uses nothing up and learns nothing.
    scanner = people("203.0.113.9")
    for _ in range(2):
        fetched = scanner.open(path)
        assert fetched.status_code == 200
        assert receipt not in fetched.text and "newsletter_subscribed" not in fetched.text
    assert _redemptions(live_server) == []

    answered = anna.redeem(path)
    assert answered.status_code == 303
    assert answered.headers["location"] == "/privacy-center/email/held?lang=en"
    page = anna.held()
    assert page.status_code == 200
    held = html.unescape(main_of(page.text))
    assert receipt in held and "newsletter_subscribed" in held
    assert 'id="nothing-held"' not in held
    [redeemed] = _redemptions(live_server)
    assert redeemed.subject == pseudonym_of(system, ANNA) and redeemed.subject_kind == "newsletter_recipient"
    assert "rights.identity_proved" in _audit_kinds(live_server, pseudonym_of(system, ANNA))

    # Once: the same link is refused in her browser and in any other.
    assert anna.open(path).status_code == 403
    mallory = people("203.0.113.66")
    mallory.ask(MALLORY)
    own = mallory.open(inbox.last_to(MALLORY).path)  # a genuine form of his own, with its CSRF token
    replayed = mallory.request("POST", OPEN, data={"t": _token_of(path), "csrf": field_of(own.text, _CSRF)})
    assert replayed.status_code == 403
    assert receipt not in replayed.text
    assert mallory.held().status_code == 403


@pytest.mark.promise("R-13")
def test_two_browsers_racing_with_one_link_get_one_session(live_server: LiveServer, people: Any, inbox: Inbox) -> None:
    people().ask(NOBODY)
    path = inbox.last_to(NOBODY).path
    racers = [people(f"203.0.113.{n}") for n in (10, 11, 12, 13)]
    forms = []
    for racer in racers:
        page = racer.open(path)
        forms.append({"t": field_of(page.text, _TOKEN), "csrf": field_of(page.text, _CSRF)})
    with ThreadPoolExecutor(len(racers)) as pool:
        answers = list(
            pool.map(lambda pair: pair[0].request("POST", OPEN, data=pair[1]), zip(racers, forms, strict=True))
        )
    assert sorted(a.status_code for a in answers) == [303, 403, 403, 403]
    assert len(_redemptions(live_server)) == 1


@pytest.mark.promise("R-13", "R-2")
def test_an_address_we_hold_nothing_about_is_told_so_plainly(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    person = people()
    person.ask(NOBODY, lang="de")
    mail = inbox.last_to(NOBODY)
    assert person.redeem(mail.path).status_code == 303
    page = person.request("GET", "/privacy-center/email/held?lang=de")
    assert page.status_code == 200
    held = html.unescape(main_of(page.text))
    assert '<p id="nothing-held">In keinem unserer Dienste speichern wir Daten zu dieser Adresse.</p>' in held
    # What exists is the record of the link just used, shown as what it is.
    assert "Aufzeichnungen Ihrer Anfragen" in held and "email_link_redemption" in held


@pytest.mark.promise("R-13")
def test_expired_replayed_altered_and_foreign_links_get_one_refusal_that_shows_nothing(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    system = live_server.system
    clock: Any = system.clock
    receipt = subscribe(system, ANNA, clock.now())
    anna_pseudonym = pseudonym_of(system, ANNA)
    anna, mallory = people(), people("203.0.113.66")

    anna.ask(ANNA)
    expired = inbox.last_to(ANNA_NORMALISED).path
    clock.advance(LIFETIME + timedelta(seconds=1))
    anna.ask(ANNA)
    replayed = inbox.last_to(ANNA_NORMALISED).path
    assert anna.redeem(replayed).status_code == 303
    anna.ask(ANNA)
    genuine = _token_of(inbox.last_to(ANNA_NORMALISED).path)

    mallory.ask(MALLORY)
    own = _token_of(inbox.last_to(MALLORY).path)
    # His own genuine link's signature, under a claim that names Anna's address.
    plain = URLSafeSerializer(b"unused")
    payload, signature = own.rsplit(".", 1)
    claim = plain.load_payload(payload.encode("ascii"))
    foreign = plain.dump_payload({**claim, "p": anna_pseudonym}).decode("ascii") + "." + signature
    altered = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    forged = LinkTokens(b"the key of another instance, 32+ bytes").issue(
        "newsletter_recipient", anna_pseudonym, clock.now()
    )
    # Another signed value of this instance (same key, another salt) is no link either.
    other_salt = URLSafeSerializer(system.session_key, salt="privateline.visitor-consent").dumps(
        {"k": "newsletter_recipient", "p": anna_pseudonym, "n": "A" * 22, "i": int(clock.now().timestamp())}
    )
    other_kind = LinkTokens(system.session_key).issue("device_owner", anna_pseudonym, clock.now())
    bad = {
        "expired": expired,
        "replayed": replayed,
        "foreign": _with_token(foreign),
        "altered": _with_token(altered),
        "forged": _with_token(forged),
        "other_salt": _with_token(str(other_salt)),
        "other_kind": _with_token(other_kind),
        "cut": _with_token(genuine[: len(genuine) // 2]),
        "none": OPEN,
    }
    refusals = {}
    for name, path in bad.items():
        opened = mallory.open(path)
        assert opened.status_code == 403, name
        refusals[name] = main_of(opened.text)
        # Posted straight to the button's address with a genuine form of Mallory's own.
        page = mallory.open(_with_token(own))
        assert page.status_code == 200
        token = parse_qs(urlsplit(path).query).get("t", [""])[0]
        posted = mallory.request("POST", OPEN, data={"t": token, "csrf": field_of(page.text, _CSRF)})
        assert posted.status_code == 403, name
        refusals[f"{name} (posted)"] = main_of(posted.text)
        assert mallory.held().status_code == 403, name
    assert len(set(refusals.values())) == 1, sorted(refusals)
    refusal = next(iter(refusals.values()))
    assert "This link cannot be used" in refusal
    for secret in (receipt, anna_pseudonym, "newsletter_subscribed", "consent_event"):
        assert secret not in refusal
    # Only Anna's one redeemed link exists; none of the bad ones left a trace or a session.
    assert [r.subject for r in _redemptions(live_server)] == [anna_pseudonym]
    # Mallory's own link shows Mallory's address only: nothing of Anna's.
    assert mallory.redeem(_with_token(own)).status_code == 303
    his = mallory.held().text
    assert receipt not in his and anna_pseudonym not in his


@pytest.mark.promise("R-13")
def test_links_are_limited_per_network_and_per_address_alike_for_known_and_unknown(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    system = live_server.system
    clock: Any = system.clock
    subscribe(system, ANNA, clock.now())
    refused = {}
    for address in (ANNA, NOBODY):
        for n in range(3):
            assert people(f"192.0.2.{n + 1}").ask(address).status_code == 200
        refused[address] = people("192.0.2.99").ask(address)
    for answer in refused.values():
        assert answer.status_code == 429
        assert 0 < int(answer.headers["retry-after"]) <= 3600
        assert "Too many links have been asked for" in answer.text
    assert main_of(refused[ANNA].text) == main_of(refused[NOBODY].text)
    assert len(inbox.to(ANNA_NORMALISED)) == 3 and len(inbox.to(NOBODY)) == 3

    busy = people("198.51.100.200")
    for n in range(10):
        assert busy.ask(f"reader{n}@example.com").status_code == 200
    assert busy.ask("reader10@example.com").status_code == 429
    assert inbox.to("reader10@example.com") == []
    # One IPv6 client is one /64, however it rotates its address.
    for n in range(10):
        assert people(f"2001:db8:1:2::{n + 1:x}").ask(f"six{n}@example.com").status_code == 200
    assert people("2001:db8:1:2:ffff::1").ask("six10@example.com").status_code == 429
    assert people("2001:db8:1:3::1").ask("six10@example.com").status_code == 200

    clock.advance(timedelta(hours=1))
    assert busy.ask("reader10@example.com").status_code == 200
    assert people("192.0.2.99").ask(ANNA).status_code == 200
    assert len(inbox.to("reader10@example.com")) == 1


@pytest.mark.promise("R-13", "R-2")
def test_the_access_package_is_made_only_in_a_verified_session_of_the_same_address(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    system = live_server.system
    clock: Any = system.clock
    receipt = subscribe(system, ANNA, clock.now())
    anna_pseudonym = pseudonym_of(system, ANNA)
    anna = people()
    anna.ask(ANNA)
    assert anna.redeem(inbox.last_to(ANNA_NORMALISED).path).status_code == 303
    filed = anna.act("access")
    assert filed.status_code == 303 and "done=access" in filed.headers["location"]
    page = anna.held()
    found = re.search(r'class="package" href="([^"]+)"', page.text)
    assert found is not None
    url = html.unescape(found.group(1))
    downloaded = anna.request("GET", url)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-disposition"].startswith("attachment")
    assert downloaded.headers["cache-control"] == "no-store"
    package = downloaded.json()
    assert package["subject_kind"] == "newsletter_recipient"
    stores = {s["store"]: s for s in package["stores"]}
    assert [r["record_id"] for r in stores["consent_event"]["rows"]] == [receipt]
    assert {"rights_request", "email_link_redemption", "audit_entry"} <= set(stores)
    assert "website_consent_records" in {a["id"] for a in package["processing"]["activities"]}
    assert package["request"]["kind"] == "access"
    # Filed, verified by the link, completed, audited (R-13).
    with system.database.reading() as c:
        [request] = RightsRequests(c).of_subject(anna_pseudonym)
    assert request.request.kind is RequestKind.ACCESS and request.request.state is RequestState.COMPLETED
    assert request.detail == {"via": "email-link"}
    kinds = _audit_kinds(live_server, anna_pseudonym)
    for kind in ("rights.identity_proved", "rights.received", "rights.identity_verified", "rights.completed"):
        assert kind in kinds
    assert kinds[-1] == "rights.access_exported"

    # Not without the session, not in another address's session.
    assert people("203.0.113.1").request("GET", url).status_code == 404
    mallory = people("203.0.113.66")
    mallory.ask(MALLORY)
    assert mallory.redeem(inbox.last_to(MALLORY).path).status_code == 303
    in_his = mallory.request("GET", url)
    assert in_his.status_code == 404 and receipt not in in_his.text
    # Not after the session closed, even with its cookie kept.
    kept = {"Cookie": f"{COOKIE}={anna.client.cookies.get(COOKIE)}"}
    assert anna.act("sign-out").status_code == 303
    assert anna.request("GET", url).status_code == 404
    replaying = people()
    assert replaying.request("GET", url, headers=kept).status_code == 404
    assert replaying.request("GET", "/privacy-center/email/held", headers=kept).status_code == 403
    # Not after its time: 15 minutes unused, or 30 minutes after the link at the latest.
    anna.ask(ANNA)
    assert anna.redeem(inbox.last_to(ANNA_NORMALISED).path).status_code == 303
    clock.advance(IDLE - timedelta(seconds=1))
    assert anna.request("GET", url).status_code == 200
    clock.advance(IDLE - timedelta(seconds=1))
    assert anna.held().status_code == 200
    clock.advance(ABSOLUTE - 2 * (IDLE - timedelta(seconds=1)))
    assert anna.request("GET", url).status_code == 404
    assert anna.held().status_code == 403


@pytest.mark.promise("R-13")
def test_a_link_is_redeemed_only_by_the_form_of_its_own_page(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    system = live_server.system
    receipt = subscribe(system, ANNA, system.clock.now())
    anna, mallory = people(), people("203.0.113.66")
    anna.ask(ANNA)
    path = inbox.last_to(ANNA_NORMALISED).path
    page = anna.open(path)
    token, csrf = field_of(page.text, _TOKEN), field_of(page.text, _CSRF)
    mallory.ask(MALLORY)
    his = field_of(mallory.open(inbox.last_to(MALLORY).path).text, _CSRF)
    attempts: list[dict[str, Any]] = [
        {"data": {"t": token}},
        {"data": {"t": token, "csrf": "forged"}},
        {"data": {"t": token, "csrf": his}},  # a token of another browser's session
        {"data": {"t": token, "csrf": csrf}, "headers": {"Sec-Fetch-Site": "cross-site"}},
        {"data": {"t": token, "csrf": csrf}, "headers": {"Origin": "https://attacker.example"}},
        {"content": b'{"t": "x"}', "headers": {"Content-Type": "application/json"}},
    ]
    for attempt in attempts:
        refused = anna.request("POST", OPEN, **attempt)
        assert refused.status_code in (403, 415), attempt
        assert receipt not in refused.text
        assert anna.held().status_code == 403
    assert _redemptions(live_server) == []
    # The link was not used up by any of them.
    answered = anna.request("POST", OPEN, data={"t": token, "csrf": csrf}, headers={"Sec-Fetch-Site": "same-origin"})
    assert answered.status_code == 303

    # In the verified session, every button needs the session's token too.
    with system.database.reading() as c:
        before = len(RightsRequests(c).of_subject(pseudonym_of(system, ANNA)))
    for action in ("access", "erase", "stop-marketing"):
        assert anna.request("POST", f"{PATH}/{action}", data={}).status_code == 403
        assert anna.request("POST", f"{PATH}/{action}", data={"csrf": his}).status_code == 403
    with system.database.reading() as c:
        assert len(RightsRequests(c).of_subject(pseudonym_of(system, ANNA))) == before
        assert [e.record_id for e in ConsentLedger(c).events_of(pseudonym_of(system, ANNA))] == [receipt]


@pytest.mark.promise("R-13", "R-4", "R-9", "WEB-3")
def test_stopping_marketing_and_erasure_are_carried_out_by_the_rights_engine(
    live_server: LiveServer, people: Any, inbox: Inbox
) -> None:
    system = live_server.system
    clock: Any = system.clock
    receipt = subscribe(system, ANNA, clock.now())
    subject = pseudonym_of(system, ANNA)
    anna = people()
    anna.ask(ANNA)
    path = inbox.last_to(ANNA_NORMALISED).path
    assert anna.redeem(path).status_code == 303

    stopped = anna.act("stop-marketing")
    assert stopped.status_code == 303 and "done=marketing" in stopped.headers["location"]
    with system.database.reading() as c:
        ledger = ConsentLedger(c)
        assert not ledger.current(subject, "newsletter_subscribed", clock.now()).given
        assert {e.purpose for e in ledger.events_of(subject) if e.kind.value == "withdrawn"} == {
            "newsletter_subscribed",
            "newsletter_tracking",
        }
        [withdrawal] = RightsRequests(c).of_subject(subject)
    assert withdrawal.request.kind is RequestKind.CONSENT_WITHDRAWAL
    assert withdrawal.request.state is RequestState.COMPLETED
    assert withdrawal.detail == {"via": "email-link", "activities": ["newsletter_subscribed", "newsletter_tracking"]}
    assert "Recorded: we will not use this address for any marketing." in anna.open(stopped.headers["location"]).text

    # Erasure: every store about the address is handled by its declared rule.  Today they
    # all rest on a legal obligation (the proof of consent, Art. 7(1); the requests and
    # their audit trail, Art. 5(2)), so they are kept for that reason alone and she is
    # told which and why (Art. 17(3)(b)); a newsletter store that lands later is erased.
    erased = anna.act("erase")
    assert erased.status_code == 303 and "done=erasure" in erased.headers["location"]
    with system.database.reading() as c:
        assert receipt in {e.record_id for e in ConsentLedger(c).events_of(subject)}
        requests = {r.request.kind: r for r in RightsRequests(c).of_subject(subject)}
        journal = list(c.execute(sa.text("SELECT subject, request_id FROM erasure_journal")))
    erasure = requests[RequestKind.ERASURE]
    assert erasure.request.state is RequestState.COMPLETED
    assert [tuple(j) for j in journal] == [(subject, erasure.id)]
    assert "rights.erased" in _audit_kinds(live_server, subject)
    page = html.unescape(main_of(anna.open(erased.headers["location"]).text))
    assert "What we held about this address in our services has been erased." in page
    assert "Nothing was held in our services that could be erased." in page
    assert "Kept: consent_event" in page and "Art. 7(1) GDPR" in page and "Art. 17(3)(b)" in page
    assert "Kept: rights_request" in page
    # The used link is kept as a record (Art. 17(3)(b)), so it stays used.
    assert [r.subject for r in _redemptions(live_server)] == [subject]
    assert anna.open(path).status_code == 403


@pytest.mark.promise("R-13")
@pytest.mark.parametrize(
    ("lang", "subject", "page_text"),
    [
        ("de", "Ihr Link zu dem, was wir zu dieser E-Mail-Adresse speichern", "Zeigen, was Sie speichern"),
        ("nl", "Uw link naar wat wij over dit e-mailadres bewaren", "Toon wat u bewaart"),
        ("en", "Your link to what we hold about this e-mail address", "Show what you hold"),
    ],
)
def test_the_mail_and_the_pages_speak_the_language_the_page_was_used_in(
    live_server: LiveServer, people: Any, inbox: Inbox, lang: str, subject: str, page_text: str
) -> None:
    person = people()
    answer = person.ask(NOBODY, lang=lang)
    assert answer.headers["content-language"] == lang
    mail = inbox.last_to(NOBODY)
    assert mail.message["Subject"] == subject
    assert mail.message["Content-Language"] == lang
    assert f"open?lang={lang}&t=" in mail.link
    assert "30" in mail.body and mail.link in mail.body
    confirm = person.open(mail.path)
    assert confirm.headers["content-language"] == lang and page_text in confirm.text


@pytest.mark.promise("R-13")
def test_what_is_not_an_address_is_refused_without_a_mail(live_server: LiveServer, people: Any, inbox: Inbox) -> None:
    person = people()
    for text in ("", "not an address", "a@b", "anna@[192.0.2.1]", "x" * 300 + "@example.org", "a\r\nBcc: b@x.de@x.de"):
        answer = person.ask(text)
        assert answer.status_code == 422, text
        assert "This is not an e-mail address we can send a link to." in answer.text
    assert inbox.received == []
