from django.db import migrations

# Row triggers do not fire on TRUNCATE: this one keeps the consent history append-only
# against it too (the application role has no TRUNCATE privilege: manage.py db_roles).
FORWARD = """
CREATE FUNCTION notifications_consentevent_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER notifications_consentevent_refuse_truncate
    BEFORE TRUNCATE ON notifications_consentevent
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_consentevent_refuse_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS notifications_consentevent_refuse_truncate ON notifications_consentevent;
DROP FUNCTION IF EXISTS notifications_consentevent_refuse_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_public_ids")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
