from django.db import migrations

# UPDATE is allowed exactly once per row, to seal it: only seq/prev_hash/hash may change,
# and only from unsealed to sealed. Every other UPDATE and every DELETE is refused.
FORWARD = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_auditevent is append-only: DELETE refused';
    END IF;
    IF OLD.seq IS NOT NULL
       OR NEW.seq IS NULL
       OR NEW.hash = ''
       OR (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
          IS DISTINCT FROM (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
        RAISE EXCEPTION 'audit_auditevent is append-only: only sealing an unsealed row is allowed';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
