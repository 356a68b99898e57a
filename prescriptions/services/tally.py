"""Folding the delivery tally (prescriptions.models.tally): the rows the triggers append,
replaced by one per (state, status), their sum, in one statement. A sum read in any
snapshot is the same before and after; rows appended by transactions not yet committed
are not seen, so not touched, and two folds at once fold each row once."""

from __future__ import annotations

from django.db import connection
from psycopg import sql

from patients.selectors.sqlnames import table
from prescriptions.models import DeliveryTally

_FOLD = """
WITH folded AS (DELETE FROM {tally} RETURNING ship_to_state, status, orders)
INSERT INTO {tally} (ship_to_state, status, orders)
SELECT ship_to_state, status, sum(orders) FROM folded GROUP BY 1, 2 HAVING sum(orders) <> 0
"""


def delivery_tally_fold() -> int:
    """Fold the tally; how many rows it has now."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(_FOLD).format(tally=table(DeliveryTally)).as_string())
        return cursor.rowcount
