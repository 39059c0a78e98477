"""`GET /privacy-center`: the rights in brief, who is responsible, and where each data subject goes.

Every text about the rights and every party comes from the loaded register through
`privateline.register.notice.disclosure`, translated exactly as in the privacy notice;
the page's own texts are in this package's catalogs (en, de, nl).  Each kind of subject
is sent to the channel that proves who they are: the owners and users of the
operator's phones to the device portal (number and device password, `/device/rights`),
website visitors to their browser's cookie settings (`/cookie-settings`), and newsletter
recipients to the e-mail channel (`/privacy-center/email`, `services.privacy.email_link`):
the address they enter gets a signed single-use link, and the answer is the same for
every address.  Customers are told plainly that no customer data exists yet, and
where to write.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from privateline.register.loader import LoadedRegister
from privateline.register.notice import disclosure
from privateline.services.pages import Pages, request_language
from privateline.services.privacy.email_link.link import LIFETIME

PATH = "/privacy-center"
DEVICE_RIGHTS = "/device/rights"
COOKIE_SETTINGS = "/cookie-settings"
EMAIL_LINK = "/privacy-center/email"

_pages = Pages("privateline.services.privacy.center")


def privacy_center_router(loaded: LoadedRegister) -> APIRouter:
    """The privacy center's landing page, from the loaded register."""

    @cache
    def told(lang: str) -> dict[str, Any]:
        return disclosure(loaded.register, loaded.version, [], lang)

    async def page(request: Request) -> Response:
        lang = request_language(request)
        texts = told(lang)
        return _pages.response(
            request,
            "center.html.j2",
            lang=lang,
            here=PATH,
            device_rights=DEVICE_RIGHTS,
            cookie_settings=COOKIE_SETTINGS,
            email_link=EMAIL_LINK,
            link_minutes=int(LIFETIME.total_seconds() // 60),
            rights=texts["rights"],
            controller=texts["controller"],
            dpo=texts["data_protection_officer"],
            authority=texts["supervisory_authority"],
            example_values=loaded.register.uses_example_values,
        )

    router = APIRouter()
    router.add_api_route(PATH, page, methods=["GET"], include_in_schema=False)
    return router
