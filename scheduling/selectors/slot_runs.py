"""Open starts as runs, and the slots made from them on demand.

A run is one physician's open starts first, first + step, ..., last: (first, physician pk,
last), instants in integer microseconds since the epoch (UTC). The slot search
(scheduling.selectors.slots) finds each physician's runs; what depends on the patient and
on the moment (their own appointments, the minimum notice) is taken out of the runs
afterwards, so that a search's physician side can be kept (scheduling.selectors.slot_cache).
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import overload
from uuid import UUID
from zoneinfo import ZoneInfo

from accounts.models import PhysicianProfile

Run = tuple[int, int, int]  # first, physician pk, last (so runs sort as slots are ordered)
_FIRST, _LAST = operator.itemgetter(0), operator.itemgetter(2)

_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def microseconds_of(instant: datetime) -> int:
    """An instant as integer microseconds since the epoch (UTC), exactly."""
    return (instant - _EPOCH) // timedelta(microseconds=1)


def instant_of(microseconds: int) -> datetime:
    """The UTC instant (tzinfo ZoneInfo("UTC"), as the slots always had)."""
    return _EPOCH + timedelta(microseconds=microseconds)


@dataclass(frozen=True)
class Shown:
    """What a slot shows of its physician (none of it PHI: it is kept with the physician
    side of a search)."""

    public_id: UUID
    name: str
    title: str


@dataclass(frozen=True)
class Slot:
    physician: PhysicianProfile
    starts_at: datetime  # UTC
    ends_at: datetime


def runs_within(runs: list[Run], low: int, high: int, step: int) -> list[Run]:
    """The starts in [low, high) of each run."""
    # The common case (a range that starts past the notice): every run inside, seen from
    # the least first start and the greatest last one (no tuple made or compared).
    if not runs or (min(map(_FIRST, runs)) >= low and max(map(_LAST, runs)) < high):
        return runs
    kept = []
    for first, pk, last in runs:
        if first < low:
            first += -(-(low - first) // step) * step
        if last >= high:
            last -= ((last - high) // step + 1) * step
        if first <= last:
            kept.append((first, pk, last))
    return kept


def runs_without(runs: list[Run], taken: list[tuple[int, int]], step: int) -> list[Run]:
    """The starts of each run outside every open interval (a, b) of `taken`: a start s
    with a < s < b meets something (see slots._Search.runs_of for what)."""
    if not taken:
        return runs
    taken = sorted(taken)
    kept = []
    for first, pk, last in runs:
        for a, b in taken:
            if b <= first or a >= last:
                continue  # s = a and s = b are free: only starts strictly inside go
            if a >= first:
                # The run's starts up to a stay.
                kept.append((first, pk, first + (a - first) // step * step))
            first += -(-(b - first) // step) * step  # the first start at or after b
            if first > last:
                break
        if first <= last:
            kept.append((first, pk, last))
    return [run for run in kept if run[0] <= run[2]]


class OpenStarts(Sequence[tuple[int, int]]):
    """(start, physician pk) of every open slot of a search, ordered by start, then
    physician, made on demand: the length is counted from the runs, and a slice makes
    only the starts in it (a page of a week's search across every physician is a few
    dozen of thousands)."""

    def __init__(self, runs: list[Run], *, step: int) -> None:
        # Ordered as the merge wants them: first start, then physician (a Run's order;
        # runs that come sorted, as a search's do, cost one pass).
        self._runs = sorted(runs)
        self._step = step
        # A run holds (last - first) // step + 1 starts, last - first being a multiple of
        # step: summed, that is the sums' difference over step plus one per run.
        firsts = sum(map(operator.itemgetter(0), self._runs))
        lasts = sum(map(operator.itemgetter(2), self._runs))
        self._count = (lasts - firsts) // step + len(self._runs)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if isinstance(index, int):
            position = range(self._count)[index]  # IndexError out of range
            return next(itertools.islice(self._starts(), position, position + 1))
        start, stop, stride = index.indices(self._count)
        return list(itertools.islice(self._starts(), start, stop, stride))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self._starts()

    def _starts(self) -> Iterator[tuple[int, int]]:
        """Runs join the merge as the walk reaches their first start, so a first page
        touches only the runs it needs."""
        runs, step = self._runs, self._step
        waiting = 0
        heap: list[tuple[int, int, int]] = []  # next start, pk, last
        while heap or waiting < len(runs):
            while waiting < len(runs) and (not heap or runs[waiting][:2] < heap[0][:2]):
                heapq.heappush(heap, runs[waiting])
                waiting += 1
            start, pk, last = heap[0]
            if start + step <= last:
                heapq.heapreplace(heap, (start + step, pk, last))
            else:
                heapq.heappop(heap)
            yield start, pk


class OpenSlots(Sequence[Slot]):
    """Every open slot of a search, ordered by start, then physician, made on demand from
    `starts` (which a caller that needs no Slot objects can page instead, with `shown`:
    every physician of the runs as a slot shows them). Physicians not already known are
    read when a slice first needs them (one query per slice)."""

    def __init__(
        self,
        runs: list[Run],
        *,
        step: int,
        length: timedelta,
        physicians: dict[int, PhysicianProfile] | None = None,
        shown: dict[int, Shown] | None = None,
    ) -> None:
        self.starts = OpenStarts(runs, step=step)
        self.shown = shown or {}
        self._length = length
        self._physicians = dict(physicians or {})

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> Slot: ...

    @overload
    def __getitem__(self, index: slice) -> list[Slot]: ...

    def __getitem__(self, index: int | slice) -> Slot | list[Slot]:
        if isinstance(index, int):
            return self._slots([self.starts[index]])[0]
        return self._slots(self.starts[index])

    def __iter__(self) -> Iterator[Slot]:
        return iter(self._slots(self.starts))

    def _slots(self, starts: Iterable[tuple[int, int]]) -> list[Slot]:
        found = list(starts)
        if missing := {pk for _, pk in found} - self._physicians.keys():
            # What a slot shows of its physician; not the account's (encrypted) email.
            self._physicians |= (
                PhysicianProfile.objects.select_related("user", "schedule")
                .defer("user__email", "user__password")
                .in_bulk(missing)
            )
        slots = []
        for start, pk in found:
            instant = instant_of(start)
            slots.append(Slot(self._physicians[pk], instant, instant + self._length))
        return slots
