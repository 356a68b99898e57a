"""Message templates: minimum necessary (no clinical words), the practice name in every text,
texts short enough, and only declared, non-PHI context accepted when scheduling."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from notifications.models import Message
from notifications.services import message_schedule
from notifications.templates import (
    HELP_TEXT,
    START_CONFIRMATION,
    STOP_CONFIRMATION,
    TEMPLATES,
    clinical_words_in,
    render_email,
    render_sms,
    render_system,
)

# A long but realistic link path: ids only.
LONG_PATH = f"/checkins/{uuid.uuid4()}/follow-up/{uuid.uuid4()}?step=questionnaire&page=2"
KEYWORD_REPLIES = {
    "STOP_CONFIRMATION": STOP_CONFIRMATION,
    "START_CONFIRMATION": START_CONFIRMATION,
    "HELP_TEXT": HELP_TEXT,
}
NEUTRAL_PRACTICE_NAME = "Evergreen Care"


# A carrier's tracking page (delivery_shipped): a public URL with the tracking number.
LONG_TRACKING_URL = "https://www.carrier.example.com/track?tracknum=1Z999AA10123456784"


def context_for(key: str) -> dict[str, str]:
    context = {"path": LONG_PATH, "tracking_url": LONG_TRACKING_URL}
    return {name: value for name, value in context.items() if name in TEMPLATES[key].context_keys}


def rendered_texts() -> Iterator[tuple[str, str]]:
    """(label, text) for every SMS, email subject, email body and keyword reply."""
    for key in TEMPLATES:
        subject, body = render_email(key, context_for(key))
        yield f"{key}.sms", render_sms(key, context_for(key))
        yield f"{key}.email_subject", subject
        yield f"{key}.email_body", body
    for name, text in KEYWORD_REPLIES.items():
        yield name, render_system(text)


LABELS = [
    *(f"{key}.{part}" for key in TEMPLATES for part in ("sms", "email_subject", "email_body")),
    *KEYWORD_REPLIES,
]


@pytest.mark.parametrize("label", LABELS)
def test_no_template_wording_carries_a_clinical_word(settings, label):
    """The wording itself, with a practice name that says nothing clinical."""
    settings.PRACTICE_NAME = NEUTRAL_PRACTICE_NAME
    text = dict(rendered_texts())[label]
    assert clinical_words_in(text) == [], f"{label}: {text!r}"


def test_the_word_list_catches_what_it_should():
    assert clinical_words_in("Your Ketamine dose: 50 MG. PHQ-9 score 12; refill ready") == [
        "Ketamine",
        "dose",
        "MG",
        "PHQ-9",
        "score",
        "refill",
    ]
    # Word boundaries: no false alarms inside harmless words.
    assert clinical_words_in("html email, a smgx id, scored-card, preconditions") == []


def test_the_refill_reminder_does_not_say_refill(settings):
    settings.PRACTICE_NAME = NEUTRAL_PRACTICE_NAME
    subject, body = render_email("refill_reminder", context_for("refill_reminder"))
    for text in (render_sms("refill_reminder", context_for("refill_reminder")), subject, body):
        assert "refill" not in text.lower()


def test_messages_as_configured_name_no_drug():
    """What patients actually receive, with the practice name as configured."""
    texts = rendered_texts()
    offenders = {label: words for label, text in texts if (words := clinical_words_in(text))}
    assert offenders == {}


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_text_names_the_practice(key):
    assert django_settings.PRACTICE_NAME in render_sms(key, context_for(key))


@pytest.mark.parametrize("name", sorted(KEYWORD_REPLIES))
def test_every_keyword_reply_names_the_practice(name):
    assert django_settings.PRACTICE_NAME in render_system(KEYWORD_REPLIES[name])


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_texts_fit_in_two_segments_with_a_long_link(settings, key):
    settings.PUBLIC_APP_URL = "https://app.evergreen-practice.example.com/app"
    text = render_sms(key, context_for(key))
    if "path" in TEMPLATES[key].context_keys:
        assert LONG_PATH in text
    assert len(text) <= 320, f"{key}: {len(text)} characters"


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_templates_take_only_link_ids_as_context(key):
    # The one exception: the phone verification code the recipient asked for (encrypted
    # in the outbox row, see patients.services.phone).
    # And the carrier's tracking page of a shipped order (no name, no drug: a tracking
    # number, see prescriptions.services.order_texts).
    allowed = {"path", "code"} if key == "phone_verification" else {"path"}
    if key == "delivery_shipped":
        allowed = {"path", "tracking_url"}
    assert TEMPLATES[key].context_keys <= allowed


def test_link_joins_base_and_path_with_one_slash(settings):
    settings.PUBLIC_APP_URL = "https://app.example.test/app/"
    assert "https://app.example.test/app/checkins/1" in render_sms(
        "appointment_reminder", {"path": "/checkins/1"}
    )


# --- scheduling refuses what a template does not declare --------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "context"),
    [
        ("appointment_reminder", {"path": "/checkins/1", "first_name": "Jordan"}),
        ("checkin_followup", {"score": 12}),
        ("refill_reminder", {"medication": "ketamine"}),
        ("payment_received", {"path": "/billing"}),
    ],
)
def test_scheduling_refuses_context_keys_the_template_does_not_declare(patient, key, context):
    with pytest.raises(ValueError, match="takes no context keys"):
        message_schedule(
            recipient=patient,
            template_key=key,
            category="care",
            channel="sms",
            dedupe_key=f"test:{uuid.uuid4()}",
            context=context,
        )
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_scheduling_refuses_an_unknown_template(patient):
    with pytest.raises(KeyError):
        message_schedule(
            recipient=patient,
            template_key="lab_results",
            category="care",
            channel="sms",
            dedupe_key=f"test:{uuid.uuid4()}",
        )
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_scheduling_accepts_declared_context(patient):
    message = message_schedule(
        recipient=patient,
        template_key="appointment_reminder",
        category="care",
        channel="sms",
        dedupe_key=f"test:{uuid.uuid4()}",
        context={"path": "/checkins/1"},
    )
    assert message.context == {"path": "/checkins/1"}
