"""The text of the mail that carries a link, in the language the privacy center was used in.

It says who sends it and why, that the link works once and for thirty minutes, what
the person can do with it, and that a mail nobody asked for can be ignored.  It never
says whether we hold data about the address: the mail goes out either way (R-13).
"""

from __future__ import annotations

from privateline.services.pages import Pages


def N_(text: str) -> str:  # noqa: N802 - the gettext convention: marked for the catalog, translated later
    return text


SUBJECT = N_("Your link to what we hold about this e-mail address")
BODY = N_(
    "Hello,\n"
    "\n"
    "someone, hopefully you, asked in our privacy center to see what we hold about this e-mail address. "
    "Open this link to see it:\n"
    "\n"
    "%(link)s\n"
    "\n"
    "The link works once, for %(minutes)s minutes. If we hold data about this address, you will see it there "
    "and can download it, have it erased or stop all marketing to the address; if we hold none, the page says so.\n"
    "\n"
    "If you did not ask for this, ignore this mail: nothing is shown to anyone without the link.\n"
    "\n"
    "%(controller)s\n"
)


def link_letter(pages: Pages, lang: str, link: str, minutes: int, controller: str) -> tuple[str, str]:
    """The subject and the plain-text body of the mail."""
    _ = pages.gettext(lang)
    body = str(_(BODY)) % {"link": link, "minutes": minutes, "controller": controller}
    return str(_(SUBJECT)), body
