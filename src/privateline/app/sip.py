"""Wiring the SIP service of one instance: element, location store, device directory, transport.

The digest nonces are keyed by a secret kept in the data directory (`keys/sip-nonce.key`),
so several SIP processes of one instance accept each other's challenges; the location is
the database (`sip_binding`), so a phone registered at one process is reachable from all
(DEV-4).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from privateline.app.keys import instance_key
from privateline.app.system import System
from privateline.edges.sip.core import DigestServer, ParseLimits
from privateline.edges.sip.core.element import ElementSettings, SipElement
from privateline.edges.sip.directory import DeviceDirectory
from privateline.edges.sip.location import DatabaseBindings
from privateline.edges.sip.transport import Listeners, SipTransport, bind_sockets
from privateline.services.voip.reads import DriverConnection


def sip_host(system: System) -> str:
    return system.settings.sip_host or system.settings.host


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def build_element(system: System, host: str, port: int) -> tuple[SipElement, DatabaseBindings]:
    """The element of `system` answering as `host`:`port`, and the location store it writes to."""
    settings = system.settings
    domains = tuple(d for d in (settings.sip_domain, host) if d)
    limits = ParseLimits(max_message_size=settings.sip_max_message_bytes)
    digest = DigestServer(
        realm=settings.sip_realm,
        secret=instance_key(Path(settings.data_dir), "sip-nonce", None),
        algorithms=tuple(dict.fromkeys(settings.sip_digest_algorithms)),
    )
    # One connection for the location's reads and commits and the directory's reads: what this
    # process writes itself does not count as another's write (`reads.KeptReads`).
    connection = DriverConnection(system.database)
    bindings = DatabaseBindings(system.database, connection=connection)
    element = SipElement(
        ElementSettings(
            host=host,
            port=port,
            domains=domains,
            realm=settings.sip_realm,
            limits=limits,
            max_contacts=settings.sip_max_contacts,
        ),
        devices=DeviceDirectory(system.database, connection),
        bindings=bindings,
        digest=digest,
    )
    return element, bindings


def build_sip(system: System, *, port: int | None = None) -> SipTransport:
    """The SIP transport of `system`, not yet started; `port` overrides the setting."""
    settings = system.settings
    host = sip_host(system)
    wanted = settings.sip_port if port is None else port
    # Bound first: the element names its own port in Via and Record-Route (§16.6 items 4, 8).
    udp_socket, tcp_socket = bind_sockets(host, wanted, tcp=settings.sip_tcp)
    udp_port = int(udp_socket.getsockname()[1])
    element, bindings = build_element(system, host, udp_port)
    tls = None
    if settings.sip_tls_port is not None:
        assert settings.sip_tls_certificate is not None and settings.sip_tls_key is not None  # validated
        tls = tls_context(settings.sip_tls_certificate, settings.sip_tls_key)
    listeners = Listeners(
        host=host,
        udp_port=udp_port,
        tcp_port=udp_port if settings.sip_tcp else None,
        tls_port=settings.sip_tls_port,
        tls=tls,
        udp_socket=udp_socket,
        tcp_socket=tcp_socket,
    )

    def sweep() -> None:
        bindings.expired(system.clock.now().timestamp())

    limits = element.settings.limits
    return SipTransport(
        element,
        listeners,
        system.clock,
        flush=bindings.flush,
        pending=lambda: bindings.pending,
        limits=limits,
        sweep=sweep,
    )
