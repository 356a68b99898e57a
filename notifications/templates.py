"""Message templates. SMS bodies are generic on purpose: the practice name, a nudge and a
link into the signed-in app. No diagnosis, drug, dose, score or condition, ever (a test
scans every template). Context values are ids for links, never personal details."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.crypto import decrypt


@dataclass(frozen=True)
class Template:
    sms: str
    email_subject: str
    email_body: str
    # Keys the caller may put in the message context (validated when scheduling).
    context_keys: frozenset[str] = frozenset()


def _app_link(context: dict[str, Any]) -> str:
    return settings.PUBLIC_APP_URL.rstrip("/") + "/" + str(context.get("path", "")).lstrip("/")


TEMPLATES: dict[str, Template] = {
    "appointment_reminder": Template(
        sms="{practice}: you have an upcoming check-in. Details: {link}",
        email_subject="Your upcoming check-in",
        email_body="You have an upcoming check-in with {practice}. See the details: {link}",
        context_keys=frozenset({"path"}),
    ),
    # Booking (scheduling.services.booking): the patient and the visit's physician get
    # the same generic wording; the link opens the appointment in the signed-in app,
    # where the physician disclosure New Jersey asks for is shown.
    "appointment_confirmation": Template(
        sms="{practice}: your appointment is confirmed. Details: {link}",
        email_subject="Your appointment is confirmed",
        email_body="Your appointment with {practice} is confirmed. See the details: {link}",
        context_keys=frozenset({"path"}),
    ),
    "appointment_changed": Template(
        sms="{practice}: your appointment has a new time. Details: {link}",
        email_subject="Your appointment has a new time",
        email_body="Your appointment with {practice} has a new time. See the details: {link}",
        context_keys=frozenset({"path"}),
    ),
    # Ops admins: a delivery order is overdue (prescriptions.services.overdue).
    "delivery_overdue": Template(
        sms="{practice}: a delivery needs attention. Details: {link}",
        email_subject="A delivery needs attention",
        email_body="A delivery order is overdue and needs attention. See the order: {link}",
        context_keys=frozenset({"path"}),
    ),
    # Ops admins: a booked visit's physician may no longer see the patient in their state
    # on the visit's date (scheduling.services.authority_alerts).
    "visit_physician_not_authorized": Template(
        sms="{practice}: a booked visit needs attention. Details: {link}",
        email_subject="A booked visit needs attention",
        email_body="The physician of a booked visit is not authorized in the patient's state "
        "on the visit's date (a license or registration lapsed). Renew it or move the "
        "visit: {link}",
        context_keys=frozenset({"path"}),
    ),
    "appointment_canceled": Template(
        sms="{practice}: your appointment was canceled. Details: {link}",
        email_subject="Your appointment was canceled",
        email_body="Your appointment with {practice} was canceled. See the details: {link}",
        context_keys=frozenset({"path"}),
    ),
    "checkin_followup": Template(
        sms="{practice}: how are you feeling today? Reply with a number from 1 to 10, "
        "or open {link}",
        email_subject="How are you feeling?",
        email_body="{practice} would like to hear how you are doing: {link}",
        context_keys=frozenset({"path"}),
    ),
    # The immediate answer to an unreadable reply to "checkin_followup" (once per visit).
    "followup_help": Template(
        sms="{practice}: please reply with a number from 1 to 10.",
        email_subject="How are you feeling?",
        email_body="{practice}: please reply with a number from 1 to 10.",
    ),
    # Physicians (scheduling.services.visits): a visit they started is still not completed.
    "visit_unfinished": Template(
        sms="{practice}: a visit you started is not completed yet. Complete it: {link}",
        email_subject="A visit is waiting to be completed",
        email_body="A visit you started has ended but is not completed yet; until it is, it "
        "does not count as the patient's check-in. Complete it: {link}",
        context_keys=frozenset({"path"}),
    ),
    "checkin_due": Template(
        sms="{practice}: it is time to book your next check-in: {link}",
        email_subject="Time to book your next check-in",
        email_body="It is time to book your next check-in with {practice}: {link}",
        context_keys=frozenset({"path"}),
    ),
    "questionnaire_due": Template(
        sms="{practice}: a short check-in questionnaire is ready for you: {link}",
        email_subject="A questionnaire is ready for you",
        email_body="A short questionnaire from {practice} is ready: {link}",
        context_keys=frozenset({"path"}),
    ),
    "refill_reminder": Template(
        sms="{practice}: there is an update about your care plan. Open {link}",
        email_subject="An update about your care plan",
        email_body="There is an update about your care plan with {practice}: {link}",
        context_keys=frozenset({"path"}),
    ),
    "account_update": Template(
        sms="{practice}: there is an update in your account. Open {link}",
        email_subject="An update in your account",
        email_body="There is an update in your {practice} account: {link}",
        context_keys=frozenset({"path"}),
    ),
    "review_alert": Template(
        sms="{practice}: an urgent item is waiting in your review queue: {link}",
        email_subject="Urgent: an item is waiting in your review queue",
        email_body="An urgent item is waiting for you in the {practice} review queue: {link}",
        context_keys=frozenset({"path"}),
    ),
    "delivery_update": Template(
        sms="{practice}: there is an update about your delivery. Track it at {link}",
        email_subject="An update about your delivery",
        email_body="There is an update about your delivery from {practice}: {link}",
        context_keys=frozenset({"path"}),
    ),
    # Delivery orders (prescriptions.services.order_texts): generic, no drug or pharmacy
    # name. `tracking_url` is the carrier's tracking page (the app's order page without it).
    "delivery_shipped": Template(
        sms="{practice}: your package is on its way. Track it: {tracking} Details: {link}",
        email_subject="Your package is on its way",
        email_body="Your package from {practice} is on its way. Track it: {tracking} "
        "Details: {link}",
        context_keys=frozenset({"path", "tracking_url"}),
    ),
    "delivery_out_for_delivery": Template(
        sms="{practice}: your package is out for delivery today. Details: {link}",
        email_subject="Your package is out for delivery",
        email_body="Your package from {practice} is out for delivery today. Details: {link}",
        context_keys=frozenset({"path"}),
    ),
    "delivery_delivered": Template(
        sms="{practice}: your package was delivered.",
        email_subject="Your package was delivered",
        email_body="Your package from {practice} was delivered.",
    ),
    "delivery_exception": Template(
        sms="{practice}: there is a problem with your delivery, see the app: {link}",
        email_subject="A problem with your delivery",
        email_body="There is a problem with your delivery from {practice}, see the app: {link}",
        context_keys=frozenset({"path"}),
    ),
    # To ops admins: an order the partner could not take (prescriptions.services.submission).
    "order_handoff_failed": Template(
        sms="{practice}: a delivery order needs attention: {link}",
        email_subject="A delivery order needs attention",
        email_body="A delivery order could not be handed off and needs attention: {link}",
        context_keys=frozenset({"path"}),
    ),
    "payment_failed": Template(
        sms="{practice}: we could not process your membership payment. Update your card: {link}",
        email_subject="We could not process your payment",
        email_body="We could not process your {practice} membership payment. "
        "Please update your card: {link}",
        context_keys=frozenset({"path"}),
    ),
    "payment_action_required": Template(
        sms="{practice}: your bank asks you to confirm your membership payment: {link}",
        email_subject="Please confirm your payment",
        email_body="Your bank asks you to confirm your {practice} membership payment. "
        "Confirm it here: {link}",
        context_keys=frozenset({"path"}),
    ),
    "payment_reminder": Template(
        sms="{practice}: reminder, your membership payment is still due. Update your card: {link}",
        email_subject="Your membership payment is still due",
        email_body="Your {practice} membership payment is still due. Update your card: {link}",
        context_keys=frozenset({"path"}),
    ),
    "payment_received": Template(
        sms="{practice}: thank you, your membership payment went through.",
        email_subject="Payment received",
        email_body="Thank you: your {practice} membership payment went through.",
    ),
    # The one text that carries a secret: the code the recipient just asked for.
    "phone_verification": Template(
        sms="{practice}: your verification code is {code}. It expires in 10 minutes. "
        "If you did not ask for it, ignore this text.",
        email_subject="Your verification code",
        email_body="Your {practice} verification code is {code}. It expires in 10 minutes.",
        context_keys=frozenset({"code"}),
    ),
    "news": Template(
        sms="{practice}: news from the practice: {link} Reply STOP to opt out.",
        email_subject="News from {practice}",
        email_body="News from {practice}: {link}",
        context_keys=frozenset({"path"}),
    ),
}

# Answers to keywords (sent as the immediate reply to an inbound text).
STOP_CONFIRMATION = "{practice}: you will no longer receive texts from us. Reply START to resume."
START_CONFIRMATION = "{practice}: texts are back on. Reply STOP to opt out, HELP for help."
HELP_TEXT = (
    "{practice}: for help call {support_phone} or email {support_email}. "
    "Reply STOP to opt out. In a crisis call or text 988."
)


def _common(context: dict[str, Any]) -> dict[str, str]:
    return {
        "practice": settings.PRACTICE_NAME,
        "support_phone": settings.PRACTICE_SUPPORT_PHONE,
        "support_email": settings.PRACTICE_SUPPORT_EMAIL,
        "link": _app_link(context),
        "tracking": str(context.get("tracking_url") or _app_link(context)),
        # A one-time code travels encrypted in the outbox context, so the row never
        # holds it readable (patients.services.phone).
        "code": decrypt(context["code"]) if "code" in context else "",
    }


def render_system(text: str) -> str:
    return text.format(**_common({}))


def render_sms(key: str, context: dict[str, Any]) -> str:
    return TEMPLATES[key].sms.format(**_common(context))


def render_email(key: str, context: dict[str, Any]) -> tuple[str, str]:
    template, values = TEMPLATES[key], _common(context)
    return template.email_subject.format(**values), template.email_body.format(**values)


# Words no text, email or practice name may carry: drugs, doses, diagnoses, scores,
# clinical terms (a lock screen shows them to whoever holds the phone).
CLINICAL_WORDS = (
    # drugs
    "ketamine",
    "esketamine",
    "spravato",
    "ketalar",
    "benzodiazepine",
    "benzodiazepines",
    "lorazepam",
    "ativan",
    "alprazolam",
    "xanax",
    "clonazepam",
    "diazepam",
    "ondansetron",
    "zofran",
    "antidepressant",
    "antidepressants",
    "ssri",
    "troche",
    "troches",
    "lozenge",
    "nasal spray",
    "compounded",
    "controlled substance",
    "schedule iii",
    # doses
    "dose",
    "doses",
    "dosage",
    "dosing",
    "mg",
    "ml",
    "mcg",
    "milligram",
    "milligrams",
    # diagnoses
    "depression",
    "depressive",
    "anxiety",
    "ptsd",
    "bipolar",
    "suicidal",
    "suicide",
    "self-harm",
    "psychosis",
    "psychotic",
    "schizophrenia",
    "overdose",
    "disorder",
    "diagnosis",
    "diagnosed",
    "mental health",
    "psychiatric",
    # scores
    "phq",
    "phq-9",
    "gad",
    "gad-7",
    "score",
    "scores",
    # clinical terms
    "condition",
    "prescription",
    "prescribed",
    "rx",
    "pharmacy",
    "medication",
    "medications",
    "refill",
    "refills",
    "treatment",
    "therapy",
)
_CLINICAL_PATTERN = re.compile(
    r"\b("
    + "|".join(re.escape(word) for word in sorted(CLINICAL_WORDS, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)


def clinical_words_in(text: str) -> list[str]:
    """The clinical words in `text`, as written, in order."""
    return [match.group(0) for match in _CLINICAL_PATTERN.finditer(text)]


def practice_name_refuse_clinical_words() -> None:
    """Refuse to start when PRACTICE_NAME (in every text) names a drug or condition."""
    if words := clinical_words_in(settings.PRACTICE_NAME):
        raise ImproperlyConfigured(
            f"PRACTICE_NAME must carry no drug or condition word; found {', '.join(words)}."
        )
