"""How many delivery orders ship to each state in each status, kept by PostgreSQL itself.

Every statement that inserts, updates or deletes orders adds, in the same transaction,
one row per (state, status) whose count it changed, with the change (+n or -n): triggers
on the orders table (migration 0008). Writers only append, so two of them never wait on
one shared counter; a count is the sum of its rows, exact in any transaction's snapshot;
prescriptions.services.tally folds the rows into one per (state, status) every minute
(beat) so that a sum reads a handful of rows. Nothing else writes here.

It answers the ops list's total (prescriptions.selectors.tracking_page) without counting
thousands of orders on every page: unfiltered, a COUNT read all 100,000.
"""

from __future__ import annotations

from django.db import models


class DeliveryTally(models.Model):
    ship_to_state = models.CharField(max_length=2)
    status = models.CharField(max_length=20)
    orders = models.IntegerField()  # the change: how many orders came (+) or went (-)

    class Meta:
        indexes = [
            models.Index(
                fields=["ship_to_state", "status"], include=["orders"], name="tally_state_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ship_to_state} {self.status} {self.orders:+d}"
