from django.db import migrations, models

# The tally of orders by (ship-to state, status): see prescriptions/models/tally.py. One
# statement-level trigger per kind of write, each seeing the rows the statement changed
# (transition tables), appends one row per (state, status) whose count changed. TRUNCATE
# empties the tally with the orders. Creating the triggers locks the orders against
# writes until this migration commits, so the tally starts equal to the orders.
FORWARD = """
CREATE FUNCTION prescriptions_delivery_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO prescriptions_deliverytally (ship_to_state, status, orders)
        SELECT ship_to_state, status, count(*) FROM new_orders GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO prescriptions_deliverytally (ship_to_state, status, orders)
        SELECT ship_to_state, status, -count(*) FROM old_orders GROUP BY 1, 2;
    ELSE
        INSERT INTO prescriptions_deliverytally (ship_to_state, status, orders)
        SELECT ship_to_state, status, sum(change) FROM (
            SELECT ship_to_state, status, -1 AS change FROM old_orders
            UNION ALL
            SELECT ship_to_state, status, 1 FROM new_orders
        ) AS changes
        GROUP BY 1, 2 HAVING sum(change) <> 0;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER prescriptions_delivery_tally_insert
    AFTER INSERT ON prescriptions_deliveryorder REFERENCING NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION prescriptions_delivery_tally();
CREATE TRIGGER prescriptions_delivery_tally_update
    AFTER UPDATE ON prescriptions_deliveryorder
    REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
    FOR EACH STATEMENT EXECUTE FUNCTION prescriptions_delivery_tally();
CREATE TRIGGER prescriptions_delivery_tally_delete
    AFTER DELETE ON prescriptions_deliveryorder REFERENCING OLD TABLE AS old_orders
    FOR EACH STATEMENT EXECUTE FUNCTION prescriptions_delivery_tally();

CREATE FUNCTION prescriptions_delivery_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM prescriptions_deliverytally;
    RETURN NULL;
END
$$;
CREATE TRIGGER prescriptions_delivery_tally_truncate
    AFTER TRUNCATE ON prescriptions_deliveryorder
    FOR EACH STATEMENT EXECUTE FUNCTION prescriptions_delivery_tally_truncate();

INSERT INTO prescriptions_deliverytally (ship_to_state, status, orders)
SELECT ship_to_state, status, count(*) FROM prescriptions_deliveryorder GROUP BY 1, 2;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS prescriptions_delivery_tally_insert ON prescriptions_deliveryorder;
DROP TRIGGER IF EXISTS prescriptions_delivery_tally_update ON prescriptions_deliveryorder;
DROP TRIGGER IF EXISTS prescriptions_delivery_tally_delete ON prescriptions_deliveryorder;
DROP TRIGGER IF EXISTS prescriptions_delivery_tally_truncate ON prescriptions_deliveryorder;
DROP FUNCTION IF EXISTS prescriptions_delivery_tally();
DROP FUNCTION IF EXISTS prescriptions_delivery_tally_truncate();
DELETE FROM prescriptions_deliverytally;
"""


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0007_deliveryorder_state_status_index")]

    operations = [
        migrations.CreateModel(
            name="DeliveryTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("ship_to_state", models.CharField(max_length=2)),
                ("status", models.CharField(max_length=20)),
                ("orders", models.IntegerField()),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["ship_to_state", "status"],
                        include=("orders",),
                        name="tally_state_status",
                    )
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
