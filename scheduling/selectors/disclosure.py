"""What a patient is told about their physician before a telehealth visit.

New Jersey requires the provider's identity, license number and board certification to
be disclosed before a telehealth visit; the booking response and the appointment the
confirmation links to carry this for every patient (it costs nothing elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import PhysicianProfile, StateLicense
from scheduling.models import PhysicianSchedule


@dataclass(frozen=True)
class Disclosure:
    state: str
    name: str
    title: str  # "MD, Psychiatrist": the physician's own words, from their schedule
    license_number: str  # "" when the physician holds no license in `state`
    board_certification: str


def physician_disclosure(physician: PhysicianProfile, state: str) -> Disclosure:
    """The physician's identity, title, board certification and license number in
    `state` (the patient's). Reads the prefetched licenses and schedule when present."""
    try:
        schedule: PhysicianSchedule | None = physician.schedule
    except PhysicianSchedule.DoesNotExist:
        schedule = None
    license_: StateLicense | None = next(
        (item for item in physician.licenses.all() if item.state == state), None
    )
    return Disclosure(
        state=state,
        name=f"{physician.first_name} {physician.last_name}".strip(),
        title=schedule.title if schedule else "",
        license_number=license_.number if license_ else "",
        board_certification=schedule.board_certification if schedule else "",
    )
