"""Rendering the services' HTML pages in English, German and Dutch.

Each service keeps its templates (`templates/`) and its gettext catalog
(`locale/<lang>/LC_MESSAGES/messages.po`) beside its code.  The language comes from
`?lang=`, then Accept-Language, then English, exactly as for the notice.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from privateline.register.i18n import negotiate, package_translations


def request_language(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


class Pages:
    """The templates and translations of one service package."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.env = Environment(
            loader=PackageLoader(package, "templates"),
            autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def gettext(self, lang: str) -> Any:
        return package_translations(self.package, lang).gettext

    def render(self, template: str, lang: str, **context: Any) -> str:
        translate = package_translations(self.package, lang)
        return self.env.get_template(template).render(
            lang=lang, _=translate.gettext, gettext=translate.gettext, ngettext=translate.ngettext, **context
        )

    def response(
        self, request: Request, template: str, status_code: int = 200, lang: str | None = None, **context: Any
    ) -> HTMLResponse:
        chosen = lang or request_language(request)
        return HTMLResponse(
            self.render(template, chosen, **context),
            status_code=status_code,
            headers={"Content-Language": chosen, "Vary": "Accept-Language, Cookie"},
        )
