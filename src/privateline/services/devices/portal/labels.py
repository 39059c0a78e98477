"""Readable names for what the portal shows, marked for the portal's gettext catalog.

The data categories and activities come from the stores' declarations; their names are
those of the shipped register, in English here and in German and Dutch in the
portal's catalogs.  A category or activity without a name here (an operator's own) is
shown by its key, which is also always shown beside the name.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker, read by `pybabel extract`
    """Mark `message` for translation; it is translated where it is shown."""
    return message


PASSWORD_CATEGORY = "user.authorization.device_password"  # noqa: S105 - a category key, not a secret

CATEGORY_LABELS: dict[str, str] = {
    "user.telecom.number": N_("In-network phone number of the device"),
    "user.authorization.device_password": N_("Device-specific passwords assigned by the system"),
    "user.device.serial_number": N_("Serial or part number of the device"),
    "user.device.mac_address": N_("MAC address of the device"),
    "user.device.private_address": N_("Private IP address and port of the device"),
    "user.device.public_ip_address": N_("Public IP address of your internet connection"),
    "user.device.internal_ip_address": N_("Internal IP address your router gave the device"),
    "user.device.product_name": N_("Product name of the device"),
    "user.device.name": N_("Device name"),
    "user.device.software_version": N_("Software version of the device"),
    "user.device.update_decision": N_("Whether you accepted or declined a software update"),
    "user.device.service_switches": N_("Which device services are switched on"),
    "user.telecom.nickname": N_("Nickname you chose for your number"),
    "user.telecom.sip_registration": N_("SIP registration data"),
    "user.telecom.messaging_status": N_("Messaging status of the phone"),
    "user.telecom.message": N_("Short messages between phones, until delivered"),
    "user.preference.info_profile": N_("Settings for the information services"),
    "user.unique_id.pseudonymous": N_("Pseudonymous identifier that does not reveal who you are"),
    "user.rights.request": N_("Your data protection requests and what was done about them"),
}

ACTIVITY_LABELS: dict[str, str] = {
    "device_factory_records": N_("Permanent records of your phone"),
    "device_checkin": N_("Daily check-in of your phone"),
    "voip_registration": N_("Free calls between our phones"),
    "voip_nickname": N_("Nickname for your number"),
    "information_services": N_("Information services such as the weather forecast"),
    "messaging": N_("Short messages between phones"),
    "software_updates": N_("Software updates for your phone"),
    "privacy_audit_trail": N_("Audit trail of data protection measures"),
    "rights_requests": N_("Your data protection requests"),
}

TECHNICAL = N_("Technical or bookkeeping data (no personal data category)")

# Columns whose stored value is not what its category names, with what it is instead.
COLUMN_NOTES: dict[tuple[str, str], str] = {
    ("device_report", "public_network"): N_(
        "A keyed fingerprint of the public address, not the address itself: it only tells whether "
        "two reports came from the same internet connection."
    ),
    ("audit_entry", "subject"): N_("The pseudonym of your phone in the audit trail."),
}

SERVICE_LABELS: dict[str, str] = {
    "voip": N_("Calls (VoIP)"),
    "info": N_("Information services"),
    "messaging": N_("Instant messaging"),
}

SERVICE_DESCRIPTIONS: dict[str, str] = {
    "voip": N_("Free calls between our phones. Switching it off deletes the nickname of your number."),
    "info": N_(
        "Weather forecast, biorhythm and other information on the phone. Switching it off deletes the "
        "profile of the information services."
    ),
    "messaging": N_("Short messages between our phones. Switching it off deletes the data it needed."),
}


def category_label(key: str) -> str:
    return CATEGORY_LABELS.get(key, key)


def activity_label(key: str) -> str:
    return ACTIVITY_LABELS.get(key, key)


# The data subject's rights (`/device/rights`) ------------------------------------

REQUEST_KIND_LABELS: dict[str, str] = {
    "access": N_("Access"),
    "portability": N_("Data portability"),
    "rectification": N_("Rectification"),
    "erasure": N_("Erasure"),
    "restriction": N_("Restriction of processing"),
    "objection": N_("Objection"),
    "consent_withdrawal": N_("Withdrawal of consent"),
}

REQUEST_STATE_LABELS: dict[str, str] = {
    "received": N_("Received"),
    "identity_verified": N_("Identity verified; waiting for the data protection officer"),
    "in_progress": N_("In progress with the data protection officer"),
    "extended": N_("Extended"),
    "completed": N_("Completed"),
    "refused": N_("Refused"),
}

# Rectification field by field: the fields the stores declare rectifiable.
FIELD_LABELS: dict[str, str] = {
    "nickname": N_("Nickname of your number"),
    "city": N_("City for the weather forecast"),
    "birth_date": N_("Birth date for the biorhythm"),
}

FIELD_UNAVAILABLE: dict[str, str] = {
    "nickname": N_("Switch calls (VoIP) on first: the nickname belongs to the call service."),
    "city": N_("Switch the information services on first: the profile belongs to them."),
    "birth_date": N_("Switch the information services on first: the profile belongs to them."),
}

ALL_PROCESSING = N_("All processing of your phone's data")

OBJECTION_STATE_LABELS: dict[str, str] = {
    "upheld": N_("You objected: this processing has stopped."),
    "pending": N_("You objected: this processing has stopped until our data protection officer has decided."),
    "overridden": N_("Your objection was weighed: compelling legitimate grounds override it."),
}


def field_label(key: str) -> str:
    return FIELD_LABELS.get(key, key)


def objection_state_label(key: str) -> str:
    return OBJECTION_STATE_LABELS.get(key, key)


# The reasons the rights engine gives for what an erasure kept (English, from
# `privateline.services.privacy.erasure`), and how the portal words them.
_KEPT_BY_LAW = re.compile(r"kept by legal obligation \((?P<law>.+); Art\. 17\(3\)\(b\)\)")
_KEPT_ON_HOLD = re.compile(r"kept for (?P<period>.+) under (?P<law>.+) \(Art\. 17\(3\)\(b\)\)")
_KEPT_FOR_SERVICE = re.compile(r"kept because the service needs it while it is provided: (?P<columns>.+)")


def request_kind_label(key: str) -> str:
    return REQUEST_KIND_LABELS.get(key, key)


def request_state_label(key: str) -> str:
    return REQUEST_STATE_LABELS.get(key, key)


def kept_reason(why: str, gettext: Callable[[str], str]) -> str:
    """The engine's reason for keeping rows, in the page's language; an unknown reason as the engine gave it."""
    if found := _KEPT_BY_LAW.fullmatch(why):
        return gettext(
            N_("Kept because a law obliges us to keep it (%(law)s; Art. 17(3)(b) GDPR), and used for nothing else.")
        ) % {"law": found["law"]}
    if found := _KEPT_ON_HOLD.fullmatch(why):
        return gettext(N_("Kept for %(period)s under %(law)s (Art. 17(3)(b) GDPR), and used for nothing else.")) % {
            "period": found["period"],
            "law": found["law"],
        }
    if why == "kept under a legal hold":
        return gettext(N_("Kept under a legal hold, and used for nothing else."))
    if found := _KEPT_FOR_SERVICE.fullmatch(why):
        return gettext(N_("Kept because your phone cannot be used without it while it is in service: %(columns)s.")) % {
            "columns": found["columns"]
        }
    return why


# What became of a portable copy sent to another provider (Art. 20(2), R-6).
_TRANSMISSION_REASONS: dict[str, str] = {
    "timeout": N_("the provider did not answer in time"),
    "refused address": N_("the address leads into a private or otherwise protected network"),
    "unknown host": N_("the provider's host name could not be found"),
    "CA file unusable": N_("a technical problem on our side"),
    "internal error": N_("a technical problem on our side"),
}
_HTTP_STATUS = re.compile(r"HTTP (?P<status>[0-9]{3})")


def transmission_outcome(
    host: str, delivered: bool, status: int | None, reason: str | None, gettext: Callable[[str], str]
) -> str:
    """The outcome of a transmission as the owner reads it: the host, and delivered or why not."""
    if delivered:
        return gettext(N_("Sent to %(host)s (the provider answered with HTTP status %(status)s).")) % {
            "host": host,
            "status": status,
        }
    why: str
    if reason is not None and (found := _HTTP_STATUS.fullmatch(reason)) is not None:
        why = gettext(N_("the provider refused it with HTTP status %(status)s")) % {"status": found["status"]}
    elif reason in _TRANSMISSION_REASONS:
        why = gettext(_TRANSMISSION_REASONS[reason])
    else:
        why = gettext(N_("the connection to the provider failed"))
    return gettext(N_("Not sent to %(host)s: %(reason)s.")) % {"host": host, "reason": why}
