"""The registrar (RFC 3261 §10.3), driven with parsed REGISTERs, a datetime `now` and no sleeping."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from privateline.edges.sip.core import (
    Address,
    AuthLimits,
    Binding,
    Device,
    DigestServer,
    MemoryBindings,
    Registrar,
    RegistrarSettings,
    Request,
    Response,
    SipUri,
    parse_message,
)
from privateline.edges.sip.core.auth import Credentials
from privateline.edges.sip.core.fields import parse_date

REALM = "sip.example.test"
USER = "4930123456"
OTHER = "4930999999"
OFF = "4930000000"
PASSWORD = "s3cret-pass"
SOURCE = ("203.0.113.7", 40512)
T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)


def ha1(algorithm: str, user: str, password: str = PASSWORD) -> str:
    return hashlib.new(algorithm, f"{user}:{REALM}:{password}".encode()).hexdigest()


def device(user: str, *, voip: bool = True) -> Device:
    return Device(ha1_md5=ha1("md5", user), ha1_sha256=ha1("sha256", user), voip_enabled=voip)


DEVICES = {USER: device(USER), OTHER: device(OTHER), OFF: device(OFF, voip=False)}


class Setup:
    def __init__(
        self, *, default_expires: int = 3600, min_expires: int = 60, max_expires: int = 7200, max_contacts: int = 10
    ) -> None:
        self.bindings = MemoryBindings()
        self.digest = DigestServer(realm=REALM, secret=b"registrar-test-secret-0123")
        self.registrar = Registrar(
            RegistrarSettings(
                domains=(REALM, "192.0.2.10"),
                realm=REALM,
                default_expires=default_expires,
                min_expires=min_expires,
                max_expires=max_expires,
                max_contacts=max_contacts,
            ),
            self.digest,
            DEVICES.get,
            self.bindings,
            new_tag=lambda: "regtag",
        )
        self.nc = 0

    def send(self, request: Request, now: datetime = T0) -> Response:
        return self.registrar.process(request, now=now, source=SOURCE)

    def register(
        self,
        *contacts: str,
        user: str = USER,
        auth_user: str | None = None,
        password: str = PASSWORD,
        expires: str | None = None,
        cseq: int = 1,
        call_id: str = "reg-1@203.0.113.7",
        now: datetime = T0,
        extra: tuple[str, ...] = (),
    ) -> Response:
        """Send a REGISTER, answer the 401 with digest credentials as a phone would, and return the answer."""
        lines = register_lines(*contacts, user=user, expires=expires, cseq=cseq, call_id=call_id, extra=extra)
        first = self.send(request(lines), now)
        if first.status != 401:
            return first
        challenge = first.www_authenticate[0]
        assert challenge.nonce is not None
        self.nc += 1
        credentials = digest_answer(
            challenge.algorithm, auth_user or user, password, challenge.nonce, nc=f"{self.nc:08x}"
        )
        return self.send(request([*lines, f"Authorization: {credentials}"]), now)


def register_lines(
    *contacts: str,
    user: str = USER,
    expires: str | None = None,
    cseq: int = 1,
    call_id: str = "reg-1@203.0.113.7",
    uri: str = f"sip:{REALM}",
    extra: tuple[str, ...] = (),
) -> list[str]:
    lines = [
        f"REGISTER {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 203.0.113.7:40512;branch=z9hG4bK" + f"{cseq}x{call_id[:5]}",
        "Max-Forwards: 70",
        f"To: <sip:{user}@{REALM}>",
        f"From: <sip:{user}@{REALM}>;tag=ph1",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        "User-Agent: TestPhone/1.0",
        *(f"Contact: {c}" for c in contacts),
        *extra,
    ]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    return lines


def request(lines: list[str]) -> Request:
    message = parse_message(("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def digest_answer(algorithm: str, user: str, password: str, nonce: str, *, nc: str) -> Credentials:
    """RFC 2617 §3.2.2.1 with qop=auth, computed here from the formula."""
    name = {"MD5": "md5", "SHA-256": "sha256"}[algorithm]

    def h(text: str) -> str:
        return hashlib.new(name, text.encode()).hexdigest()

    uri, cnonce = f"sip:{REALM}", "c0ffee"
    response = h(f"{h(f'{user}:{REALM}:{password}')}:{nonce}:{nc}:{cnonce}:auth:{h(f'REGISTER:{uri}')}")
    return Credentials.digest(
        username=user,
        realm=REALM,
        nonce=nonce,
        uri=uri,
        response=response,
        algorithm=algorithm,
        cnonce=cnonce,
        qop="auth",
        nc=nc,
    )


def contacts(response: Response) -> dict[str, Address]:
    found = response.contact
    assert isinstance(found, tuple)
    return {str(a.uri): a for a in found}


PHONE = "<sip:4930123456@203.0.113.7:40512;transport=udp>"
PHONE_URI = "sip:4930123456@203.0.113.7:40512;transport=udp"
DESK = "<sip:4930123456@198.51.100.5:5060>"
DESK_URI = "sip:4930123456@198.51.100.5:5060"


def test_unauthenticated_register_is_challenged() -> None:
    s = Setup()
    answer = s.send(request(register_lines(PHONE)))
    assert answer.status == 401
    assert [c.algorithm for c in answer.www_authenticate] == ["SHA-256", "MD5"]
    assert all(c.realm == REALM and c.qop_options == ("auth",) for c in answer.www_authenticate)
    assert answer.to is not None and answer.to.tag == "regtag"
    assert s.bindings.by_user == {}


def test_authenticated_register_binds_and_answers_with_expires_and_date() -> None:
    s = Setup()
    answer = s.register(PHONE, expires="1800")
    assert (answer.status, answer.reason) == (200, "OK")
    assert {uri: a.expires for uri, a in contacts(answer).items()} == {PHONE_URI: 1800}
    assert answer.date == T0
    assert answer.call_id == "reg-1@203.0.113.7"
    (binding,) = s.bindings.current(USER, T0.timestamp())
    assert binding.source == SOURCE and binding.user_agent == "TestPhone/1.0"
    assert (binding.call_id, binding.cseq) == ("reg-1@203.0.113.7", 1)
    assert binding.registered_at == T0.timestamp()
    assert binding.expires_at == T0.timestamp() + 1800


def test_md5_only_phone_also_registers() -> None:
    s = Setup()
    first = s.send(request(register_lines(PHONE)))
    md5 = next(c for c in first.www_authenticate if c.algorithm == "MD5")
    assert md5.nonce is not None
    credentials = digest_answer("MD5", USER, PASSWORD, md5.nonce, nc="00000001")
    answer = s.send(request([*register_lines(PHONE), f"Authorization: {credentials}"]))
    assert answer.status == 200


def test_default_and_maximum_expiry() -> None:
    s = Setup(default_expires=3600, max_expires=7200)
    assert contacts(s.register(PHONE))[PHONE_URI].expires == 3600
    assert contacts(s.register(PHONE, expires="99999", cseq=2))[PHONE_URI].expires == 7200  # §10.3 step 7


def test_below_min_expires_gets_423() -> None:
    s = Setup(min_expires=60)
    answer = s.register(PHONE, expires="30")
    assert answer.status == 423
    assert answer.min_expires == 60
    assert s.register(f"{PHONE};expires=59", expires="3600").status == 423
    assert s.bindings.by_user == {}


def test_several_contacts_with_q_and_their_own_expires() -> None:
    s = Setup()
    answer = s.register(f"{PHONE};q=0.8", f"{DESK};q=0.1;expires=600", expires="1200")
    assert answer.status == 200
    found = contacts(answer)
    assert {uri: (a.q, a.expires) for uri, a in found.items()} == {PHONE_URI: (0.8, 1200), DESK_URI: (0.1, 600)}
    assert len(s.bindings.current(USER, T0.timestamp())) == 2


def test_refresh_updates_the_binding_and_a_query_lists_it() -> None:
    s = Setup()
    s.register(PHONE, expires="600")
    later = T0 + timedelta(seconds=500)
    answer = s.register(PHONE, expires="600", cseq=2, now=later)
    assert contacts(answer)[PHONE_URI].expires == 600
    (binding,) = s.bindings.current(USER, later.timestamp())
    assert (binding.cseq, binding.registered_at) == (2, later.timestamp())
    # §10.2.3: no Contact is a query; remaining time counts down.
    query = s.register(cseq=3, now=later + timedelta(seconds=100))
    assert contacts(query)[PHONE_URI].expires == 500


def test_expiry_removes_bindings() -> None:
    s = Setup()
    s.register(PHONE, expires="600")
    s.register(DESK, expires="3600", call_id="desk-1")
    at = (T0 + timedelta(seconds=601)).timestamp()
    assert [str(b.contact) for b in s.bindings.current(USER, at)] == [DESK_URI]
    gone = s.bindings.expired(at)
    assert [str(b.contact) for b in gone] == [PHONE_URI]
    assert len(s.bindings.by_user[USER]) == 1
    assert s.bindings.expired((T0 + timedelta(seconds=3601)).timestamp())
    assert s.bindings.by_user == {}


def test_expires_zero_removes_one_binding() -> None:
    s = Setup()
    s.register(PHONE, DESK, expires="600")
    answer = s.register(f"{PHONE};expires=0", cseq=2)
    assert answer.status == 200
    assert list(contacts(answer)) == [DESK_URI]


def test_contact_star_with_expires_zero_removes_all() -> None:
    s = Setup()
    s.register(PHONE, expires="600")
    s.register(DESK, expires="600", call_id="desk-1")
    answer = s.register("*", expires="0", cseq=5)
    assert answer.status == 200
    assert answer.contact == ()
    assert s.bindings.current(USER, T0.timestamp()) == ()


@pytest.mark.parametrize("expires", ["3600", None])
def test_contact_star_without_expires_zero_is_400(expires: str | None) -> None:
    s = Setup()
    s.register(PHONE, expires="600")
    assert s.register("*", expires=expires, cseq=2).status == 400
    assert len(s.bindings.current(USER, T0.timestamp())) == 1


def test_out_of_order_cseq_changes_nothing() -> None:
    """§10.3 step 7: same Call-ID and a CSeq not higher: the update is aborted."""
    s = Setup()
    s.register(PHONE, expires="600", cseq=5)
    old = s.register(PHONE, DESK, expires="1200", cseq=4)
    assert old.status == 400
    (binding,) = s.bindings.current(USER, T0.timestamp())
    assert (binding.cseq, binding.expires_at) == (5, T0.timestamp() + 600)
    assert s.register("*", expires="0", cseq=5).status == 400
    # Another Call-ID (the phone rebooted) may start again from a lower CSeq.
    assert s.register(PHONE, expires="900", cseq=1, call_id="reboot-1").status == 200


def test_unknown_device_is_404() -> None:
    s = Setup()
    answer = s.register(PHONE, user="4930555555")
    assert (answer.status, answer.reason) == (404, "Not Found (unknown device)")


def test_voip_off_device_is_403() -> None:
    s = Setup()
    answer = s.register(PHONE, user=OFF)
    assert (answer.status, answer.reason) == (403, "Forbidden (VoIP is off for this device)")
    assert s.bindings.by_user == {}


def test_wrong_password_is_403() -> None:
    s = Setup()
    answer = s.register(PHONE, password="wrong-password")
    assert (answer.status, answer.reason) == (403, "Forbidden (wrong credentials)")


def test_to_user_must_be_the_authenticated_user() -> None:
    s = Setup()
    answer = s.register(PHONE, user=OTHER, auth_user=USER)
    assert (answer.status, answer.reason) == (403, "Forbidden (To is not the authenticated user)")


def test_stale_nonce_gets_stale_challenge() -> None:
    s = Setup()
    first = s.send(request(register_lines(PHONE)))
    nonce = first.www_authenticate[0].nonce
    assert nonce is not None
    credentials = digest_answer("SHA-256", USER, PASSWORD, nonce, nc="00000001")
    answer = s.send(request([*register_lines(PHONE), f"Authorization: {credentials}"]), T0 + timedelta(minutes=10))
    assert answer.status == 401
    assert answer.www_authenticate[0].stale
    # A replay of an accepted request gets a fresh challenge, not a binding.
    ok = s.send(request([*register_lines(PHONE), f"Authorization: {credentials}"]))
    assert ok.status == 200
    again = s.send(request([*register_lines(PHONE, cseq=2), f"Authorization: {credentials}"]))
    assert again.status == 401 and not again.www_authenticate[0].stale


def test_request_uri_of_another_domain_is_404() -> None:
    s = Setup()
    answer = s.send(request(register_lines(PHONE, uri="sip:elsewhere.test")))
    assert answer.status == 404
    assert s.send(request(register_lines(PHONE, uri="sip:192.0.2.10"))).status == 401


def test_unknown_require_gets_420_with_unsupported() -> None:
    s = Setup()
    answer = s.send(request(register_lines(PHONE, extra=("Require: foo, bar",))))
    assert answer.status == 420
    assert answer.unsupported == ("foo", "bar")


def test_malformed_fields_get_400() -> None:
    s = Setup()
    answer = s.send(request([*register_lines(PHONE), "Authorization: Digest username"]))
    assert answer.status == 400
    # A malformed expires parameter is ignored (§20.19), the Expires field applies.
    ok = s.register(f"{PHONE};expires=soon", expires="900")
    assert contacts(ok)[PHONE_URI].expires == 900


def test_date_header_round_trips() -> None:
    s = Setup()
    answer = s.register(PHONE)
    value = answer.headers.get_all("Date")
    assert len(value) == 1 and parse_date(value[0]) == T0


def test_settings_and_time_are_checked() -> None:
    with pytest.raises(ValueError, match="min_expires"):
        RegistrarSettings(domains=(REALM,), realm=REALM, min_expires=0)
    s = Setup()
    with pytest.raises(ValueError, match="aware"):
        s.registrar.process(request(register_lines(PHONE)), now=datetime(2027, 1, 1), source=SOURCE)  # noqa: DTZ001
    assert SipUri(host=REALM).host == REALM


def test_an_equal_contact_twice_in_one_request_keeps_the_last() -> None:
    s = Setup()
    answer = s.register(f"{PHONE};expires=600", f"{PHONE};expires=900")
    assert answer.status == 200
    assert {uri: a.expires for uri, a in contacts(answer).items()} == {PHONE_URI: 900}


def test_contacts_are_matched_by_uri_equivalence() -> None:
    """§10.3 step 7 with §19.1.4: the host is case-insensitive."""
    s = Setup()
    s.register("<sip:4930123456@Desk.Example.Test>", expires="600")
    answer = s.register("<sip:4930123456@desk.example.test>", expires="900", cseq=2)
    assert [a.expires for a in contacts(answer).values()] == [900]
    answer = s.register("<sip:4930123456@DESK.example.test>;expires=0", cseq=3)
    assert answer.contact == ()


def test_other_methods_and_incomplete_requests() -> None:
    s = Setup()
    options = register_lines(PHONE)
    options[0] = f"OPTIONS sip:{REALM} SIP/2.0"
    options[6] = "CSeq: 1 OPTIONS"
    answer = s.send(request(options))
    assert answer.status == 405 and answer.allow == ("REGISTER",)
    no_to = [line for line in register_lines(PHONE) if not line.startswith("To:")]
    assert (s.send(request(no_to)).status, s.send(request(no_to)).reason) == (400, "Missing To")


def test_the_binding_keeps_the_transport_the_register_came_over() -> None:
    s = Setup()
    lines = register_lines(PHONE)
    first = s.registrar.process(request(lines), now=T0, source=SOURCE, transport="TLS")
    nonce = first.www_authenticate[0].nonce
    assert nonce is not None
    credentials = digest_answer("SHA-256", USER, PASSWORD, nonce, nc="00000001")
    answer = s.registrar.process(
        request([*lines, f"Authorization: {credentials}"]), now=T0, source=SOURCE, transport="TLS"
    )
    assert answer.status == 200
    (binding,) = s.bindings.current(USER, T0.timestamp())
    assert binding.transport == "tls"
    assert Setup().register(PHONE).status == 200  # the default is UDP
    assert Binding.__dataclass_fields__["transport"].default == "udp"
    assert list(Binding.__dataclass_fields__)[-1] == "transport"  # the last field (stored by others)


@pytest.mark.promise("DEV-3")
def test_failed_attempts_are_limited_and_a_blocked_number_is_not_checked() -> None:
    s = Setup()
    limits = AuthLimits(per_source=100, per_number=2, window=timedelta(minutes=1))
    s.registrar = Registrar(
        s.registrar.settings, s.digest, DEVICES.get, s.bindings, new_tag=lambda: "regtag", limits=limits
    )
    for _ in range(2):
        assert s.register(PHONE, password="wrong-password").status == 403
    blocked = s.register(PHONE)
    assert (blocked.status, blocked.reason) == (403, "Forbidden (too many failed attempts)")
    assert s.register(PHONE, user=OTHER).status == 200  # another number is not blocked
    later = T0 + timedelta(seconds=61)
    assert s.register(PHONE, now=later, cseq=5).status == 200
    with pytest.raises(ValueError, match="positive"):
        AuthLimits(per_source=0)


def nat_port(port: int) -> str:
    """The phone's Contact as it learns it from its router: a new public port, a new URI."""
    return f"<sip:4930123456@203.0.113.7:{port}>"


@pytest.mark.promise("DEV-4")
def test_a_phone_whose_router_changes_its_port_keeps_only_the_newest_bindings() -> None:
    # DEV-4: a binding nobody will reach again is not kept until it expires.
    s = Setup(max_contacts=3)
    for n, port in enumerate(range(40001, 40006), start=1):
        answer = s.register(nat_port(port), cseq=n, now=T0 + timedelta(seconds=n))
        assert answer.status == 200
    # The three registered last stay; the 200 lists exactly them.
    assert sorted(contacts(answer)) == [f"sip:4930123456@203.0.113.7:{p}" for p in (40003, 40004, 40005)]
    stored = s.bindings.current(USER, (T0 + timedelta(seconds=10)).timestamp())
    assert sorted(str(b.contact) for b in stored) == sorted(contacts(answer))


def test_a_refreshed_binding_counts_as_newest_and_a_request_for_too_many_is_refused() -> None:
    s = Setup(max_contacts=2)
    assert s.register(PHONE, cseq=1, now=T0).status == 200
    assert s.register(DESK, cseq=2, now=T0 + timedelta(seconds=1)).status == 200
    # PHONE refreshed: DESK is now the oldest and gives way to the third contact.
    assert s.register(PHONE, cseq=3, now=T0 + timedelta(seconds=2)).status == 200
    answer = s.register(nat_port(40001), cseq=4, now=T0 + timedelta(seconds=3))
    assert sorted(contacts(answer)) == sorted([PHONE_URI, "sip:4930123456@203.0.113.7:40001"])
    # One REGISTER asking for more than the limit changes nothing.
    before = s.bindings.current(USER, T0.timestamp())
    refused = s.register(nat_port(40002), nat_port(40003), nat_port(40004), cseq=5, now=T0 + timedelta(seconds=4))
    assert (refused.status, refused.reason) == (403, "Forbidden (more than 2 contacts)")
    assert s.bindings.current(USER, T0.timestamp()) == before
    with pytest.raises(ValueError, match="max_contacts"):
        RegistrarSettings(domains=(REALM,), realm=REALM, max_contacts=0)
