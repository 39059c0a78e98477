"""What counts as an e-mail address here, and the pseudonym stores know it by.

Addresses are compared without regard to case (as practically every mail provider
does), so the pseudonym is taken of the normalised form: surrounding blanks removed,
Unicode in NFC, lower case.  The mail goes to that same form, so the person who
receives it is the one the pseudonym stands for.  Quoted local parts, comments and
IP-literal domains are not accepted: nobody subscribes with them, and every accepted
character is one a mail server takes without quoting (RFC 5321 §4.1.2, RFC 6531).

A store of newsletter recipients that lands later keys its rows by `subject(...)`'s
pseudonym, computed with this normalisation, so the link finds them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from sqlalchemy import Connection

from privateline.kernel.pseudonym import Pseudonymizer
from privateline.services.privacy.held import Subject

NEWSLETTER_RECIPIENT = "newsletter_recipient"
MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, with its brackets
MAX_LOCAL = 64
_LOCAL = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(\.[\w!#$%&'*+/=?^`{|}~-]+)*")
_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")


def normalised(text: str) -> str | None:
    """The address in the form it is pseudonymised and written to, or None when it is none."""
    address = unicodedata.normalize("NFC", text.strip()).lower()
    if len(address) > MAX_ADDRESS or address.count("@") != 1:
        return None
    local, _, domain = address.partition("@")
    if not local or len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local):
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # an IP address, not a domain
    return address


def pseudonym(pseudonymizer: Pseudonymizer, address: str, subject_kind: str = NEWSLETTER_RECIPIENT) -> str:
    """The keyed pseudonym of a normalised address (HMAC-SHA256 with the instance key)."""
    return pseudonymizer.pseudonym(subject_kind, address)


def subject_of(subject_kind: str, pseudonym_: str) -> Subject:
    # The subject's stores hold only the pseudonym, so it is also the subject key.
    return Subject(subject_kind, pseudonym_, pseudonym_)


def pseudonym_resolver(subject_kind: str) -> Callable[[Connection, set[str]], dict[str, Subject]]:
    """The rights engine's resolver for this kind (`privacy.erasure.Resolver`): the pseudonym is the key.

    Replaying the erasure journal after a restore (R-4) and the CLI's `rights export`
    find a subject by its pseudonym; for a subject known only by pseudonym, that is all
    there is to find.
    """

    def resolve(_connection: Connection, pseudonyms: set[str]) -> dict[str, Subject]:
        return {p: subject_of(subject_kind, p) for p in pseudonyms}

    return resolve
