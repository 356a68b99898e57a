from django.db import migrations

# Row triggers do not fire on TRUNCATE: without this one, a TRUNCATE would empty the log
# in one statement. The least-privilege application role has no TRUNCATE privilege
# either (manage.py db_roles); this also stops the owner (manage.py flush, a slip in psql).
FORWARD = """
CREATE FUNCTION audit_event_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_event_refuse_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_refuse_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_refuse_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_client_request_id_and_webhook_rejected")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
