"""Where the proxy is and where messages go: its own URIs and Via, Route and Record-Route
handling, loop detection and next hops (RFC 3261 §16.3 item 4, §16.4, §16.6, §18.2.2; RFC 3581).

Pure functions over messages (and the proxy's identity, `Here`); no state.  This core does no
DNS, so a next hop named by a URI must be an IP literal (`uri_destination`); a hop a phone
registered from is its binding's source address instead (NAT traversal, RFC 3581 §4).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace

from privateline.edges.sip.core.grammar import checked_param, checked_params, is_token
from privateline.edges.sip.core.headers import Headers
from privateline.edges.sip.core.message import MESSAGE_FIELDS, Message, Request, Response
from privateline.edges.sip.core.uri import SipUri, Uri
from privateline.edges.sip.core.via import MAGIC_COOKIE, Via, parse_via

Addr = tuple[str, int]

SIP_PORT = 5060  # §19.1.2: the default port of sip: (and of UDP and TCP, §18)
SIPS_PORT = 5061  # ... and of sips: and TLS


def default_port(transport: str) -> int:
    return SIPS_PORT if transport.lower() == "tls" else SIP_PORT


DIALOG_PARAM = "dlg"


@dataclass(frozen=True)
class Here:
    """The proxy's own address (what goes into Via and Record-Route), the domains it serves, and
    the key of the dialog tokens in its Record-Route (see `dialog_token`)."""

    host: str
    port: int
    domains: tuple[str, ...]
    dialog_key: bytes = b""

    def serves(self, host: str) -> bool:
        """Whether `host` is one of our domains or our own address (§16.4, §16.5)."""
        lowered = host.lower()
        return lowered == self.host.lower() or any(lowered == d.lower() for d in self.domains)

    def is_me(self, host: str, port: int | None, transport: str = "udp") -> bool:
        """Whether host:port is this element's own address (a missing port is the default one)."""
        return host.lower() == self.host.lower() and (port or default_port(transport)) == self.port

    def names_me(self, uri: Uri) -> bool:
        """A URI without a user that names this proxy: its address, or a domain it serves on our
        port (a Route a phone's outbound-proxy setting pre-loads, §16.4; OPTIONS to the proxy)."""
        if not isinstance(uri, SipUri) or uri.user is not None:
            return False
        if self.is_me(uri.host, uri.port, uri.transport or "udp"):
            return True
        return self.serves(uri.host) and (uri.port is None or uri.port == self.port)

    def placed_by_me(self, uri: Uri) -> bool:
        """Whether `uri` is a value this proxy put into Record-Route (§16.4: a strict router upstream
        then sends it as the Request-URI): our address, no user, `lr`."""
        return (
            isinstance(uri, SipUri)
            and uri.user is None
            and uri.lr
            and self.is_me(uri.host, uri.port, uri.transport or "")
        )

    def record_route(self, transport: str, call_id: str) -> str:
        """§16.6 item 4: our URI with `lr` (loose routing, §19.1.1), for the transport the next hop
        uses, with the dialog token of `call_id`."""
        token = self.dialog_token(call_id)
        return f"<sip:{self.host}:{self.port};transport={transport.lower()};{DIALOG_PARAM}={token};lr>"

    def dialog_token(self, call_id: str) -> str:
        """An HMAC of the Call-ID: the phones copy our Record-Route into the route set of the dialog
        (§12.1.1, §12.1.2) and so into every request in it, which proves the dialog was set up
        through this proxy by an authenticated call.  Without it an in-dialog request (which is not
        challenged) could make the proxy relay to any address: calls out of the network."""
        return hmac.digest(self.dialog_key, call_id.encode("utf-8", "replace"), "sha256").hex()[:16]

    def vouches(self, uri: Uri, call_id: str | None) -> bool:
        """Whether `uri` is a Record-Route value of ours carrying the token of `call_id`."""
        if not isinstance(uri, SipUri) or call_id is None:
            return False
        token = uri.param(DIALOG_PARAM)
        return token is not None and hmac.compare_digest(token, self.dialog_token(call_id))

    def via(self, transport: str, branch: str) -> Via:
        """§16.6 item 8: our Via; `rport` (RFC 3581 §3) asks the next hop for the source port too.

        Built for every forwarded request: our sent-by is checked once per transport (`_own_via`)
        and only the branch, which differs each time, is checked here; then the parts go in as
        the parser's checked constructors put them (`checked_param`, `checked_params`)."""
        if not is_token(branch):
            raise ValueError(f"a branch is a token: {branch!r}")
        mine = _own_via(self.host, self.port, transport.upper())
        via = object.__new__(Via)
        fields = via.__dict__
        fields.update(mine.__dict__)
        fields["params"] = checked_params((checked_param("branch", branch, False), _RPORT))
        return via


_RPORT = checked_param("rport", None, False)


@functools.lru_cache(maxsize=16)
def _own_via(host: str, port: int, transport: str) -> Via:
    """Our Via without parameters, its sent-by checked (`Via.__post_init__`) once."""
    return Via(host, port, transport)


@functools.lru_cache(maxsize=4096)  # the same few thousand phones' addresses, for every message
def ip_literal(host: str) -> str | None:
    """The address of an IP literal host (IPv6 without its brackets), None for a host name."""
    inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(inner))
    except ValueError:
        return None


def uri_destination(uri: SipUri) -> tuple[Addr, str] | None:
    """Where to send a request whose next hop is `uri`, and over which transport (§16.6 item 7,
    RFC 3263 without the DNS steps): None unless the host (or maddr) is an IP literal."""
    transport = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
    if transport not in ("udp", "tcp", "tls"):
        return None
    host = ip_literal(uri.maddr or uri.host)
    if host is None:
        return None
    return (host, uri.port or default_port(transport)), transport


def via_destination(via: Via) -> tuple[Addr, str] | None:
    """Where a response goes (§18.2.2 and RFC 3581 §5): `received` (else sent-by) and `rport`
    (else the sent-by port); None when that host is a name (no DNS here)."""
    host = ip_literal(via.received or via.host)
    if host is None:
        return None
    transport = via.transport.lower()
    try:
        rport = via.rport
    except ValueError:
        rport = None
    return (host, rport or via.port or default_port(transport)), transport


# --- Via and Route rewriting ----------------------------------------------------------------


def _replace_first(headers: Headers, name: str, values: Sequence[str]) -> Headers:
    """`headers` with the first field called `name` replaced by one field per value, in place."""
    key = name.lower()
    out: list[tuple[str, str]] = []
    done = False
    for field_name, value in headers:
        if not done and field_name.lower() == key:
            out += [(name, v) for v in values]
            done = True
        else:
            out.append((field_name, value))
    return Headers(out)


def _top_line_vias(message: Message) -> list[Via]:
    """The via-parms of the first Via field line (usually one; §7.3.1 lets a line hold several)."""
    if message.headers.count("Via") == len(message.vias):
        return [message.vias[0]]  # one value per line: no need to parse again
    first = message.headers.get("Via")
    return list(parse_via(first)) if first is not None else []


def with_top_via(request: Request, via: Via) -> Request:
    """`request` with its top Via value replaced (RFC 3581 §4: `received`, `rport`)."""
    rest = [str(v) for v in _top_line_vias(request)[1:]]
    headers = _replace_first(request.headers, "Via", [str(via), *rest])
    stamped = Request(request.method, request.uri, headers, request.body, version=request.version)
    carry_parsed(request, stamped, vias=(via, *request.vias[1:]))
    return stamped


def carry_parsed(old: Message, new: Message, *, dropped: tuple[str, ...] = (), **changed: object) -> None:
    """Give `new` the typed fields `old` has parsed already (message.py keeps them in the
    instance `__dict__`), but for those in `changed` (given their new values) and `dropped`
    (parsed again when read): every request gets its Via stamped, every forwarded message a
    Via more or less, and parsing From, To, CSeq... again would cost as much as the parse
    itself (the hot path)."""
    cache = getattr(old, "__dict__", None)
    target = getattr(new, "__dict__", None)
    if cache is None or target is None:
        return
    for name, value in cache.items():
        if name not in target and name not in changed and name not in MESSAGE_FIELDS and name not in dropped:
            target[name] = value
    target.update(changed)


def without_top_via(response: Response) -> Response:
    """§16.7 step 3: the response without the topmost Via value (ours)."""
    first = response.headers.get("Via")
    if first is not None and "," not in first:
        # One value on the line (§7.3.1: values are joined by commas, and none is quoted
        # here either): the line goes whole, and no Via needs parsing (the hot path).
        headers = response.headers.remove_first("Via")
    else:
        rest = [str(v) for v in _top_line_vias(response)[1:]]
        headers = _replace_first(response.headers, "Via", rest)
    forwarded = Response(response.status, response.reason, headers, response.body, version=response.version)
    if "vias" in response.__dict__:  # parsed on receipt (`Message.check`): the rest of it stays valid
        carry_parsed(response, forwarded, vias=response.vias[1:])
    return forwarded


def stamp_source(request: Request, source: Addr) -> Request:
    """§18.2.1 and RFC 3581 §4: note in the top Via where the request really came from, so the
    responses go back there (through the NAT): `received` when the sent-by host is not the
    source address, and with an empty `rport` both `received` and `rport` are set."""
    via = request.top_via
    if via is None:
        return request
    address, port = source
    wants_port = via.has_rport and via.params.get("rport") is None
    if not wants_port and ip_literal(via.host) == ip_literal(address):
        return request
    params = via.params.set("received", address)
    if wants_port:
        params = params.set("rport", str(port))
    return with_top_via(request, replace(via, params=params))  # one Via built, not two (hot path)


def _rebuild_routes(headers: Headers, values: list[str]) -> Headers:
    out: list[tuple[str, str]] = []
    placed = False
    for name, value in headers:
        if name == "Route":
            if not placed:
                out += [("Route", v) for v in values]
                placed = True
        else:
            out.append((name, value))
    return Headers(out)


def preprocess_routes(request: Request, here: Here) -> tuple[Request, list[Uri]]:
    """§16.4: a Request-URI we put into Record-Route means a strict router upstream: the last
    Route value becomes the Request-URI; then our own values at the top of Route are removed
    (loose routing; a phone's pre-loaded outbound-proxy Route and our Record-Route may both be
    there).  Returns the request and the URIs of ours that were taken out."""
    routes = list(request.route)
    uri = request.uri
    ours: list[Uri] = []
    if here.placed_by_me(uri) and routes:
        ours.append(uri)
        uri = routes.pop().uri
    while routes and here.names_me(routes[0].uri):
        ours.append(routes.pop(0).uri)
    if not ours:
        return request, ours
    headers = _rebuild_routes(request.headers, [str(r) for r in routes])
    routed = Request(request.method, uri, headers, request.body)
    carry_parsed(request, routed, route=tuple(routes))
    return routed, ours


def rewrite_record_route(response: Response, here: Here, transport: str) -> Response:
    """§16.7 step 4 allows rewriting our Record-Route value: the side the response goes to reaches
    us over `transport`, which may not be the one of the other side."""
    values = response.record_route
    if not values:
        return response
    mine = here.record_route(transport, response.call_id or "")
    rewritten = [mine if here.placed_by_me(a.uri) else str(a) for a in values]
    out: list[tuple[str, str]] = []
    placed = False
    for name, value in response.headers:
        if name == "Record-Route":
            if not placed:
                out += [("Record-Route", v) for v in rewritten]
                placed = True
        else:
            out.append((name, value))
    rewritten_response = Response(response.status, response.reason, Headers(out), response.body)
    carry_parsed(response, rewritten_response, dropped=("record_route",))
    return rewritten_response


# --- loop detection (§16.3 item 4, §16.6 item 8) -----------------------------------------------


def loop_hash(request: Request, previous_hop: Via | None) -> str:
    """§16.6 item 8: a hash of what a looping request keeps and a spiralling one changes: the
    Request-URI as received, the From and To tags, Call-ID, CSeq number, Proxy-Require and the
    Via of the hop before us (the topmost Via when we received it)."""
    to_tag = request.to.tag if request.to is not None else None
    from_tag = request.from_.tag if request.from_ is not None else None
    cseq = request.cseq.number if request.cseq is not None else None
    parts = (
        str(request.uri),
        to_tag or "",
        from_tag or "",
        request.call_id or "",
        str(cseq),
        ",".join(request.headers.get_all("Proxy-Require")),
        "" if previous_hop is None else str(previous_hop),
    )
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()[:20]


def branch(request: Request, unique: str) -> str:
    """Our branch for one forwarded copy: the loop hash, then a part that tells forks apart."""
    return f"{MAGIC_COOKIE}{loop_hash(request, request.top_via)}.{unique}"


def looped(request: Request, here: Here) -> bool:
    """§16.3 item 4: a Via of ours whose branch is the hash this request gives now has been
    here before with nothing changed: a loop (a changed Request-URI is a spiral)."""
    vias = request.vias
    for index, via in enumerate(vias):
        if not here.is_me(via.host, via.port, via.transport) or via.branch is None:
            continue
        previous = vias[index + 1] if index + 1 < len(vias) else None
        if via.branch.partition(".")[0] == MAGIC_COOKIE + loop_hash(request, previous):
            return True
    return False
