"""What an unpredictable prediction id costs, beside the former Mersenne Twister id.

Times, in interleaved rounds in one process: the former id
(``random.getrandbits(128)``, predictable from 156 ids seen), one
``os.urandom(16)`` read per id, ``secrets.token_hex(16)``, and otel_ml's
``new_prediction_id`` (the OS CSPRNG read 256 ids at a time)::

    python benchmarks/ids.py [--quick] [--rounds R] [--write-readme]
"""

from __future__ import annotations

import os
import random
import secrets

from _common import Stats, interleave, markdown_table, publish, ratio_of_medians, timing_run

from otel_ml._internal.ids import new_prediction_id

_bits = random.getrandbits


def former() -> str:
    return _bits(128).to_bytes(16, "big").hex()


def one_read() -> str:
    return os.urandom(16).hex()


def token() -> str:
    return secrets.token_hex(16)


VARIANTS = {
    "former: random.getrandbits (Mersenne Twister)": former,
    "os.urandom(16) per id": one_read,
    "secrets.token_hex(16)": token,
    "otel_ml: os.urandom, 256 ids per read": new_prediction_id,
}


def main() -> None:
    run = timing_run(__doc__.splitlines()[0], 31, 50_000, 5_000)
    samples = interleave(VARIANTS, run.rounds, run.calls)
    baseline = samples[next(iter(VARIANTS))]
    rows = [
        [name, Stats.of(found).format(0, " ns"), ratio_of_medians(found, baseline).format(2, "x")]
        for name, found in samples.items()
    ]
    table = markdown_table(["id", "per id", "vs former"], rows)
    command = "python benchmarks/ids.py" + (" --quick" if run.quick else "")
    publish(table, command, ("opentelemetry-sdk",), "ids" if run.write_readme else None)


if __name__ == "__main__":
    main()
