"""Test messages for RFC 4475 §3.2 (transaction layer), §3.3 (application layer) and §3.4
(backward compatibility), written for this project like those in torture.py."""

from __future__ import annotations

from tests.edges.sip.core.torture import SDP, SDP_LENGTH, request, sip

# --- §3.2 transaction layer, §3.3 application layer, §3.4 backward compatibility ----------

# §3.2.1 badbranch: a branch that is only the magic cookie.
BADBRANCH = request("OPTIONS sip:someone@example.test SIP/2.0", "Via: SIP/2.0/UDP 198.51.100.31;branch=z9hG4bK")

# §3.3.1 insuf: no Call-ID, From or To (and no Max-Forwards).
INSUF = sip(
    "INVITE sip:someone@example.test SIP/2.0",
    "CSeq: 193942 INVITE",
    "Via: SIP/2.0/UDP 198.51.100.32;branch=z9hG4bKinsuf",
    "Content-Type: application/sdp",
    f"l: {SDP_LENGTH}",
    body=SDP,
)

# §3.3.2 unkscm: a Request-URI of an unknown scheme.
UNKSCM = request("OPTIONS nobodyHasThisScheme:entirely-opaque-stuff SIP/2.0")

# §3.3.3 novelsc: a Request-URI of a known scheme a SIP element does not handle.
NOVELSC = request("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0")

# §3.3.4 unksm2: unknown schemes in To, From and Contact.
UNKSM2 = request(
    "REGISTER sip:example.test SIP/2.0",
    "To: isbn:2983792873",
    "From: <http://www.example.test>;tag=u2",
    "Contact: <name:Jo_Bloggs>",
)

# §3.3.5 bext01: option tags nobody supports.
BEXT01 = request(
    "OPTIONS sip:someone@example.test SIP/2.0",
    "Require: nothingSupportsThis, nothingSupportsThisEither",
    "Proxy-Require: noProxySupportsThis, norThisOne",
)

# §3.3.6 invut: an unknown Content-Type.
INVUT_BODY = b'<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n'
INVUT = request("INVITE sip:someone@example.test SIP/2.0", "Content-Type: application/unknownformat", body=INVUT_BODY)

# §3.3.7 regaut01: an unknown authorization scheme (and Content-Length without a space).
REGAUT01 = request(
    "REGISTER sip:example.test SIP/2.0",
    "Authorization: NobodyKnowsThisScheme opaque-data=here",
    "Content-Length:0",
)

# §3.3.8 multi01: single-valued fields given twice.
MULTI01 = sip(
    "INVITE sip:someone@company.example SIP/2.0",
    "Contact: <sip:caller@h25.example.net>",
    "Via: SIP/2.0/UDP 198.51.100.38;branch=z9hG4bKmulti",
    "Max-Forwards: 70",
    "CSeq: 5 INVITE",
    "Call-ID: multi01.one@198.51.100.38",
    "CSeq: 59 INVITE",
    "Call-ID: multi01.two@198.51.100.39",
    "From: sip:caller@example.test;tag=m1",
    "To: sip:someone@example.test",
    "To: sip:other@example.net",
    "From: sip:caller@example.net;tag=m2",
    "Max-Forwards: 5",
    "l: 0",
)

# §3.3.9 mcl01: two Content-Length fields.
MCL01 = request(
    "OPTIONS sip:someone@example.test SIP/2.0",
    "Content-Length: 13",
    "Content-Length: 5",
    "Content-Type: text/plain",
    body=b"There is no way to know how many octets are meant.\r\n",
)

# §3.3.10 bcast: a response whose second Via is the broadcast address.
BCAST = sip(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 198.51.100.40;branch=z9hG4bKbcast1",
    "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKbcast2",
    "Call-ID: bcast.p0o9",
    "CSeq: 35 INVITE",
    "From: sip:caller@example.test;tag=bc1",
    "To: sip:someone@example.test;tag=bc2",
    "Content-Length: 0",
)

# §3.3.11 zeromf: Max-Forwards of zero on a request addressed to the element itself.
ZEROMF = request("OPTIONS sip:someone@example.test SIP/2.0", "Max-Forwards: 0")

# §3.3.12 cparam01: a Contact without brackets: the parameter is the Contact's.
CPARAM01 = request("REGISTER sip:example.test SIP/2.0", "Contact: sip:+19725550100@gw1.example.net;unknownparam")

# §3.3.13 cparam02: the same in brackets: the parameter is the URI's.
CPARAM02 = request("REGISTER sip:example.test SIP/2.0", "Contact: <sip:+19725550100@gw1.example.net;unknownparam>")

# §3.3.14 regescrt: a Contact URI with an escaped header (compact m and l, no space).
REGESCRT = request(
    "REGISTER sip:example.test SIP/2.0",
    "M: <sip:user@example.test?Route=%3Csip:sip.example.test%3E>",
    "L:0",
)

# §3.3.15 sdp01: an Accept that excludes the body the request carries.
SDP01 = request(
    "INVITE sip:someone@example.test SIP/2.0",
    "Accept: text/nobodyKnowsThis",
    "Content-Type: application/sdp",
    body=SDP,
)

# §3.4.1 inv2543: RFC 2543 syntax: no branch, no Max-Forwards, no Content-Length, user=phone.
INV2543 = sip(
    "INVITE sip:UserB@example.test SIP/2.0",
    "Via: SIP/2.0/UDP iftgw.example.test",
    "From: <sip:+13035550111@ift.client.example.net;user=phone>",
    "Record-Route: <sip:UserB@example.test;maddr=ss1.example.test>",
    "To: sip:+16505550122@ss1.example.net;user=phone",
    "Call-ID: inv2543.1717@ift.client.example.test",
    "CSeq: 56 INVITE",
    "Content-Type: application/sdp",
    body=SDP,
)

SEMANTIC = {
    "badbranch": BADBRANCH,
    "insuf": INSUF,
    "unkscm": UNKSCM,
    "novelsc": NOVELSC,
    "unksm2": UNKSM2,
    "bext01": BEXT01,
    "invut": INVUT,
    "regaut01": REGAUT01,
    "multi01": MULTI01,
    "mcl01": MCL01,
    "bcast": BCAST,
    "zeromf": ZEROMF,
    "cparam01": CPARAM01,
    "cparam02": CPARAM02,
    "regescrt": REGESCRT,
    "sdp01": SDP01,
    "inv2543": INV2543,
}
