"""One running instance, wired once at start-up: settings, register, database, keys, clock.

Nothing connects to anything at import time; `build_system` does it, and the CLI, the
server and the tests all go through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import Table

from privateline.app.config import Settings
from privateline.app.keys import instance_key
from privateline.app.stores import WITHOUT_STORE, all_tables
from privateline.kernel.clock import Clock, SystemClock
from privateline.kernel.pseudonym import Pseudonymizer
from privateline.register.loader import LoadedRegister, load_register
from privateline.services.devices.records import SUBJECT
from privateline.services.devices.subject import device_resolver
from privateline.services.privacy.email_link.address import NEWSLETTER_RECIPIENT, pseudonym_resolver
from privateline.services.privacy.email_link.mail import sweep_outbox
from privateline.services.privacy.engine import RightsEngine
from privateline.services.privacy.recipients import DeliveryReport, Endpoint, RecipientDelivery
from privateline.services.site.consent.visitor import SUBJECT as WEBSITE_VISITOR
from privateline.services.voip.bindings import delete_expired
from privateline.storage.audit_log import AuditLog
from privateline.storage.conformance import CheckReport, check_declarations, check_schema, merge
from privateline.storage.database import Database, sqlite_url
from privateline.storage.erasure_file import ErasureFile
from privateline.storage.notice_versions import NoticeVersions
from privateline.storage.sweeps import SweepResult, sweep

log = structlog.get_logger("privateline")


@dataclass
class System:
    settings: Settings
    loaded: LoadedRegister
    database: Database
    clock: Clock
    pseudonymizer: Pseudonymizer
    session_key: bytes
    tables: list[Table]

    @property
    def rights(self) -> RightsEngine:
        """The rights engine over this instance's stores (R-2 to R-9)."""
        return RightsEngine(
            self.database,
            self.tables,
            self.loaded,
            self.clock,
            ErasureFile(Path(self.settings.data_dir)),
            {
                SUBJECT: device_resolver(self.pseudonymizer),
                # Subjects known only by their pseudonym: it is their key in every store.
                NEWSLETTER_RECIPIENT: pseudonym_resolver(NEWSLETTER_RECIPIENT),
                WEBSITE_VISITOR: pseudonym_resolver(WEBSITE_VISITOR),
            },
        )

    def check(self) -> CheckReport:
        """`privateline check`: declarations against the register and the live schema."""
        return merge(
            check_declarations(
                self.loaded.register,
                self.tables,
                dormant_activities=self.loaded.dormant_activities,
                without_store=WITHOUT_STORE,
            ),
            check_schema(self.database.engine, self.tables),
        )

    def sweep(self) -> list[SweepResult]:
        with self.database.unit_of_work() as uow:
            results = sweep(uow.connection, self.loaded.register, self.tables, self.clock.now())
            # SIP bindings have no period from an anchor: each ends at its own expiry plus the
            # grace period the register states (DEV-4).  The SIP process sweeps them too; this
            # catches them when no SIP process runs.
            expired = delete_expired(uow.connection, self.clock.now())
            uow.commit()
        if expired:
            log.info("retention sweep", store="sip_binding", removed=len(expired))
        mails = sweep_outbox(Path(self.settings.data_dir), self.clock.now())
        if mails:
            log.info("retention sweep", store="outbox-mail", removed=mails)
        for r in results:
            log.info("retention sweep", activity=r.activity, store=r.store, removed=r.removed)
        return results

    def deliver_recipient_notices(self) -> DeliveryReport:
        """Send the due Art. 19 notices to recipients (R-5); run it every minute or so.

        It blocks on HTTP (bounded by timeouts): call it from a thread, not the event loop.
        """
        endpoints = {
            rid: Endpoint(e.url, e.secret.get_secret_value().encode("utf-8"), e.ca_file)
            for rid, e in self.settings.recipient_endpoints.items()
        }
        report = RecipientDelivery(self.database, self.loaded.register, endpoints, self.clock).run()
        if report.delivered or report.retried or report.failed:
            log.info("recipient notices", delivered=report.delivered, retried=report.retried, failed=report.failed)
        return report

    def publish_notice(self) -> bool:
        """Record the current register version as published (WEB-14); True if it is new."""
        register_json = json.dumps(self.loaded.register.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        now = self.clock.now()
        with self.database.unit_of_work() as uow:
            new = NoticeVersions(uow.connection).publish(self.loaded.version, register_json, now)
            if new:
                AuditLog(uow.connection).append(now, "notice.published", None, {"version": self.loaded.version})
            uow.commit()
        return new

    def close(self) -> None:
        self.database.dispose()


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.data_dir)


def build_system(settings: Settings, clock: Clock | None = None, register: LoadedRegister | None = None) -> System:
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    loaded = register if register is not None else load_register(settings.register_path)
    return System(
        settings=settings,
        loaded=loaded,
        database=Database.open(database_url(settings)),
        clock=clock or SystemClock(),
        pseudonymizer=Pseudonymizer(instance_key(data_dir, "pseudonym", settings.pseudonym_key)),
        session_key=instance_key(data_dir, "session", settings.session_key),
        tables=all_tables(),
    )
