"""Which addresses a portable copy may be sent to (GDPR Art. 20(2), promise R-6; SSRF protection)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from privateline.services.privacy.transmission import (
    FORMAT,
    FORMAT_HEADER,
    DestinationError,
    Transmitter,
    destination,
    parse_networks,
    refused,
)
from tests.services.privacy.webhook_receiver import Certificates, Receiver, start_receiver

pytestmark = pytest.mark.promise("R-6")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
    ],
)
def test_the_operators_own_and_special_networks_are_refused(address: str) -> None:
    assert refused(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_not_refused(address: str) -> None:
    assert not refused(ipaddress.ip_address(address))


def test_allowed_networks_open_only_themselves() -> None:
    allowed = parse_networks(["127.0.0.1/32"])
    assert not refused(ipaddress.ip_address("127.0.0.1"), allowed)
    assert refused(ipaddress.ip_address("127.0.0.2"), allowed)
    assert refused(ipaddress.ip_address("::1"), allowed)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("http://provider.example/in", "not https"),
        ("ftp://provider.example/in", "not https"),
        ("provider.example", "not https"),
        ("https://user:pw@provider.example/", "not an address"),
        ("https:///in", "not an address"),
        ("https://provider.example/" + "a" * 3000, "too long"),
    ],
)
def test_only_https_addresses_are_destinations(text: str, reason: str) -> None:
    with pytest.raises(DestinationError, match=reason):
        destination(text)


def test_a_name_resolving_to_any_refused_address_is_refused_without_connecting() -> None:
    asked: list[str] = []

    def resolver(host: str, _port: int) -> list[str]:
        asked.append(host)
        return ["93.184.216.34", "10.0.0.1"]

    outcome = Transmitter(resolver=resolver).send(destination("https://provider.example/in?token=x"), {"a": 1})
    assert asked == ["provider.example"]
    assert (outcome.delivered, outcome.reason, outcome.host) == (False, "refused address", "provider.example")
    assert "token" not in str(outcome.as_detail())


def test_an_unknown_host_is_a_failure_not_an_error() -> None:
    def resolver(_host: str, _port: int) -> list[str]:
        raise OSError("no such host")

    outcome = Transmitter(resolver=resolver).send(destination("https://nowhere.invalid/"), {})
    assert (outcome.delivered, outcome.reason) == (False, "unknown host")


def _certificates_for_name(directory: Path, name: str) -> Certificates:
    """A private CA and a server certificate for a host name (not an address)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "privateline test CA (names)")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return out


@pytest.fixture
def named_receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = start_receiver(_certificates_for_name(tmp_path, "provider.test"))
    yield running
    running.stop()


def test_the_connection_goes_to_the_checked_address_with_the_name_for_tls_and_host(named_receiver: Receiver) -> None:
    """Resolved once and checked; a second answer of the name server (DNS rebinding) is never asked for."""
    port = int(named_receiver.url.rsplit(":", 1)[1])
    answers = [["127.0.0.1"], ["10.0.0.1"]]

    def resolver(_host: str, _port: int) -> list[str]:
        return answers.pop(0)

    transmitter = Transmitter(parse_networks(["127.0.0.1/32"]), named_receiver.ca_file, resolver=resolver)
    outcome = transmitter.send(destination(f"https://provider.test:{port}/hooks/portability?k=1"), {"format": FORMAT})
    assert (outcome.delivered, outcome.status, outcome.host) == (True, 200, "provider.test")
    assert answers == [["10.0.0.1"]]  # asked once
    [hook] = named_receiver.received
    assert hook.headers["host"] == f"provider.test:{port}"
    assert hook.headers[FORMAT_HEADER.lower()] == FORMAT
    assert json.loads(hook.body) == {"format": FORMAT}


def test_a_redirect_is_not_followed_and_not_a_delivery(named_receiver: Receiver) -> None:
    named_receiver.answers.append(307)
    port = int(named_receiver.url.rsplit(":", 1)[1])
    transmitter = Transmitter(
        parse_networks(["127.0.0.1/32"]), named_receiver.ca_file, resolver=lambda _h, _p: ["127.0.0.1"]
    )
    outcome = transmitter.send(destination(f"https://provider.test:{port}/hooks/portability"), {})
    assert (outcome.delivered, outcome.reason) == (False, "HTTP 307")
    assert len(named_receiver.received) == 1
