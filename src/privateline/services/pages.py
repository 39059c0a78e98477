"""Rendering the services' HTML pages in English, German and Dutch.

Each service keeps its templates (`templates/`) and its gettext catalog
(`locale/<lang>/LC_MESSAGES/messages.po`) beside its code.  The language comes from
`?lang=`, then Accept-Language, then English, exactly as for the notice.

Every customer-facing page also carries the site's chrome: the "Cookie settings" link
and, until the visitor has answered, the consent banner (WEB-8).  The application puts
the provider in `app.state.site_chrome` at start-up; `Pages.response` adds what it
returns before `</body>`, so no page, present or future, can forget it.  Staff pages
(the DPO console) and the cookie settings page itself are made with `chrome=False`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from privateline.register.i18n import negotiate, package_translations


def request_language(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


# Given the request and the page's language, the HTML to add at the end of the page's body.
SiteChrome = Callable[[Request, str], str]


def _chrome_of(request: Request) -> SiteChrome | None:
    app = request.scope.get("app")
    state = getattr(app, "state", None)
    provider = getattr(state, "site_chrome", None)
    return provider if callable(provider) else None


def with_chrome(html: str, request: Request, lang: str) -> str:
    """The page with the site's chrome added before `</body>` (unchanged when the app has none)."""
    provider = _chrome_of(request)
    if provider is None:
        return html
    at = html.rfind("</body>")
    chrome = provider(request, lang)
    return html[:at] + chrome + html[at:] if at >= 0 else html + chrome


class Pages:
    """The templates and translations of one service package."""

    def __init__(self, package: str, *, chrome: bool = True) -> None:
        self.package = package
        self.chrome = chrome
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
        html = self.render(template, chosen, **context)
        if self.chrome:
            html = with_chrome(html, request, chosen)
        return HTMLResponse(
            html,
            status_code=status_code,
            headers={"Content-Language": chosen, "Vary": "Accept-Language, Cookie"},
        )
