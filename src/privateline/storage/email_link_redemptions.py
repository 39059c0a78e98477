"""The store of redeemed e-mail links: what makes a signed link work once (R-13).

A newsletter recipient (later a customer) proves who they are by opening a signed,
time-limited link sent to their address (`services.privacy.email_link`).  The link
carries a random nonce; redeeming it inserts the nonce here, and the primary key
refuses a second insert, so a replayed link is refused even by two processes or two
database connections racing for it.

The address is never stored: a row names the subject only by the address's keyed
pseudonym.  The store belongs to the rights-request activity, whose register
retention (three years, counted here from the redemption) far outlives the thirty
minutes a link is valid, so a nonce is never swept while its link could still be
used.  That activity rests on a legal obligation (Art. 12 GDPR: identity is checked
before a request is answered; Art. 5(2): we can show we did), so an erasure keeps
these rows (Art. 17(3)(b)); that too keeps a used link from working again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Connection, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from privateline.storage.declarations import Erasure, StoreDeclaration, declare_store, personal, technical
from privateline.storage.metadata import metadata
from privateline.storage.types import UTCDateTime

ACTIVITY = "rights_requests"
NONCE_LENGTH = 32

email_link_redemption = declare_store(
    Table(
        "email_link_redemption",
        metadata,
        # Random (128 bits, URL-safe): worthless once redeemed, and it names nobody.
        Column("nonce", String(NONCE_LENGTH), primary_key=True, info=technical()),
        Column("subject_kind", String(32), nullable=False, info=technical()),
        Column("subject", String(64), nullable=False, index=True, info=personal("user.unique_id.pseudonymous")),
        Column("redeemed_at", UTCDateTime, nullable=False, info=personal("user.rights.request")),
    ),
    StoreDeclaration(
        activity=ACTIVITY,
        subject_kind="*",
        subject_column="subject",
        anchor_column="redeemed_at",
        erasure=Erasure.DELETE,
    ),
)


class EmailLinkRedemptions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def redeemed(self, nonce: str) -> bool:
        query = select(email_link_redemption.c.nonce).where(email_link_redemption.c.nonce == nonce)
        return self._c.execute(query).first() is not None

    def redeem(self, nonce: str, subject_kind: str, subject: str, now: datetime) -> bool:
        """Record the nonce as used; False when it was used before (nothing is written then).

        The insert runs in a savepoint, so a refused one leaves the caller's transaction usable.
        """
        if len(nonce) > NONCE_LENGTH:
            return False
        try:
            with self._c.begin_nested():
                self._c.execute(
                    insert(email_link_redemption).values(
                        nonce=nonce, subject_kind=subject_kind, subject=subject, redeemed_at=now
                    )
                )
        except IntegrityError:
            return False
        return True
