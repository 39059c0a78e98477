"""Hand a subject's package to another controller (GDPR Art. 20(2), promise R-6).

The owner names the other provider's HTTPS address; the package of the portability
request (the very document of the download) is POSTed to it as JSON.  The address
comes from the data subject, so the server must not be turned against the operator's
own network (server-side request forgery): the host is resolved here, every address
it resolves to is checked, and the connection goes to the checked address (the name
stays the TLS server name and `Host`), unless the operator allowed its network
(`portability_allowed_networks`).  Loopback, private, link-local (cloud metadata),
multicast, reserved and unspecified addresses are refused.

No redirect is followed (a redirect could point anywhere), the answer's body is never
read, and an outcome names only the host and the kind of failure: the path and query
of the address may carry a token and are never logged or stored.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

log = structlog.get_logger("privateline.transmission")

FORMAT = "privateline.subject-data/1"
FORMAT_HEADER = "X-Privateline-Format"
USER_AGENT = "privateline-portability/1"
TIMEOUT_SECONDS = 10.0
MAX_URL = 2048
HTTPS_PORT = 443

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class DestinationError(ValueError):
    """The address given cannot be a destination (not an https:// URL); nothing is sent."""


@dataclass(frozen=True)
class Destination:
    """Where the package goes: an https:// URL, checked for its form only."""

    url: httpx.URL

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def port(self) -> int:
        return self.url.port or HTTPS_PORT


def destination(text: str) -> Destination:
    """The destination the owner typed; `DestinationError` with a reason when it cannot be one."""
    text = text.strip()
    if len(text) > MAX_URL:
        raise DestinationError("too long")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise DestinationError("not an address") from None
    if url.scheme != "https":
        raise DestinationError("not https")
    if not url.host or url.userinfo:
        raise DestinationError("not an address")
    return Destination(url)


@dataclass(frozen=True)
class Outcome:
    """What became of one transmission, as the audit trail records it and the owner is shown it."""

    host: str
    delivered: bool
    status: int | None = None  # the HTTP status the other provider answered with
    reason: str | None = None  # why it failed: "timeout", "HTTP 503", "refused address", ...

    def as_detail(self) -> dict[str, Any]:
        return {"host": self.host, "delivered": self.delivered, "status": self.status, "reason": self.reason}


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def refused(address: Address, allowed: Iterable[Network] = ()) -> bool:
    """Whether the server must not connect to `address` (SSRF, R-6): True for the operator's own networks."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == n.version and address in n for n in allowed):
        return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Transmitter:
    """Sends packages to other controllers (from the `portability_*` settings)."""

    allowed_networks: tuple[Network, ...] = ()
    ca_file: Path | None = None  # a private CA to trust instead of the public ones
    timeout_seconds: float = TIMEOUT_SECONDS
    resolver: Resolver = _resolve

    def _verify(self) -> ssl.SSLContext | bool:
        if self.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _checked_address(self, target: Destination) -> Address | str:
        """The address to connect to, checked; or why there is none."""
        try:
            literal: Address | None = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                name = target.url.raw_host.decode("ascii")  # IDNA-encoded
                found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(name, target.port)]
            except (OSError, UnicodeError, ValueError):
                return "unknown host"
        if not found:
            return "unknown host"
        # Every address the name resolves to must pass: a name pointing at both a public
        # and an internal address is refused, whichever one a connection would pick.
        if any(refused(a, self.allowed_networks) for a in found):
            return "refused address"
        return found[0]

    def send(self, target: Destination, document: Mapping[str, Any]) -> Outcome:
        """POST the package to `target` once; the outcome, never raising for the other side's failures."""
        host = target.host
        checked = self._checked_address(target)
        if isinstance(checked, str):
            log.warning("portability transmission refused", host=host, reason=checked)
            return Outcome(host, False, reason=checked)
        # Connect to the address that was checked, not to a second resolution of the name
        # (DNS rebinding): the name stays the TLS server name (SNI, certificate check) and Host.
        pinned = target.url.copy_with(host=str(checked))
        headers = {
            "Content-Type": "application/json",
            FORMAT_HEADER: FORMAT,
            "Host": target.url.netloc.decode("ascii"),
            "User-Agent": USER_AGENT,
        }
        extensions = {} if pinned.host == host else {"sni_hostname": target.url.raw_host.decode("ascii")}
        try:
            verify = self._verify()
        except (OSError, ssl.SSLError) as exc:
            log.error("the portability CA file cannot be used", error=type(exc).__name__)
            return Outcome(host, False, reason="CA file unusable")
        try:
            with (
                httpx.Client(
                    timeout=httpx.Timeout(self.timeout_seconds),
                    follow_redirects=False,  # a redirect is not a delivery and could point anywhere
                    verify=verify,
                    trust_env=False,  # no proxy from the environment: the checked address is the one used
                ) as client,
                client.stream(
                    "POST", pinned, content=encode(document), headers=headers, extensions=extensions
                ) as response,
            ):
                status = response.status_code  # the body is never read, shown or stored
        except httpx.TimeoutException:
            outcome = Outcome(host, False, reason="timeout")
        except httpx.HTTPError as exc:
            outcome = Outcome(host, False, reason=f"transport error ({type(exc).__name__})")
        else:
            if 200 <= status < 300:
                outcome = Outcome(host, True, status=status)
            else:
                outcome = Outcome(host, False, status=status, reason=f"HTTP {status}")
        log.info("portability transmission", host=host, delivered=outcome.delivered, reason=outcome.reason)
        return outcome
