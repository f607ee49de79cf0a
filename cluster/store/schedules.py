"""Workflow schedules: their definitions, their durable timers and the records of their fires.

Each active schedule has one member in the sorted set `{sched}:timers`, scored by the
time it fires next. Any gateway may fire it; to fire, a gateway claims the due members
(`claim_due_schedules`, one script): each claimed schedule's fire time goes into
`{sched}:firing` and its score moves to the end of the claim, so no other gateway takes
it meanwhile. The gateway then starts the workflow (idempotently per schedule and fire
time) and advances the timer (`advance_schedule`, one script), which also writes the
fire's record. A gateway that dies in between leaves the claim to expire: the next
claimer finds the same fire time in `{sched}:firing`, and the start it makes finds the
workflow the first one started. So each fire starts one workflow, whatever dies when.

Saving, pausing or deleting a schedule rewrites or removes its timer and drops a claim in
flight; the claimer's advance then finds the claim gone and leaves the timer alone.
"""

from __future__ import annotations

from typing import Any

import orjson

from cluster.store.base import StoreBase
from cluster.store.keys import Keys

# Fire records kept per schedule (the oldest go first).
KEEP_RUNS = 1000

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]), 'WITHSCORES')
local claimed = {}
for i = 1, #due, 2 do
  local name = due[i]
  local fire = redis.call('HGET', KEYS[2], name)
  if not fire then
    fire = string.format('%.0f', tonumber(due[i + 1]))
    redis.call('HSET', KEYS[2], name, fire)
  end
  redis.call('ZADD', KEYS[1], ARGV[2], name)
  claimed[#claimed + 1] = name
  claimed[#claimed + 1] = fire
end
return claimed
"""

# KEYS: timers, firing, runs of the schedule, run records, run names.
# ARGV: name, fire ms, next ms ('' for none), execution id, record JSON, records kept.
_ADVANCE = """
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
redis.call('SADD', KEYS[5], ARGV[1])
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[6])
if excess > 0 then
  local old = redis.call('ZRANGE', KEYS[3], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, excess - 1)
  redis.call('HDEL', KEYS[4], unpack(old))
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
"""


class ScheduleStore(StoreBase):
    def _register_schedule_scripts(self) -> None:
        self._claim_schedules = self.redis.register_script(_CLAIM)
        self._advance_schedule = self.redis.register_script(_ADVANCE)

    async def save_schedule(self, name: str, schedule: dict[str, Any], next_ms: int | None) -> None:
        """Write the schedule and set its timer (None: paused, or no fire left)."""
        pipe = self.multi()
        pipe.hset(Keys.schedules, name, orjson.dumps(schedule))
        pipe.hdel(Keys.schedules_firing, name)
        if next_ms is None:
            pipe.zrem(Keys.schedule_timers, name)
        else:
            pipe.zadd(Keys.schedule_timers, {name: next_ms})
        await pipe.execute()

    async def delete_schedule(self, name: str) -> bool:
        pipe = self.multi()
        pipe.hdel(Keys.schedules, name)
        pipe.hdel(Keys.schedules_firing, name)
        pipe.zrem(Keys.schedule_timers, name)
        deleted, _, _ = await pipe.execute()
        return bool(deleted)

    async def get_schedule(self, name: str) -> dict[str, Any] | None:
        pipe = self.multi()
        pipe.hget(Keys.schedules, name)
        pipe.hget(Keys.schedules_firing, name)
        pipe.zscore(Keys.schedule_timers, name)
        raw, firing, score = await pipe.execute()
        if raw is None:
            return None
        return _with_next_run(orjson.loads(raw), firing, score)

    async def all_schedules(self) -> list[dict[str, Any]]:
        pipe = self.multi()
        pipe.hgetall(Keys.schedules)
        pipe.hgetall(Keys.schedules_firing)
        pipe.zrange(Keys.schedule_timers, 0, -1, withscores=True)
        raw, firing, timers = await pipe.execute()
        scores = dict(timers)
        return [
            _with_next_run(orjson.loads(value), firing.get(name), scores.get(name))
            for name, value in sorted(raw.items())
        ]

    async def claim_due_schedules(self, now_ms: int, claim_until_ms: int, limit: int) -> list[tuple[str, int]]:
        """Due schedules, each with the fire time to fire, claimed until `claim_until_ms`."""
        reply = await self._claim_schedules(
            keys=[Keys.schedule_timers, Keys.schedules_firing], args=[now_ms, claim_until_ms, limit]
        )
        return [(reply[i].decode(), int(reply[i + 1])) for i in range(0, len(reply), 2)]

    async def advance_schedule(self, name: str, fire_ms: int, next_ms: int | None, record: dict[str, Any]) -> bool:
        """Record the fire, then move the timer to `next_ms` (None: remove it) if the claim
        on `fire_ms` still stands; False when it did not (the schedule changed meanwhile)."""
        advanced = await self._advance_schedule(
            keys=[
                Keys.schedule_timers,
                Keys.schedules_firing,
                Keys.schedule_runs_of(name),
                Keys.schedule_runs,
                Keys.schedule_run_names,
            ],
            args=[
                name,
                fire_ms,
                "" if next_ms is None else next_ms,
                record["executionId"],
                orjson.dumps(record),
                KEEP_RUNS,
            ],
        )
        return bool(advanced)

    async def schedule_runs(self, names: list[str] | None) -> list[dict[str, Any]]:
        """The fire records of the named schedules (None: of every schedule)."""
        if names is None:
            names = sorted(n.decode() for n in await self.redis.smembers(Keys.schedule_run_names))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.zrange(Keys.schedule_runs_of(name), 0, -1)
        ids = [i for found in await pipe.execute() for i in found]
        if not ids:
            return []
        return [orjson.loads(raw) for raw in await self.redis.hmget(Keys.schedule_runs, ids) if raw is not None]


def _with_next_run(schedule: dict[str, Any], firing: bytes | None, score: float | None) -> dict[str, Any]:
    # A claimed schedule's score is the end of its claim; the time it fires is in `firing`.
    if firing is not None:
        schedule["nextRunTime"] = int(firing)
    elif score is not None:
        schedule["nextRunTime"] = int(score)
    else:
        schedule.pop("nextRunTime", None)
    return schedule
