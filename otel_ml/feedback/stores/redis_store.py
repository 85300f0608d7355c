"""``OTEL_ML_FEEDBACK_STORE=redis://host:6379/0``: predictions shared by every replica.

Redis or Valkey, through the ``redis`` client (``pip install 'otel-ml[redis]'``);
password and TLS come from the URL (``redis://:password@host:6379/0``,
``rediss://`` for TLS). Keys, per model name ``m``:

- ``otel_ml:{m}:p:{id}``: the prediction's record (JSON), expiring after the TTL;
- ``otel_ml:{m}:d:{id}``: "this prediction was labelled", expiring after the TTL
  (tells a duplicate from a wrong id);
- ``otel_ml:{m}:idx``: a sorted set of ids by creation time, for the capacity bound.

A batch of predictions is one round trip: one script call (a pipeline of
two commands per prediction costs the client four times the CPU). The join is one Lua
script (atomic in Redis): GET and DEL the record and SET the labelled
marker, or report ``duplicate``/``unknown``; of two replicas given the same
label at once exactly one gets the record. Every :data:`MAINTAIN_EVERY_S`
each writer trims the index: ids past the TTL leave it, and beyond the
capacity the oldest predictions are deleted. The scripts compute key names,
so the store needs one Redis (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

import math
from typing import Any

from otel_ml.feedback.store import Outcome
from otel_ml.feedback.stores.shared import SharedStore

MAINTAIN_EVERY_S = 10.0
TIMEOUT_S = 0.5
"""Connect and socket timeout: a slow Redis fails a write or a label, never a request."""

_TAKE = """
local ttl = ARGV[1]
for i = 1, #KEYS, 2 do
  local record = redis.call('GET', KEYS[i])
  if record then
    redis.call('DEL', KEYS[i])
    redis.call('SET', KEYS[i + 1], '1', 'EX', ttl)
    return {'matched', record}
  end
end
for i = 2, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {'duplicate'} end
end
return {'unknown'}
"""

_WRITE = """
local ttl = ARGV[1]
for i = 2, #ARGV, 4 do
  redis.call('SET', ARGV[i] .. 'p:' .. ARGV[i + 1], ARGV[i + 2], 'EX', ttl)
  redis.call('ZADD', ARGV[i] .. 'idx', ARGV[i + 3], ARGV[i + 1])
end
return (#ARGV - 1) / 4
"""

_TRIM = """
local index, prefix = KEYS[1], ARGV[1]
local expired = redis.call('ZRANGEBYSCORE', index, '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', index, '-inf', ARGV[2])
local over = redis.call('ZCARD', index) - tonumber(ARGV[3])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', index, 0, over - 1)) do
    redis.call('DEL', prefix .. id)
  end
  redis.call('ZREMRANGEBYRANK', index, 0, over - 1)
end
redis.call('EXPIRE', index, ARGV[4])
return {#expired, math.max(over, 0)}
"""


def prefix(model_name: str) -> str:
    """The key prefix of a model's predictions."""
    return f"otel_ml:{model_name}:"


class RedisStore(SharedStore):
    """Predictions in Redis (see the module docstring)."""

    backend = "redis"

    def __init__(self, url: str, capacity: int, ttl_s: float) -> None:
        try:
            import redis
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "OTEL_ML_FEEDBACK_STORE=redis://... needs the redis client: "
                "pip install 'otel-ml[redis]'"
            ) from None
        super().__init__(url, capacity, ttl_s)
        # The client's pool reconnects after a failure and after a fork (it checks the pid).
        self.client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        self._ttl_whole_s = max(1, math.ceil(ttl_s))
        self._write_script: Any = self.client.register_script(_WRITE)
        self._take_script: Any = self.client.register_script(_TAKE)
        self._trim_script: Any = self.client.register_script(_TRIM)

    def _write(self, rows: list[tuple[str, str, float, str]]) -> None:
        args: list[object] = [self._ttl_whole_s]
        for prediction_id, name, created, record in rows:
            args += [prefix(name), prediction_id, record, repr(created)]
        self._write_script(keys=[], args=args)

    def _take(self, prediction_id: str, names: list[str]) -> tuple[Outcome, bytes | None]:
        keys = []
        for name in names:
            keys += [f"{prefix(name)}p:{prediction_id}", f"{prefix(name)}d:{prediction_id}"]
        found = self._take_script(keys=keys, args=[self._ttl_whole_s])
        outcome = found[0].decode()
        return outcome, (found[1] if outcome == "matched" else None)

    def _maintain(self) -> None:
        oldest = self.now() - self.ttl_s
        for name in {name for name, _ in list(self._models.values())}:
            self._trim_script(
                keys=[f"{prefix(name)}idx"],
                args=[f"{prefix(name)}p:", oldest, self.capacity, self._ttl_whole_s],
            )

    def close(self) -> None:
        """Write what is buffered, stop the writer, close the connections."""
        super().close()
        self.client.close()
