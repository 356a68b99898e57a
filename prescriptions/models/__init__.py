"""The catalog (compounded ketamine formulations, partner pharmacies, carriers), dosing
protocols, prescriptions and their PDMP checks, and delivery orders with their timeline.

A prescription is written once, signed, and never changes: its clinical fields and the
patient's and prescriber's details as they were at signing are a snapshot (a trigger in
PostgreSQL refuses edits, migration 0002). Fills are delivery orders: the first at
signing, one per refill after it, and replacements for lost packages.
"""

from __future__ import annotations

from prescriptions.models.catalog import Carrier as Carrier
from prescriptions.models.catalog import DosageForm as DosageForm
from prescriptions.models.catalog import Medication as Medication
from prescriptions.models.catalog import Pharmacy as Pharmacy
from prescriptions.models.catalog import Route as Route
from prescriptions.models.handoff import LocalPharmacyReceipt as LocalPharmacyReceipt
from prescriptions.models.handoff import PharmacySubmission as PharmacySubmission
from prescriptions.models.handoff import StatusReport as StatusReport
from prescriptions.models.handoff import SubmissionStatus as SubmissionStatus
from prescriptions.models.orders import DeliveryEvent as DeliveryEvent
from prescriptions.models.orders import DeliveryOrder as DeliveryOrder
from prescriptions.models.orders import EventSource as EventSource
from prescriptions.models.orders import OrderKind as OrderKind
from prescriptions.models.orders import OrderStatus as OrderStatus
from prescriptions.models.prescriptions import InPersonEvaluation as InPersonEvaluation
from prescriptions.models.prescriptions import PdmpCheck as PdmpCheck
from prescriptions.models.prescriptions import PdmpProgram as PdmpProgram
from prescriptions.models.prescriptions import Prescription as Prescription
from prescriptions.models.prescriptions import PrescriptionStatus as PrescriptionStatus
from prescriptions.models.protocols import DoseChange as DoseChange
from prescriptions.models.protocols import DosingProtocol as DosingProtocol
from prescriptions.models.protocols import ProtocolKind as ProtocolKind
from prescriptions.models.tally import DeliveryTally as DeliveryTally
