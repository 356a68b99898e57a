"""The record's decryption alone: 13 Fernet tokens (the encrypted fields of a patient
record), read by cryptography's MultiFernet and by core.crypto.decrypt, in CPU time per
record (best of several repeats: robust to a busy machine). No database needed.

    python -m benchmarks.decrypt [--records 2000] [--repeats 7] [--keys 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from cryptography.fernet import Fernet, MultiFernet

FIELDS = [
    "Jane", "Doe", "1980-01-02", "female", "+18505550100", "123 Main Street", "Apt 4",
    "Pensacola", "32501", "John Doe", "+18505550101", "Sam Roe", "+18505550102",
]  # fmt: skip


def best_ms_per_record(
    read: Callable[[str], str], tokens: list[str], args: argparse.Namespace
) -> float:
    best = float("inf")
    for _ in range(args.repeats):
        started = time.process_time()
        for _ in range(args.records):
            for token in tokens:
                read(token)
        best = min(best, time.process_time() - started)
    return best / args.records * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--keys", type=int, default=2, help="keys listed (newest first)")
    args = parser.parse_args(argv)
    keys = [Fernet.generate_key().decode() for _ in range(args.keys)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.FIELD_ENCRYPTION_KEYS = keys
    from core import crypto

    reference = MultiFernet([Fernet(key) for key in keys])
    tokens = [Fernet(keys[0]).encrypt(value.encode()).decode() for value in FIELDS]
    assert [crypto.decrypt(t) for t in tokens] == FIELDS
    old = best_ms_per_record(lambda t: reference.decrypt(t.encode()).decode(), tokens, args)
    new = best_ms_per_record(crypto.decrypt, tokens, args)
    print(f"MultiFernet          {old:.3f} ms per record ({len(FIELDS)} fields)")
    print(f"core.crypto.decrypt  {new:.3f} ms per record ({old / new:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
