from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_from_linked_subscription(apps, schema_editor):
    Invoice = apps.get_model("billing", "Invoice")
    Subscription = apps.get_model("billing", "Subscription")
    linked = Subscription.objects.filter(pk=OuterRef("subscription_id"))
    Invoice.objects.filter(subscription__isnull=False).update(
        gateway_subscription_id=Subquery(linked.values("gateway_subscription_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_alter_webhookevent_outcome"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="gateway_subscription_id",
            field=models.CharField(blank=True, db_index=True, max_length=255),
        ),
        migrations.RunPython(copy_from_linked_subscription, migrations.RunPython.noop),
    ]
