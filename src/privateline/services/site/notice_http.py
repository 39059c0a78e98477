"""The published privacy notice: `GET /privacy` and its earlier versions (WEB-14)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.requests import Request

from privateline.register.i18n import negotiate
from privateline.register.loader import LoadedRegister
from privateline.register.model import Register
from privateline.register.notice import PublishedVersion, notice_view, render_notice
from privateline.services.pages import with_chrome
from privateline.storage.database import Database
from privateline.storage.notice_versions import NoticeVersions


def notice_router(loaded: LoadedRegister, database: Database) -> APIRouter:
    router = APIRouter()

    def history() -> list[PublishedVersion]:
        with database.reading() as connection:
            return [PublishedVersion(v.version, v.published_at) for v in NoticeVersions(connection).history()]

    def respond(request: Request, register: Register, version: str, lang: str, fmt: str) -> Response:
        view = notice_view(register, version, lang, history())
        headers = {"Content-Language": lang, "Vary": "Accept-Language"}
        if fmt == "md":
            return PlainTextResponse(render_notice(view, "md"), headers=headers, media_type="text/markdown")
        # The notice carries the cookie-settings link and the banner like every page (WEB-8).
        return HTMLResponse(with_chrome(render_notice(view, "html"), request, lang), headers=headers)

    @router.get("/privacy", summary="The privacy notice, in English, German or Dutch")
    def privacy(
        request: Request,
        lang: Annotated[str | None, Query(description="en, de or nl; otherwise from Accept-Language")] = None,
        fmt: Annotated[Literal["html", "md"], Query(alias="format")] = "html",
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        return respond(request, loaded.register, loaded.version, negotiate(lang, accept_language), fmt)

    @router.get("/privacy/versions/{version}", summary="An earlier version of the privacy notice")
    def earlier(
        request: Request,
        version: str,
        lang: str | None = None,
        fmt: Annotated[Literal["html", "md"], Query(alias="format")] = "html",
        accept_language: Annotated[str | None, Header()] = None,
    ) -> Response:
        with database.reading() as connection:
            stored = NoticeVersions(connection).register_json(version)
        if stored is None:
            raise HTTPException(404, f"no published version {version!r} of the privacy notice")
        try:
            register = Register.model_validate(json.loads(stored))
        except (ValidationError, ValueError):
            # An archived register written by an older schema; say so rather than fail.
            raise HTTPException(
                410, f"version {version!r} was published in a format this release cannot show"
            ) from None
        return respond(request, register, version, negotiate(lang, accept_language), fmt)

    return router
