"""Consent documents: the patient reads the current versions and signs them."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPatient, user_of
from audit.models import AuditAction
from audit.services import audit_record
from core.api import StrictSerializer, error_responses
from core.text import PlainTextField
from notifications.models import CONSENT_CATEGORIES
from notifications.services import CONSENT_WORDING
from patients.models import ConsentDocument, ConsentKind, ConsentSignature, Patient
from patients.selectors.consent import consent_documents_current, signatures_of
from patients.selectors.own_record import own_record, patient_of
from patients.services import consent as services


# Plain strings in the schema, values in the description: "kind" and "category" already
# name other choice sets (enum components) elsewhere in the API.
class ConsentKindField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "One of: " + ", ".join(ConsentKind.values) + ".")
        super().__init__(**kwargs)


class SmsCategoryField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "One of: " + ", ".join(CONSENT_CATEGORIES) + ".")
        super().__init__(**kwargs)


class SmsCategoryOut(serializers.Serializer):
    category = SmsCategoryField()
    wording = serializers.CharField(help_text="Show this next to the category's checkbox.")


class ConsentDocumentOut(serializers.Serializer):
    kind = ConsentKindField()
    version = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    body_sha256 = serializers.CharField()
    published_at = serializers.DateTimeField()
    signed = serializers.BooleanField()
    signed_at = serializers.DateTimeField(allow_null=True)
    outstanding = serializers.BooleanField(help_text="Not yet signed in this version.")
    sms_categories = SmsCategoryOut(
        many=True, allow_null=True, help_text="For kind sms only: the categories to choose."
    )


class ConsentListOut(serializers.Serializer):
    documents = ConsentDocumentOut(many=True)
    outstanding = serializers.ListField(
        child=ConsentKindField(),
        help_text="Kinds to sign before the next check-in, prescription or refill.",
    )


def _sms_categories() -> list[dict[str, str]]:
    return [{"category": c.value, "wording": CONSENT_WORDING[c]} for c in CONSENT_CATEGORIES]


def _document_body(document: ConsentDocument, signature: ConsentSignature | None) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "version": document.version,
        "title": document.title,
        "body": document.body,
        "body_sha256": document.body_sha256,
        "published_at": document.published_at,
        "signed": signature is not None,
        "signed_at": signature.signed_at if signature else None,
        "outstanding": signature is None,
        "sms_categories": _sms_categories() if document.kind == ConsentKind.SMS else None,
    }


def _audit_signature_reads(patient: Patient, signatures: list[ConsentSignature]) -> None:
    """One read event per listing (a fixed number of queries); `detail` names each
    signature read as kind:version."""
    if not signatures:
        return
    audit_record(
        actor=patient.user,
        action=AuditAction.READ,
        object_type="patients.consentsignature",
        object_id="",
        patient_id=patient.public_id,
        detail={
            "signatures": sorted(f"{s.document.kind}:{s.document.version}" for s in signatures)
        },
    )


class ConsentListView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: ConsentListOut, **error_responses(401, 403)},
        summary="The current consent documents, and which I have signed",
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        documents = consent_documents_current()
        patient = patient_of(user)
        signatures = signatures_of(patient, documents) if patient else {}
        body = [_document_body(d, signatures.get(d.pk)) for d in documents]
        if patient is not None:
            _audit_signature_reads(patient, list(signatures.values()))
        return Response(
            ConsentListOut(
                {
                    "documents": body,
                    "outstanding": [d["kind"] for d in body if d["outstanding"]],
                }
            ).data
        )


class SignIn(StrictSerializer):
    version = serializers.CharField(max_length=32, help_text="The version being signed.")
    typed_name = PlainTextField(
        max_length=200, help_text="The patient's legal first and last name."
    )
    sms_categories = serializers.ListField(
        child=SmsCategoryField(max_length=16),
        max_length=len(CONSENT_CATEGORIES),
        required=False,
        help_text="Kind sms only (required there, may be empty): the texts agreed to.",
    )


class SignatureOut(serializers.Serializer):
    kind = ConsentKindField(source="document.kind")
    version = serializers.CharField(source="document.version")
    signed_at = serializers.DateTimeField()
    document_sha256 = serializers.CharField()


class ConsentSignView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=SignIn,
        responses={200: SignatureOut, **error_responses(400, 401, 403, 404, 409)},
        parameters=[
            OpenApiParameter(
                "kind", str, OpenApiParameter.PATH, enum=ConsentKind.values, description="Kind"
            )
        ],
        summary="Sign the current version of a consent document (signing again is a no-op)",
        description="400 when the typed name is not the legal first and last name on the "
        "record. 409 `consent_version_stale`: `version` is not the current version (read "
        "and sign the current one); 409 `no_record`: complete the patient record first.",
    )
    def post(self, request: Request, kind: str) -> Response:
        user = user_of(request)
        data = SignIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = own_record(user)
        document = services.consent_document_to_sign(
            kind=kind, version=data.validated_data["version"]
        )
        signature = services.consent_sign(
            patient=patient,
            document=document,
            typed_name=data.validated_data["typed_name"],
            sms_categories=data.validated_data.get("sms_categories"),
        )
        return Response(SignatureOut(signature).data)


urlpatterns: list[URLPattern] = [
    path("consents", ConsentListView.as_view(), name="consent-list"),
    path("consents/<str:kind>/sign", ConsentSignView.as_view(), name="consent-sign"),
]
