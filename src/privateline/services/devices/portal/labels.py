"""Readable names for what the portal shows, marked for the portal's gettext catalog.

The data categories and activities come from the stores' declarations; their names are
those of the shipped register, in English here and in German and Dutch in the
portal's catalogs.  A category or activity without a name here (an operator's own) is
shown by its key, which is also always shown beside the name.
"""

from __future__ import annotations


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
