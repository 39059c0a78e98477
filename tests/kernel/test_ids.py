"""Ids people paste into commands never look like an option (`privateline rights export ID`)."""

from __future__ import annotations

import re

from privateline.kernel.ids import public_id


def test_ids_are_url_safe_unguessable_and_never_begin_with_a_dash() -> None:
    # Plain token_urlsafe begins with "-" once in 64; among 10,000 ids that would be ~156.
    ids = [public_id() for _ in range(10_000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
    assert len(set(ids)) == len(ids)
