from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0006_pharmacy_order_url_https")]

    operations = [
        migrations.AddIndex(
            model_name="deliveryorder",
            index=models.Index(fields=["ship_to_state", "status"], name="order_state_status"),
        ),
    ]
