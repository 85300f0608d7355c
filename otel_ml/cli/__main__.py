"""``python -m otel_ml.cli``: the same as the ``otel-ml`` command."""

from __future__ import annotations

import sys

from otel_ml.cli import main

sys.exit(main())
