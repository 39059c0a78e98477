"""How the device cloud spells a device's identifiers: MAC addresses, numbers, serials.

Factory files, handsets and owners write MAC addresses in several ways
(`00:11:22:AA:BB:CC`, `00-11-22-aa-bb-cc`, `001122aabbcc`, `0011.22aa.bbcc`); one
canonical form (twelve upper-case hex digits) makes them comparable.
"""

from __future__ import annotations

import ipaddress
import re

_HEX12 = re.compile(r"[0-9A-F]{12}")
_NUMBER = re.compile(r"[0-9]{2,15}")  # in-network numbers: digits only, E.164 length at most
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
_PRODUCT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


class IdentifierError(ValueError):
    """An identifier that cannot be a device's; the message says why."""


def normalise_mac(text: str) -> str:
    cleaned = re.sub(r"[:\-.\s]", "", text.strip()).upper()
    if not _HEX12.fullmatch(cleaned):
        raise IdentifierError(f"MAC address {text!r} is not twelve hexadecimal digits")
    if int(cleaned[0:2], 16) & 1:
        raise IdentifierError(f"MAC address {text!r} is a group address, not a device's")
    return cleaned


def display_mac(mac: str) -> str:
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


def normalise_number(text: str) -> str:
    cleaned = text.strip()
    if not _NUMBER.fullmatch(cleaned):
        raise IdentifierError(f"number {text!r} must be 2 to 15 digits")
    return cleaned


def normalise_serial(text: str) -> str:
    cleaned = text.strip()
    if not _SERIAL.fullmatch(cleaned):
        raise IdentifierError(f"serial {text!r} must be 1 to 64 letters, digits or . _ / -")
    return cleaned


def normalise_product(text: str) -> str:
    cleaned = text.strip()
    if not _PRODUCT.fullmatch(cleaned):
        raise IdentifierError(f"product name {text!r} must be 1 to 64 printable characters")
    return cleaned


def private_address(text: str) -> str:
    """An address inside the owner's network (RFC 1918, RFC 4193, link-local): DEV-8 links to it."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise IdentifierError(f"{text!r} is not an IP address") from None
    if not (address.is_private or address.is_link_local) or address.is_loopback or address.is_unspecified:
        raise IdentifierError(f"{text!r} is not an address inside a home network")
    return str(address)
