"""Test messages for the cases of RFC 4475 ("SIP Torture Test Messages").

Each message is written for this project: it plays the same trick as the RFC case it is named
after (its section beside it), with its own names, hosts and values.  `test_torture.py`
asserts what the RFC says about each; the fuzz tests mutate them.
"""

from __future__ import annotations

SDP = (
    b"v=0\r\n"
    b"o=- 4711 4711 IN IP4 198.51.100.7\r\n"
    b"s=-\r\n"
    b"c=IN IP4 198.51.100.7\r\n"
    b"t=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 8\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
)
SDP_LENGTH = str(len(SDP))


def sip(*lines: str, body: bytes = b"") -> bytes:
    """The lines joined by CRLF, the empty line, then the body."""
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


# --- §3.1.1 valid messages -------------------------------------------------------------

# §3.1.1.1 wsinv: odd case and whitespace, folding everywhere, compact forms, escaped quotes,
# several Via values on one line, an unknown field full of separators.
WSINV = sip(
    "INVITE sip:carol@lab.example.test;oddparam SIP/2.0",
    "tO  :",
    " sip:carol@lab.example.test ;   tag   =  8a7b6c",
    r'fROM   : "Dan \"the\" \\ Man"     <sip:dan@example.test>',
    "   ;",
    "  tag = 55xk1",
    "mAX-fORWARDS: 0042",
    "Call-ID: torture-wsinv.81x@198.51.100.7",
    f"Content-Length    : {SDP_LENGTH}",
    "CSEQ: 00017",
    "   INVITE",
    "Via  : SIP  /   2.0",
    " /TCP",
    " 198.51.100.7;branch=z9hG4bKwsinv1",
    "s :",
    "X-Folded-Thing:   first part",
    "  second part",
    "X-Weird-Value: ;;,,;,;",
    "c: application/sdp",
    "Route:",
    " <sip:edge.example.test;lr;flavour=mint;flagged>",
    "v:  SIP  / 2.0  / UDP     relay.example.test   ;",
    "  branch  =   z9hG4bKrelay7  ,",
    " SIP  /    2.0   / TCP  203.0.113.9   ; branch=",
    " z9hG4bKinner3",
    r'm:"Quoted \"name\" here" <sip:dan@example.test> ; extra =',
    "      thing ;",
    "  bare ; q = 0.7",
    body=SDP,
)

# §3.1.1.2 intmeth: the whole range of token, user, password and word characters; control
# characters as quoted-pairs in a display name; UTF-8 in a quoted parameter and a field value.
INTMETH_METHOD = "!odd-Method_9*+`.%tok'~"
INTMETH_USER = "u_1.odd~(yes!)&isn't+so$/odd?,/;;*"
INTMETH_PASSWORD = "&pw+is=2,strange!*p$wd~_.(ok)"
INTMETH_CALL_ID = "intmeth.w%ZK-!.*_+'@w`~)(><:\\/\"][?}{"
INTMETH = sip(
    f"{INTMETH_METHOD} sip:{INTMETH_USER}:{INTMETH_PASSWORD}@example.test SIP/2.0",
    "Via: SIP/2.0/TCP h1.example.test;branch=z9hG4bK-.!%66*_+`'~",
    'To: "bell\\\x07 null\\\x00 delete\\\x7f" <sip:' + INTMETH_USER + "@example.test>",
    "From: tok1~` tok2'+_ tok3*%!.- <sip:plain@example.test>;odd''~+*_!.-%=\"привет мир\";tag=_t~1'+`*%!-.",
    f"Call-ID: {INTMETH_CALL_ID}",
    f"CSeq: 2019 {INTMETH_METHOD}",
    "Max-Forwards: 255",
    "x-ext-!.%*+_`'~: \ufeff東京の夜",
    "Content-Length: 0",
)

# §3.1.1.3 esc01: %-escapes in user parts and in URI parameter names and values.
ESC01 = sip(
    "INVITE sip:sips%3Aalice%40example.test@example.net SIP/2.0",
    "To: sip:%62ob@example.test",
    "From: <sip:I%20am%20spacey@example.net>;tag=e5c",
    "Max-Forwards: 70",
    "Call-ID: esc01.k3j4@198.51.100.7",
    "CSeq: 9 INVITE",
    "Via: SIP/2.0/UDP host9.example.net;branch=z9hG4bKesc01",
    "Contact: <sip:c%61ller@host7.example.net;%6C%72;fl%61vour=v%61nill%61%25%32%35>",
    "Content-Type: application/sdp",
    f"Content-Length: {SDP_LENGTH}",
    body=SDP,
)

# §3.1.1.4 escnull: escaped NULs in user parts; two Contacts that differ only in them.
ESCNULL = sip(
    "REGISTER sip:example.test SIP/2.0",
    "To: sip:nul-%00-nul@example.test",
    "From: sip:nul-%00-nul@example.test;tag=3nul",
    "Call-ID: escnull.p0q9@198.51.100.8",
    "Max-Forwards: 70",
    "CSeq: 1 REGISTER",
    "Via: SIP/2.0/UDP 198.51.100.8;branch=z9hG4bKescnull",
    "Contact: <sip:%00@host1.example.test>, <sip:%00%00@host2.example.test>",
    "L: 0",
)

# §3.1.1.5 esc02: "%" in tokens is not an escape: the method is not REGISTER, the field
# C%6Fntact is not Contact.
ESC02 = sip(
    "RE%47IST%45R sip:registrar.example.test SIP/2.0",
    'To: "%Z%45" <sip:res@example.test>',
    'From: "%Z%45" <sip:res@example.test>;tag=z45',
    "Call-ID: esc02.n3kd92jd",
    "Via: SIP/2.0/TCP h.example.test;branch=z9hG4bK77%fq",
    "CSeq: 41 RE%47IST%45R",
    "Max-Forwards: 70",
    "Contact: <sip:one@h1.example.test>",
    "C%6Fntact: <sip:two@h2.example.test>",
    "Contact: <sip:three@h3.example.test>",
    "l: 0",
)

# §3.1.1.6 lwsdisp: no whitespace between a display name and "<".
LWSDISP = sip(
    "OPTIONS sip:someone@example.test SIP/2.0",
    "To: sip:someone@example.test",
    "From: caller<sip:caller@example.test>;tag=77",
    "Max-Forwards: 70",
    "Call-ID: lwsdisp.ab12",
    "CSeq: 3 OPTIONS",
    "Via: SIP/2.0/UDP fancy.example.test;branch=z9hG4bKlwsdisp",
    "l: 0",
)

# §3.1.1.7 longreq: very long values, and 40 Via fields spelt in every case, long and compact.
LONG_DISPLAY = "a name of " + "enormous" * 12 + " length"
LONG_TAG = "t" + "9876" * 60
LONG_CALL_ID = "longreq." + "very" * 50 + "long"
LONG_BRANCH = "z9hG4bK" + "branch" * 60
LONG_USER = "caller" * 30
_VIA_NAMES = ["Via", "v", "V", "VIA", "via", "vIa", "ViA", "V ", "v  ", "Via   "]
LONGREQ = sip(
    "INVITE sip:someone@example.test SIP/2.0",
    f'To: "{LONG_DISPLAY}"<sip:someone@example.test:7000;p1=very{"long" * 30}value;name{"x" * 90}=v>',
    f"f: sip:{LONG_USER}@example.net;tag={LONG_TAG};unknown{'p' * 80}={'q' * 80};flag{'r' * 80}",
    f"Call-ID: {LONG_CALL_ID}",
    "CSeq: 31337 INVITE",
    f"X-{'Long' * 25}-Name: {'value' * 40};{'param' * 20} = {'pvalue' * 20}",
    *[f"{_VIA_NAMES[i % len(_VIA_NAMES)]}: SIP/2.0/TCP hop{i}.example.test" for i in range(39)],
    f"Via: SIP/2.0/TCP last.example.test;received=192.0.2.5;branch={LONG_BRANCH}",
    "Max-Forwards: 70",
    f"Contact: <sip:{LONG_USER}@host5.example.net>",
    "Content-Type: application/sdp",
    f"l: {SDP_LENGTH}",
    body=SDP,
)

# §3.1.1.8 dblreq: a second request after the first one's Content-Length, in one datagram.
DBLREQ_FIRST = sip(
    "REGISTER sip:example.test SIP/2.0",
    "To: sip:j.doe@example.test",
    "From: sip:j.doe@example.test;tag=db1",
    "Max-Forwards: 8",
    "I: dblreq.first@198.51.100.9",
    "Contact: sip:j.doe@host.example.test",
    "CSeq: 8 REGISTER",
    "Via: SIP/2.0/UDP 198.51.100.9;branch=z9hG4bKdbl1",
    "Content-Length: 0",
)
DBLREQ = (
    DBLREQ_FIRST
    + b"\r\n"
    + sip(
        "INVITE sip:j.doe@example.test SIP/2.0",
        "t: sip:j.doe@example.test",
        "From: sip:other@example.net;tag=db2",
        "Max-Forwards: 8",
        "Call-ID: dblreq.second@198.51.100.10",
        "CSeq: 8 INVITE",
        "Via: SIP/2.0/UDP 198.51.100.10;branch=z9hG4bKdbl2",
        "Content-Type: application/sdp",
        f"Content-Length: {SDP_LENGTH}",
        body=SDP,
    )
)

# §3.1.1.9 semiuri: semicolons (and an escaped "@") in the user part of the Request-URI.
SEMIURI = sip(
    "OPTIONS sip:user;par=u%40example.test@example.com SIP/2.0",
    "To: sip:j_user@example.com",
    "From: sip:caller@example.org;tag=s3mi",
    "Max-Forwards: 3",
    "Call-ID: semiuri.xk3",
    "CSeq: 8 OPTIONS",
    "Accept: application/sdp, application/pkcs7-mime,",
    "        multipart/mixed, multipart/signed,",
    "        message/sip, message/sipfrag",
    "Via: SIP/2.0/UDP 198.51.100.11;branch=z9hG4bKsemi",
    "l: 0",
)

# §3.1.1.10 transports: known and unknown transports in Via.
TRANSPORTS = sip(
    "OPTIONS sip:someone@example.test SIP/2.0",
    "To: sip:someone@example.test",
    "From: <sip:caller@example.test>;tag=tr",
    "Max-Forwards: 70",
    "Call-ID:  transports.q8w7",
    "Accept: application/sdp",
    "CSeq: 60 OPTIONS",
    "Via: SIP/2.0/UDP t1.example.test;branch=z9hG4bKt1",
    "Via: SIP/2.0/SCTP t2.example.test;branch=z9hG4bKt2",
    "Via: SIP/2.0/TLS t3.example.test;branch=z9hG4bKt3",
    "Via: SIP/2.0/NOSUCHTHING t4.example.test;branch=z9hG4bKt4",
    "Via: SIP/2.0/tcp t5.example.test;branch=z9hG4bKt5",
    "l: 0",
)

# §3.1.1.11 mpart01: a multipart body with binary octets (CR, LF and NUL among them).
MPART_BINARY = bytes(range(256))
MPART_BODY = (
    b"--boundary42\r\n"
    b"Content-Type: application/sdp\r\n\r\n" + SDP + b"\r\n"
    b"--boundary42\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n" + MPART_BINARY + b"\r\n"
    b"--boundary42--\r\n"
)
MPART01 = sip(
    "MESSAGE sip:someone@example.test SIP/2.0",
    "Via: SIP/2.0/UDP 198.51.100.12;branch=z9hG4bKmpart",
    "Max-Forwards: 70",
    "From: <sip:sender@example.test>;tag=mp1",
    "To: <sip:someone@example.test>",
    "Call-ID: mpart01.z8y7",
    "CSeq: 1 MESSAGE",
    'Content-Type: multipart/mixed;boundary="boundary42"',
    f"Content-Length: {len(MPART_BODY)}",
    body=MPART_BODY,
)

# §3.1.1.12 unreason: a reason phrase in UTF-8 with characters a token never has.
UNREASON_PHRASE = "= 3**2 * 7 — höchst ungewöhnlich ✓ 成功"
UNREASON = sip(
    f"SIP/2.0 200 {UNREASON_PHRASE}",
    "Via: SIP/2.0/UDP 198.51.100.13;branch=z9hG4bKunreason",
    "Call-ID: unreason.m3n4",
    "CSeq: 35 INVITE",
    "From: sip:caller@example.test;tag=u1",
    "To: sip:someone@example.test;tag=u2",
    "Content-Type: application/sdp",
    "Contact: <sip:someone@host13.example.test>",
    f"Content-Length: {SDP_LENGTH}",
    body=SDP,
)

# §3.1.1.13 noreason: an empty reason phrase (the space before it is there).
NOREASON_LINE = "SIP/2.0 100 "
NOREASON = sip(
    NOREASON_LINE,
    "Via: SIP/2.0/UDP 198.51.100.14;branch=z9hG4bKnoreason",
    "Call-ID: noreason.k2j3",
    "CSeq: 35 INVITE",
    "From: <sip:caller@example.test>;tag=n1",
    "To: <sip:someone@example.test>",
    "Content-Length: 0",
)

VALID = {
    "wsinv": WSINV,
    "intmeth": INTMETH,
    "esc01": ESC01,
    "escnull": ESCNULL,
    "esc02": ESC02,
    "lwsdisp": LWSDISP,
    "longreq": LONGREQ,
    "semiuri": SEMIURI,
    "transports": TRANSPORTS,
    "mpart01": MPART01,
    "unreason": UNREASON,
    "noreason": NOREASON,
}


def request(*first_lines: str, tail: tuple[str, ...] = (), body: bytes = b"", length: bool = True) -> bytes:
    """A request made of `first_lines`, the usual mandatory fields not among them, then `tail`."""
    defaults = {
        "via": "Via: SIP/2.0/UDP 198.51.100.20;branch=z9hG4bKdefault",
        "to": "To: <sip:someone@example.test>",
        "from": "From: <sip:caller@example.test>;tag=def",
        "call-id": "Call-ID: default.a1b2@198.51.100.20",
        "max-forwards": "Max-Forwards: 70",
    }
    given = {line.split(":", 1)[0].strip().lower() for line in (*first_lines[1:], *tail)}
    method = first_lines[0].split(" ", 1)[0]
    lines = [*first_lines, *(v for k, v in defaults.items() if k not in given)]
    if "cseq" not in given:
        lines.append(f"CSeq: 1 {method}")
    lines += tail
    if length and "content-length" not in given and "l" not in given:
        lines.append(f"Content-Length: {len(body)}")
    return sip(*lines, body=body)


# --- §3.1.2 invalid messages -----------------------------------------------------------

# §3.1.2.1 badinv01: empty parameters and list elements in Via, empty parameters in Contact.
BADINV01_VIA = request(
    "INVITE sip:someone@example.test SIP/2.0",
    "Via: SIP/2.0/UDP 198.51.100.21;;,;,,",
    "Contact: <sip:caller@h21.example.test>",
)
BADINV01_CONTACT = request("INVITE sip:someone@example.test SIP/2.0", 'Contact: "Joan" <sip:joan@example.org>;;;;')

# §3.1.2.2 clerr: Content-Length larger than the message.
CLERR = request(
    "INVITE sip:someone@example.test SIP/2.0",
    "Content-Type: application/sdp",
    "Content-Length: 9999",
    body=SDP,
)

# §3.1.2.3 ncl: a negative Content-Length.
NCL = request(
    "INVITE sip:someone@example.test SIP/2.0", "Content-Type: application/sdp", "Content-Length: -999", body=SDP
)

# §3.1.2.4 scalar02: request fields with values beyond their range.
SCALAR02 = request(
    "REGISTER sip:example.test SIP/2.0",
    "CSeq: 36893488147419103232 REGISTER",
    "Max-Forwards: 300",
    "Expires: " + "1" + "0" * 100,
    "Contact: <sip:user@h24.example.test>",
    "  ;expires=280297596632815",
)
SCALAR02_MAX_FORWARDS_ONLY = request("OPTIONS sip:someone@example.test SIP/2.0", "Max-Forwards: 300")
SCALAR02_EXPIRES_ONLY = request(
    "REGISTER sip:example.test SIP/2.0",
    "Expires: " + "1" + "0" * 100,
    "Contact: <sip:user@h24.example.test>;expires=280297596632815",
)

# §3.1.2.5 scalarlg: a response whose CSeq (and Retry-After, Warning) are beyond range.
SCALARLG = sip(
    "SIP/2.0 503 Service Unavailable",
    "Via: SIP/2.0/TCP h25.example.test;branch=z9hG4bKscalarlg;received=192.0.2.25",
    "To: <sip:someone@example.test>",
    "From: <sip:other@example.net>;tag=slg",
    "CSeq: 9292394834772304023312 OPTIONS",
    "Call-ID: scalarlg.u7y6",
    "Retry-After: 949302838503028349304023988",
    'Warning: 1812 overture "In Progress"',
    "Content-Length: 0",
)

# §3.1.2.6 quotbal: an unterminated quoted display name.
QUOTBAL = request("INVITE sip:someone@example.test SIP/2.0", 'To: "Ms. K. Someone <sip:someone@example.test>')

# §3.1.2.7 ltgtruri: the Request-URI in angle brackets.
LTGTRURI = request("INVITE <sip:someone@example.test> SIP/2.0")

# §3.1.2.8 lwsruri: whitespace inside the Request-URI.
LWSRURI = request("INVITE sip:someone@example.test; lr SIP/2.0")

# §3.1.2.9 lwsstart: several SP between the Request-Line's elements.
LWSSTART = request("INVITE  sip:someone@example.test  SIP/2.0")

# §3.1.2.10 trws: SP after the SIP-Version.
TRWS = request("OPTIONS sip:remote@example.test SIP/2.0  ")

# §3.1.2.11 escruri: escaped headers in the Request-URI.
ESCRURI = request("INVITE sip:someone@example.test?Route=%3Csip:example.test%3E SIP/2.0")

# §3.1.2.12 baddate: a Date in a zone other than GMT.
BADDATE = request("INVITE sip:someone@example.test SIP/2.0", "Date: Mon, 04 Mar 2030 09:30:00 CET")

# §3.1.2.13 regbadct: a URI with headers in a Contact without angle brackets.
REGBADCT = request(
    "REGISTER sip:example.test SIP/2.0", "Contact: sip:user@example.test?Route=%3Csip:proxy.example.test%3E"
)

# §3.1.2.14 badaspec: whitespace inside the angle brackets.
BADASPEC = request("OPTIONS sip:someone@example.org SIP/2.0", 'To: "Watson, Ada" < sip:ada@example.org >')

# §3.1.2.15 baddn: a display name with non-token characters, unquoted.
BADDN = request(
    "OPTIONS sip:ada@example.org SIP/2.0",
    "From:    Lovelace, Ada <sip:ada@example.com>;tag=4a",
    "To:      Babbage, Charles <sip:charles@example.org>",
)

# §3.1.2.16 badvers: an unknown SIP version.
BADVERS = request(
    "OPTIONS sip:someone@example.org SIP/7.0",
    "Via:     SIP/7.0/UDP c.example.test;branch=z9hG4bKbadvers",
    "From:    A. Lovelace <sip:ada@example.com>;tag=v7",
)

# §3.1.2.17 mismatch01: CSeq's method differs from the Request-Line's.
MISMATCH01 = request("OPTIONS sip:someone@example.test SIP/2.0", "CSeq: 8 INVITE")

# §3.1.2.18 mismatch02: an unknown method, and CSeq names another.
MISMATCH02 = request("NEWMETHOD sip:someone@example.test SIP/2.0", "CSeq: 8 ACK")

# §3.1.2.19 bigcode: a status code far beyond three digits.
BIGCODE = sip(
    "SIP/2.0 4294967301 better not break the receiver",
    "Via: SIP/2.0/UDP 198.51.100.29;branch=z9hG4bKbigcode",
    "Call-ID: bigcode.a9s8",
    "CSeq: 353494 INVITE",
    "From: <sip:caller@example.test>;tag=b1",
    "To: <sip:someone@example.test>;tag=b2",
    "Content-Length: 0",
)

INVALID = {
    "badinv01-via": BADINV01_VIA,
    "badinv01-contact": BADINV01_CONTACT,
    "clerr": CLERR,
    "ncl": NCL,
    "scalar02": SCALAR02,
    "scalar02-max-forwards": SCALAR02_MAX_FORWARDS_ONLY,
    "scalarlg": SCALARLG,
    "quotbal": QUOTBAL,
    "ltgtruri": LTGTRURI,
    "lwsruri": LWSRURI,
    "lwsstart": LWSSTART,
    "trws": TRWS,
    "escruri": ESCRURI,
    "regbadct": REGBADCT,
    "badaspec": BADASPEC,
    "baddn": BADDN,
    "badvers": BADVERS,
    "mismatch01": MISMATCH01,
    "mismatch02": MISMATCH02,
    "bigcode": BIGCODE,
}

# Messages of §3.1 that parse although something in them is off (judged in test_torture.py).
ACCEPTED = {"dblreq": DBLREQ, "baddate": BADDATE, "scalar02-expires": SCALAR02_EXPIRES_ONLY}
