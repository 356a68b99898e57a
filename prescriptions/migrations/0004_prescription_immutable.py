from django.db import migrations

# A signed prescription never changes (21 CFR 1306.05; DOMAIN.md). UPDATE may touch only
# the cancellation: status signed -> canceled with canceled_at, canceled_by_id and
# cancel_reason, in that one change. DELETE is refused.
#
# Key rotation (manage.py rotate_phi_keys) rewrites the encrypted columns' ciphertext in
# place. It turns on the transaction-local setting `core.phi_key_rotation`, and while it
# is on, the encrypted columns (and only they) may change. SQL cannot decrypt, so the
# trigger cannot check that the plaintext is the same: in that mode it trusts the command.
# The setting is no secret: this guards against the application's own mistakes (a save()
# of a clinical field, an UPDATE in a script), not against someone who can run arbitrary
# SQL as the table's owner, who could drop the trigger anyway. A new encrypted column on
# this table must be added to ENCRYPTED below (tests/prescriptions/test_immutable.py).
ENCRYPTED = ("directions", "patient_name", "patient_address", "cancel_reason")
CANCELLATION = ("status", "canceled_at", "canceled_by_id", "cancel_reason")


def _minus(row: str, columns: tuple[str, ...]) -> str:
    return "(to_jsonb(" + row + ")" + "".join(f" - '{c}'" for c in columns) + ")"


FORWARD = f"""
CREATE FUNCTION prescriptions_prescription_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'prescriptions_prescription: a signed prescription cannot be deleted'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF coalesce(current_setting('core.phi_key_rotation', true), '') = 'on'
       AND {_minus("NEW", ENCRYPTED)} = {_minus("OLD", ENCRYPTED)} THEN
        RETURN NEW;
    END IF;
    IF {_minus("NEW", CANCELLATION)} IS DISTINCT FROM {_minus("OLD", CANCELLATION)} THEN
        RAISE EXCEPTION 'prescriptions_prescription: a signed prescription cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.status, NEW.canceled_at, NEW.canceled_by_id, NEW.cancel_reason)
       IS DISTINCT FROM (OLD.status, OLD.canceled_at, OLD.canceled_by_id, OLD.cancel_reason)
       AND NOT (OLD.status = 'signed' AND NEW.status = 'canceled') THEN
        RAISE EXCEPTION 'prescriptions_prescription: only canceling a signed prescription '
            'is allowed' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER prescriptions_prescription_immutable
    BEFORE UPDATE OR DELETE ON prescriptions_prescription
    FOR EACH ROW EXECUTE FUNCTION prescriptions_prescription_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS prescriptions_prescription_immutable ON prescriptions_prescription;
DROP FUNCTION IF EXISTS prescriptions_prescription_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0003_local_pharmacy_receipt")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
