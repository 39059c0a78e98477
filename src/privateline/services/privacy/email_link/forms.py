"""Reading the channel's forms: small, urlencoded, from this site's own pages.

A form is read by hand with a size limit, as `application/x-www-form-urlencoded` only.
A post is accepted only from the site's own pages (`Sec-Fetch-Site`, else `Origin`, as
OWASP's CSRF guidance describes): another site cannot make a visitor's browser ask for
links, redeem one or file a request.  Forms that act for a verified person also carry
the session's CSRF token (`session`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request

MAX_FORM_BYTES = 4 * 1024
MAX_FIELDS = 8

Form = dict[str, str]


class FormRefusedError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        # Browsers send Origin with every form post; a client without it is not a page
        # of another site (CSRF needs a victim's browser).
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def read_form(request: Request) -> Form:
    """The fields of the posted form (the first value of each); raises `FormRefusedError`."""
    if not same_origin(request):
        raise FormRefusedError(403)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("application/x-www-form-urlencoded", ""):
        raise FormRefusedError(415)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise FormRefusedError(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormRefusedError(413)
    if not media and body:
        raise FormRefusedError(415)
    try:
        pairs = parse_qsl(bytes(body).decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormRefusedError(400) from None
    form: Form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form
