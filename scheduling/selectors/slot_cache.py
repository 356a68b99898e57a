"""The physician side of recent slot searches, kept in the cache for a few seconds.

A search's physician side (every candidate's open starts, before the patient's own
appointments and the minimum notice are taken out: scheduling.selectors.slot_runs) is the
same for every patient of a state searching the same days. It is kept under the search's
shape for SLOT_SEARCH_CACHE_SECONDS, stamped with a generation that every write which can
change it bumps once committed (`slots_changed`: bookings, cancellations, visit endings,
availability). A kept entry of another generation is not used.

What no bump covers is bounded by the few seconds: a credential changed in accounts (a
license suspended) or a row written past the services. Showing a slot a little too long
is the only cost: booking asks `slot_offered`, which never reads the cache, and the
exclusion constraints hold whatever a search showed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from core.throttling import redis_client
from scheduling.selectors.slot_runs import Run, Shown

GENERATION_KEY = "scheduling:slots:generation"

_Side = tuple[list[Run], dict[int, Shown]]


def slots_changed() -> None:
    """Retire every kept search once the current transaction commits (at once outside
    one): bumped after the commit, a search can never keep what it read before it under
    the new generation."""
    transaction.on_commit(_bump)


def _bump() -> None:
    # One INCR on the cache's own key (a count is stored as a plain integer, which the
    # cache reads back as one): Django's cache.incr asks EXISTS first, a second round trip
    # on every booking. Never bumped, or evicted, INCR starts again from 1: any new value
    # retires what was kept.
    redis_client().incr(cache.make_key(GENERATION_KEY))


def physician_runs_kept(shape: str, compute: Callable[[], _Side]) -> _Side:
    """The physician side of the search `shape` names (its runs, and the physicians as
    slots show them), kept or computed (and then kept)."""
    seconds = settings.SLOT_SEARCH_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    # "side2": runs (first, pk, last) with the physicians shown; a new name whenever the
    # kept form changes, so processes of two versions never read each other's.
    key = f"scheduling:slots:side2:{shape}"
    found = cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY, 0)
    kept = found.get(key)
    if kept is not None and kept[0] == generation:
        side: _Side = kept[1]
        return side
    side = compute()
    cache.set(key, (generation, side), timeout=seconds)
    return side
