"""The console's list of recipients still to be told of a change (Art. 19 GDPR, R-5).

The outbox (`storage.recipient_outbox`) sends every notice it can by itself.  What it
cannot is the DPO's to finish: notices to recipients that have no endpoint configured
("by hand": a letter or an e-mail), and notices the worker gave up on after its last
retry ("failed").  Here the DPO sees them with the change, the activities and the last
error, marks a notice informed once they told the recipient another way, or puts a
failed one back into the queue after the endpoint was fixed.  Both steps are audited
with the DPO's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from privateline.storage.audit_log import AuditLog
from privateline.storage.recipient_outbox import NoticeState, RecipientOutbox, StoredNotice

if TYPE_CHECKING:
    from privateline.services.dpo.http import Console

PATH = "/dpo/recipients"


@dataclass(frozen=True)
class NoticeLine:
    notice: StoredNotice
    recipient_name: str
    to_do: str  # what the DPO has to do, in a few words


_TO_DO = {
    NoticeState.BY_HAND: "no endpoint is configured: inform the recipient another way, then mark it informed",
    NoticeState.FAILED: "the endpoint did not accept it after every retry: fix the endpoint and send again, "
    "or inform the recipient another way",
    NoticeState.PENDING: "being sent: nothing to do yet",
}


class RecipientNotices:
    """The page and its two actions, on the console's sessions and forms."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def _lines(self) -> list[NoticeLine]:
        recipients = self.console.loaded.register.recipients
        with self.console.database.reading() as connection:
            notices = RecipientOutbox(connection).unsettled()
        order = {NoticeState.FAILED: 0, NoticeState.BY_HAND: 1, NoticeState.PENDING: 2}
        notices.sort(key=lambda n: (order.get(n.state, 3), n.created_at))
        return [
            NoticeLine(
                n,
                recipients[n.recipient].name if n.recipient in recipients else n.recipient,
                _TO_DO.get(n.state, ""),
            )
            for n in notices
        ]

    async def page(self, request: Request) -> Response:
        officer = await self.console.officer(request)
        if officer is None:
            return self.console.to_sign_in(request)
        lines = await run_in_threadpool(self._lines)
        done = request.query_params.get("done")
        return self.console.page("recipients.html.j2", officer.session, officer, lines=lines, done=done)

    def _settle(self, notice_id: str, by: str, informed: bool) -> bool:
        now = self.console.clock.now()
        with self.console.database.unit_of_work() as uow:
            outbox = RecipientOutbox(uow.connection)
            changed = outbox.settle_by_hand(notice_id, now) if informed else outbox.retry(notice_id, now)
            if changed:
                kind = "recipients.informed_by_hand" if informed else "recipients.resent"
                AuditLog(uow.connection).append(now, kind, None, {"notice": notice_id, "by": by})
                uow.commit()
        return changed

    async def _act(self, request: Request, informed: bool) -> Response:
        posted = await self.console.form_of(request)
        if isinstance(posted, Response):
            return posted
        officer, _form = posted
        notice_id = str(request.path_params["notice_id"])
        changed = await run_in_threadpool(self._settle, notice_id, self.console.by(officer), informed)
        if not changed:
            return self.console.message(
                409,
                "Nothing was changed",
                "This notice is not open for that step (already delivered, informed or unknown).",
                officer.session,
                officer,
            )
        return self.console.redirect(officer, f"{PATH}?done={'informed' if informed else 'resent'}")

    async def informed(self, request: Request) -> Response:
        return await self._act(request, informed=True)

    async def resend(self, request: Request) -> Response:
        return await self._act(request, informed=False)

    def routes(self) -> list[tuple[str, Callable[[Request], Awaitable[Response]], str]]:
        return [
            (PATH, self.page, "GET"),
            (f"{PATH}/{{notice_id}}/informed", self.informed, "POST"),
            (f"{PATH}/{{notice_id}}/resend", self.resend, "POST"),
        ]
