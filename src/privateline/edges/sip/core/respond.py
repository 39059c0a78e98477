"""Answering: status codes and their reason phrases (RFC 3261 §21 and the extensions that
registered more), and responses built from requests (§8.2.6), including answers to rejected ones.

The reason phrase is for people (§7.2): a receiver acts on the code alone, and a code it does
not know it treats as the x00 code of its class (§8.1.3.2, §16.7); `reason_phrase` follows the
same rule for codes missing from the table.

`response_to` copies what §8.2.6.2 says a response copies: every Via in order, From, Call-ID,
CSeq, and To, to which it adds the UAS's tag unless the response is a 100 or To already has a
tag; a 100 also copies Timestamp (§8.2.6.1).  `answer_error` does the same from the partial
message of a SipParseError, so a malformed request still gets its 400 (or 505, 513) where the
fields it needs could be read (RFC 4475 §3.1.2, §3.3.1).  Responses and ACKs are never
answered (§17.1.1.3: an ACK has no response), so for them it gives None.

The copied fields are the request's text, so whatever the request has already parsed of them
(its Vias, From, Call-ID, CSeq, an unchanged To) the response holds from the start: the
transaction layer reads the response's top Via and CSeq, and would otherwise parse them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from privateline.edges.sip.core.address import Address, parse_address
from privateline.edges.sip.core.errors import SipParseError
from privateline.edges.sip.core.grammar import is_token
from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.message import Request, Response

REASON_PHRASES = MappingProxyType(
    {
        # 1xx provisional (§21.1)
        100: "Trying",
        180: "Ringing",
        181: "Call Is Being Forwarded",
        182: "Queued",
        183: "Session Progress",
        199: "Early Dialog Terminated",  # RFC 6228
        # 2xx success (§21.2)
        200: "OK",
        202: "Accepted",  # RFC 3265 (deprecated by RFC 6665, still sent)
        204: "No Notification",  # RFC 5839
        # 3xx redirection (§21.3)
        300: "Multiple Choices",
        301: "Moved Permanently",
        302: "Moved Temporarily",
        305: "Use Proxy",
        380: "Alternative Service",
        # 4xx request failure (§21.4)
        400: "Bad Request",
        401: "Unauthorized",
        402: "Payment Required",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        406: "Not Acceptable",
        407: "Proxy Authentication Required",
        408: "Request Timeout",
        410: "Gone",
        412: "Conditional Request Failed",  # RFC 3903
        413: "Request Entity Too Large",
        414: "Request-URI Too Long",
        415: "Unsupported Media Type",
        416: "Unsupported URI Scheme",
        417: "Unknown Resource-Priority",  # RFC 4412
        420: "Bad Extension",
        421: "Extension Required",
        422: "Session Interval Too Small",  # RFC 4028
        423: "Interval Too Brief",
        424: "Bad Location Information",  # RFC 6442
        425: "Bad Alert Message",  # RFC 8876
        428: "Use Identity Header",  # RFC 8224
        429: "Provide Referrer Identity",  # RFC 3892
        430: "Flow Failed",  # RFC 5626
        433: "Anonymity Disallowed",  # RFC 5079
        436: "Bad Identity Info",  # RFC 8224
        437: "Unsupported Credential",  # RFC 8224
        438: "Invalid Identity Header",  # RFC 8224
        439: "First Hop Lacks Outbound Support",  # RFC 5626
        440: "Max-Breadth Exceeded",  # RFC 5393
        469: "Bad Info Package",  # RFC 6086
        470: "Consent Needed",  # RFC 5360
        480: "Temporarily Unavailable",
        481: "Call/Transaction Does Not Exist",
        482: "Loop Detected",
        483: "Too Many Hops",
        484: "Address Incomplete",
        485: "Ambiguous",
        486: "Busy Here",
        487: "Request Terminated",
        488: "Not Acceptable Here",
        489: "Bad Event",  # RFC 6665
        491: "Request Pending",
        493: "Undecipherable",
        494: "Security Agreement Required",  # RFC 3329
        # 5xx server failure (§21.5)
        500: "Server Internal Error",
        501: "Not Implemented",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Server Time-out",
        505: "Version Not Supported",
        513: "Message Too Large",
        555: "Push Notification Service Not Supported",  # RFC 8599
        580: "Precondition Failure",  # RFC 3312
        # 6xx global failure (§21.6)
        600: "Busy Everywhere",
        603: "Decline",
        604: "Does Not Exist Anywhere",
        606: "Not Acceptable",
        607: "Unwanted",  # RFC 8197
        608: "Rejected",  # RFC 8688
    }
)


def reason_phrase(status: int) -> str:
    """The phrase for `status`, or that of the x00 code of its class (§8.1.3.2) when unknown."""
    known = REASON_PHRASES.get(status)
    if known is not None:
        return known
    return REASON_PHRASES.get(status // 100 * 100, "Unknown")


_COPIED = ("Via", "From", "To", "Call-ID", "CSeq")


# What a response copies that a request may have parsed already (`message.cached_property` names).
_SEEDED = (("vias", "Via"), ("from_", "From"), ("call_id", "Call-ID"), ("cseq", "CSeq"))


def _tagged(value: str, to_tag: str, parsed: Address | None = None) -> str:
    if parsed is None:
        try:
            parsed = parse_address(value, "To")
        except SipParseError:
            return value
    return value if parsed.tag is not None else f"{value};tag={to_tag}"


def _copied(
    headers: Headers, status: int, to_tag: str | None, parsed_to: Address | None = None
) -> list[tuple[str, str]]:
    """The fields a response copies; `parsed_to` is the To already parsed, when there is one To."""
    if to_tag is not None and not is_token(to_tag):
        raise ValueError("a tag is a token (§19.3)")
    out: list[tuple[str, str]] = []
    for name, value in headers:
        if name == "To" and to_tag is not None and status != 100:
            out.append((name, _tagged(value, to_tag, parsed_to)))
        elif name in _COPIED or (name == "Timestamp" and status == 100):
            out.append((name, value))
    return out


def response_to(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to `request` with the copied fields first, then `headers`, then `body`."""
    parsed = request.__dict__
    parsed_to = parsed.get("to") if request.headers.count("To") == 1 else None
    copied = _copied(request.headers, status, to_tag, parsed_to)
    extra = Headers(headers).fields
    fields = Headers.trusted((*copied, *extra))  # the copied ones are checked already
    response = Response(status, reason_phrase(status) if reason is None else reason, fields, body)
    seeded = response.__dict__
    added = {name for name, _ in extra}
    for attribute, field in _SEEDED:
        if attribute in parsed and field not in added:  # the response's fields are the request's
            seeded[attribute] = parsed[attribute]
    if parsed_to is not None and fields.get_all("To") == request.headers.get_all("To"):
        seeded["to"] = parsed_to
    return response


def answer_error(error: SipParseError, *, to_tag: str | None = None) -> Response | None:
    """The response to a request rejected with `error` (status and reason from the error), or
    None when there is nothing to answer: no readable header fields, a response, or an ACK."""
    partial = error.partial
    if partial is None or not partial.is_request or partial.method == "ACK":
        return None
    return Response(error.status, error.reason, Headers(_copied(partial.headers, error.status, to_tag)))
