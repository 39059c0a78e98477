"""Reading and checking what the portal's forms send.

Forms are read by hand, with a size limit, as `application/x-www-form-urlencoded`
(what a browser sends for a form without files); anything else is refused.  Each
check returns the value or raises `FormError` with a message for the owner, marked for
the portal's catalog and translated where it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qsl

from starlette.requests import Request

from privateline.kernel.requests import RequestKind
from privateline.services.devices.credentials import MAX_PASSWORD
from privateline.services.devices.nicknames import MAX_NICKNAME, NicknameError, clean_nickname
from privateline.services.devices.portal.labels import FIELD_UNAVAILABLE, N_
from privateline.services.devices.profiles import MAX_CITY, ProfileError, check_birth_date, clean_city
from privateline.services.devices.records import Service
from privateline.services.devices.updates import Decision
from privateline.services.privacy.transmission import Destination, DestinationError, destination
from privateline.services.sessions import CSRF_FIELD

MAX_FORM_BYTES = 8 * 1024
# A request for rectification may carry 1000 characters of any script: 4 bytes each in
# UTF-8, three characters per byte once percent-encoded.
MAX_RIGHTS_FORM_BYTES = 16 * 1024
MAX_RECTIFICATION = 1000
# What the owner can ask for on `/device/rights`: every right the state machine knows.
OFFERED_KINDS = (
    RequestKind.ACCESS,
    RequestKind.PORTABILITY,
    RequestKind.RECTIFICATION,
    RequestKind.ERASURE,
    RequestKind.RESTRICTION,
    RequestKind.OBJECTION,
    RequestKind.CONSENT_WITHDRAWAL,
)
ALL_ACTIVITIES = "*"  # a restriction of every processing of the phone's data
MAX_FIELDS = 16
MAX_NUMBER = 15
MAX_VERSION = 64
EARLIEST_BIRTH = date(1900, 1, 1)
_NUMBER = re.compile(r"[0-9]{1,15}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Control characters other than tab and line breaks (PostgreSQL refuses NUL in text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Message:
    """A text for the owner (an English msgid of the portal's catalog) and its placeholders."""

    text: str
    params: Mapping[str, object] = field(default_factory=dict)


class FormError(ValueError):
    def __init__(self, status: int, message: Message) -> None:
        super().__init__(message.text)
        self.status = status
        self.message = message


Form = dict[str, str]


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> Form:
    """The fields of an urlencoded form (the first value of each), at most `limit` bytes."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    # A POST without a body and without a type is an empty form (it then lacks its token).
    if media not in ("application/x-www-form-urlencoded", ""):
        raise FormError(415, Message(N_("This address accepts only the portal's own forms.")))
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise FormError(413, Message(N_("The form is too large.")))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormError(413, Message(N_("The form is too large.")))
    if not media and body:
        raise FormError(415, Message(N_("This address accepts only the portal's own forms.")))
    try:
        pairs = parse_qsl(bytes(body).decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, Message(N_("The form could not be read."))) from None
    form: Form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _field(form: Form, name: str) -> str:
    return form.get(name, "")


def sign_in_number(form: Form) -> str | None:
    """The number as digits (spaces allowed when typed), or None when it cannot be a number."""
    number = "".join(_field(form, "number").split())
    return number if _NUMBER.fullmatch(number) else None


def sign_in_password(form: Form) -> str | None:
    password = _field(form, "password")
    return password if 0 < len(password) <= MAX_PASSWORD else None


def service_switch(form: Form) -> tuple[Service, bool]:
    try:
        service = Service(_field(form, "service"))
    except ValueError:
        raise FormError(422, Message(N_("Choose one of the services shown."))) from None
    state = _field(form, "on")
    if state not in ("on", "off"):
        raise FormError(422, Message(N_("Choose whether to switch the service on or off.")))
    return service, state == "on"


def action(form: Form, allowed: tuple[str, ...]) -> str:
    chosen = _field(form, "action")
    if chosen not in allowed:
        raise FormError(422, Message(N_("Use one of the buttons of the form.")))
    return chosen


def nickname(form: Form) -> str:
    text = _field(form, "nickname")
    try:
        return clean_nickname(text)
    except NicknameError:
        if not 1 <= len(text.strip()) <= MAX_NICKNAME:
            raise FormError(
                422, Message(N_("A nickname has 1 to %(max)s characters."), {"max": MAX_NICKNAME})
            ) from None
        raise FormError(422, Message(N_('A nickname has no control characters and none of " \\ < >.'))) from None


def city(form: Form) -> str | None:
    try:
        return clean_city(_field(form, "city"))
    except ProfileError:
        raise FormError(
            422, Message(N_("A city name has at most %(max)s printable characters."), {"max": MAX_CITY})
        ) from None


def birth_date(form: Form, today: date) -> date | None:
    text = _field(form, "birth_date").strip()
    if not text:
        return None
    parsed: date | None = None
    if _ISO_DATE.fullmatch(text):
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise FormError(422, Message(N_("Enter the birth date as YYYY-MM-DD, for example 1970-04-23.")))
    try:
        return check_birth_date(parsed, today)
    except ProfileError:
        raise FormError(
            422,
            Message(N_("A birth date lies between %(earliest)s and today."), {"earliest": EARLIEST_BIRTH.isoformat()}),
        ) from None


def update_answer(form: Form) -> tuple[str, Decision]:
    version = _field(form, "version").strip()
    if not 1 <= len(version) <= MAX_VERSION:
        raise FormError(422, Message(N_("The form names no software version.")))
    try:
        decision = Decision(_field(form, "decision"))
    except ValueError:
        raise FormError(422, Message(N_("Accept or decline the update."))) from None
    return version, decision


@dataclass(frozen=True)
class FieldOffer:
    """A field the owner may correct, as the rights page shows it."""

    current: object
    available: bool  # False while the service it belongs to is switched off


@dataclass(frozen=True)
class Offered:
    """What the rights page offers the signed-in phone: a form asking for anything else is refused."""

    fields: Mapping[str, FieldOffer]
    restrictable: frozenset[str]
    restricted: frozenset[str]  # restrictions in force that the owner asked for and can lift
    objectable: frozenset[str]  # open to objection and not objected to yet
    withdrawable: frozenset[str]  # resting on a consent in force


@dataclass(frozen=True)
class Ask:
    """A request as the form asks for it."""

    kind: RequestKind
    text: str | None = None  # rectification described in words, for the DPO
    changes: Mapping[str, object] | None = None  # rectification field by field, done at once
    activity: str | None = None  # restriction, objection, consent withdrawal
    lift: bool = False  # restriction: lift it
    destination: Destination | None = None  # portability: send it directly to another provider (Art. 20(2))


# How the portal reads each field: the very checks of the forms the value was first typed in.
FIELD_READERS: dict[str, Callable[[Form, date], object]] = {
    "nickname": lambda form, _today: nickname(form),
    "city": lambda form, _today: city(form),
    "birth_date": birth_date,
}
_NOT_FIELDS = frozenset({CSRF_FIELD, "kind"})
# Why an address cannot be a destination, as the owner is told it.
_DESTINATION_REFUSED = {
    "not https": N_("The portable copy is sent only to an https:// address; this address is not one."),
    "too long": N_("The portable copy cannot be sent to this address: it is too long."),
    "not an address": N_("The portable copy cannot be sent to this address: it is not a web address."),
}


def _corrections(form: Form, offered: Offered, today: date) -> dict[str, object]:
    if set(form) - _NOT_FIELDS - set(offered.fields):
        # The number, serial, MAC and passwords are factory facts, not the owner's input.
        raise FormError(
            422,
            Message(
                N_(
                    "Only the values shown on this page can be corrected here. "
                    "Describe anything else in the text field below."
                )
            ),
        )
    changes: dict[str, object] = {}
    for name, offer in offered.fields.items():
        if name not in form:
            continue
        typed = form[name]
        if not offer.available:
            if typed.strip():
                raise FormError(409, Message(FIELD_UNAVAILABLE.get(name, N_("This value cannot be corrected now."))))
            continue
        if not typed.strip() and offer.current is None:
            continue  # nothing stored, nothing typed
        reader = FIELD_READERS.get(name)
        value = reader(form, today) if reader is not None else typed
        if value != offer.current:
            changes[name] = value
    if not changes:
        raise FormError(
            422,
            Message(
                N_("Nothing differs from what is stored. Change a value above, or describe below what else is wrong.")
            ),
        )
    return changes


def _free_text(form: Form) -> str:
    text = _field(form, "text").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise FormError(422, Message(N_("Say which data is wrong and what it should be.")))
    if len(text) > MAX_RECTIFICATION:
        raise FormError(
            422,
            Message(N_("A request for rectification has at most %(max)s characters."), {"max": MAX_RECTIFICATION}),
        )
    if _CONTROL.search(text):
        raise FormError(422, Message(N_("The text may contain line breaks but no other control characters.")))
    return text


def _activity(form: Form, among: frozenset[str]) -> str:
    chosen = _field(form, "activity")
    if chosen not in among:
        raise FormError(422, Message(N_("Choose one of the processing activities offered on this page.")))
    return chosen


def rights_request(form: Form, offered: Offered, today: date) -> Ask:
    """The request asked for on `/device/rights`, checked against what the page offers."""
    kind = next((k for k in OFFERED_KINDS if k.value == _field(form, "kind")), None)
    if kind is None:
        raise FormError(422, Message(N_("Choose one of the requests offered on this page.")))
    if kind is RequestKind.ERASURE and _field(form, "confirm") != "yes":
        raise FormError(422, Message(N_("Tick the box to confirm that you want the data of your phone erased.")))
    if kind is RequestKind.RECTIFICATION:
        if "text" in form:
            return Ask(kind, text=_free_text(form))
        return Ask(kind, changes=_corrections(form, offered, today))
    if kind is RequestKind.RESTRICTION:
        if action(form, ("restrict", "lift")) == "lift":
            return Ask(kind, activity=_activity(form, offered.restricted), lift=True)
        return Ask(kind, activity=_activity(form, offered.restrictable | {ALL_ACTIVITIES}))
    if kind is RequestKind.OBJECTION:
        return Ask(kind, activity=_activity(form, offered.objectable))
    if kind is RequestKind.CONSENT_WITHDRAWAL:
        return Ask(kind, activity=_activity(form, offered.withdrawable))
    if kind is RequestKind.PORTABILITY:
        return Ask(kind, destination=_destination(form))
    return Ask(kind)


def _destination(form: Form) -> Destination | None:
    """The other provider's HTTPS address a portable copy is sent to (Art. 20(2), R-6), if given."""
    text = _field(form, "destination").strip()
    if not text:
        return None
    try:
        return destination(text)
    except DestinationError as exc:
        text = _DESTINATION_REFUSED.get(str(exc), _DESTINATION_REFUSED["not an address"])
        raise FormError(422, Message(text)) from None
