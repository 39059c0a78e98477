"""The console's record pages: the register and its Art. 30 export, the retention sweeps, the audit chain.

What each page shows comes from the loaded register and the database; nothing here
changes data except the audit entry that records a verification of the chain (R-12).
The pages build on the console's sessions and layout (`http.Console`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from markupsafe import Markup
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from privateline.kernel.audit import Verification
from privateline.kernel.retention import retention_cut
from privateline.register.notice import notice_view, render_notice
from privateline.register.ropa import RopaFormat, render_ropa
from privateline.storage.audit_log import AuditLog
from privateline.storage.sweeps import retention_sweep

if TYPE_CHECKING:
    from privateline.services.dpo.http import Console, Officer

PATH = "/dpo"
LAST_SWEEPS = 5  # sweeps shown per retention rule and store
LANGUAGES = ("en", "de", "nl")


@dataclass(frozen=True)
class SweepRow:
    at: datetime
    cutoff: datetime
    removed: int


@dataclass(frozen=True)
class RuleSweeps:
    activity: str
    name: str
    period: str | None
    store: str | None
    sweeps: list[SweepRow]


def notice_body(document: str) -> Markup:
    """The `<main>` of the rendered notice (autoescaped by its own templates), to show inside a console page."""
    start, end = document.find("<main>"), document.rfind("</main>")
    if start < 0 or end < start:
        return Markup(document)  # noqa: S704 - rendered by the notice's autoescaping templates
    return Markup(document[start + len("<main>") : end])  # noqa: S704 - as above


class RecordPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    # The register --------------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        officer = await self.console.officer(request)
        if officer is None:
            return self.console.to_sign_in(request)
        lang = request.query_params.get("lang", "en")
        if lang not in LANGUAGES:
            lang = "en"
        view = notice_view(self.console.loaded.register, self.console.loaded.version, lang)
        return self.console.page(
            "register.html.j2",
            officer.session,
            officer,
            version=self.console.loaded.version,
            lang=lang,
            languages=LANGUAGES,
            notice=notice_body(render_notice(view, "html")),
            disabled_parts=sorted(self.console.loaded.disabled_parts),
        )

    async def ropa(self, request: Request) -> Response:
        officer = await self.console.officer(request)
        if officer is None:
            return self.console.to_sign_in(request)
        fmt: RopaFormat = "json" if request.url.path.endswith(".json") else "csv"
        body = render_ropa(self.console.loaded.register, self.console.loaded.version, fmt)
        media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
        response = Response(
            body.encode("utf-8"),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="ropa-{self.console.loaded.version}.{fmt}"'},
        )
        self.console.sessions.write(response, self.console.sessions.touch(officer.session))
        return self.console.private(response)

    # The retention sweeps -------------------------------------------------------------

    def _read_sweeps(self) -> list[RuleSweeps]:
        ranked = select(
            retention_sweep,
            func.row_number()
            .over(
                partition_by=(retention_sweep.c.activity, retention_sweep.c.store),
                order_by=(retention_sweep.c.at.desc(), retention_sweep.c.id.desc()),
            )
            .label("recent"),
        ).subquery()
        query = (
            select(ranked)
            .where(ranked.c.recent <= LAST_SWEEPS)
            .order_by(ranked.c.activity, ranked.c.store, ranked.c.recent)
        )
        found: dict[tuple[str, str], list[SweepRow]] = {}
        with self.console.database.reading() as connection:
            for row in connection.execute(query):
                found.setdefault((row.activity, row.store), []).append(SweepRow(row.at, row.cutoff, row.removed))
        register = self.console.loaded.register
        now = self.console.clock.now()
        rules: list[RuleSweeps] = []
        for aid, activity in register.activities.items():
            period = None if retention_cut(aid, activity, now) is None else str(activity.retention.period)
            stores = sorted(store for (a, store) in found if a == aid)
            if not stores and period is not None:
                rules.append(RuleSweeps(aid, activity.name.en, period, None, []))
            for store in stores:
                rules.append(RuleSweeps(aid, activity.name.en, period, store, found[(aid, store)]))
        for (aid, store), sweeps in sorted(found.items()):
            if aid not in register.activities:  # a part switched off since, or an older register
                rules.append(RuleSweeps(aid, aid, None, store, sweeps))
        return rules

    async def sweeps(self, request: Request) -> Response:
        officer = await self.console.officer(request)
        if officer is None:
            return self.console.to_sign_in(request)
        rules = await run_in_threadpool(self._read_sweeps)
        return self.console.page("sweeps.html.j2", officer.session, officer, rules=rules, last=LAST_SWEEPS)

    # The audit chain -------------------------------------------------------------------

    async def audit_page(self, request: Request) -> Response:
        officer = await self.console.officer(request)
        if officer is None:
            return self.console.to_sign_in(request)
        return self.console.page("audit.html.j2", officer.session, officer, result=None)

    def _verify(self, officer: Officer) -> Verification:
        with self.console.database.reading() as connection:
            result = AuditLog(connection).verify()
        self.console.audit(
            officer,
            "dpo.audit_verified",
            {"intact": result.intact, "checked": result.checked, "broken_at": result.broken_at},
        )
        return result

    async def verify(self, request: Request) -> Response:
        posted = await self.console.form_of(request)
        if isinstance(posted, Response):
            return posted
        officer, _form = posted
        result = await run_in_threadpool(self._verify, officer)
        return self.console.page(
            "audit.html.j2", officer.session, officer, result=result, checked_at=self.console.clock.now()
        )

    def routes(self) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
        return [
            (f"{PATH}/register", self.register, "GET"),
            (f"{PATH}/register/ropa.csv", self.ropa, "GET"),
            (f"{PATH}/register/ropa.json", self.ropa, "GET"),
            (f"{PATH}/sweeps", self.sweeps, "GET"),
            (f"{PATH}/audit", self.audit_page, "GET"),
            (f"{PATH}/audit/verify", self.verify, "POST"),
        ]
