"""Answering a search from the indexes of a Store."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from actors.workflow.state import public_task
from cluster.search.query import (
    ID,
    MAX_NAMED_IDS,
    MAX_SIZE,
    MERGE_DEPTH,
    SET,
    TASK_FIELDS_FROM_RECORD,
    TASKS,
    WORKFLOWS,
    Json,
    Plan,
    QueryError,
    Schema,
    Value,
    matches,
    parse_query,
    parse_sort,
    plan_of,
)
from cluster.search.summaries import sort_summaries, task_summary, workflow_summary
from cluster.store import Keys, Store


@dataclass
class Found:
    total: int
    ids: list[str]
    # Summaries the search read, by id (only when it had to read them).
    summaries: dict[str, Json] = field(default_factory=dict)


class Searcher:
    """Answers searches from the indexes of a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.redis = store.redis

    async def search(
        self,
        schema: Schema,
        query: str | None = None,
        free_text: str | None = None,
        start: int = 0,
        size: int = 100,
        sort: str | None = None,
    ) -> Found:
        if start < 0:
            raise QueryError(f"start must not be negative, got {start}")
        if not 0 <= size <= MAX_SIZE:
            raise QueryError(f"size must be between 0 and {MAX_SIZE}, got {size}. Please use pagination.")
        plan = plan_of(schema, parse_query(query, schema), free_text)
        order = parse_sort(sort, schema)
        named = await self._named_ids(schema, plan)
        if named is not None:
            return await self._filter(schema, plan, named, order, start, size)
        return await self._from_indexes(schema, plan, order, start, size)

    # -- ids named by the query --

    async def _named_ids(self, schema: Schema, plan: Plan) -> list[str] | None:
        """Candidates when some group consists only of ids: far fewer than any index holds."""
        id_groups = [g for g in plan.groups if all(schema.fields[name].index == ID for name, _ in g)]
        if not id_groups:
            return None
        candidates: set[str] | None = None
        for group in id_groups:
            ids = set(await self._resolve_ids(schema, group))
            candidates = ids if candidates is None else candidates & ids
        return sorted(candidates or ())

    async def _resolve_ids(self, schema: Schema, alternatives: Iterable[tuple[str, Value]]) -> list[str]:
        """The ids (of `schema`'s kind) that id alternatives name; only the ids alone here."""
        ids: list[str] = []
        for name, value in alternatives:
            if schema.fields[name].index != ID:
                continue
            if name == schema.id_field:
                ids.append(str(value))
            else:  # a task's workflowId: the tasks in that execution's checkpoint
                ids.extend(await self.store.task_ids_of_workflow(str(value)))
            if len(ids) > MAX_NAMED_IDS:
                raise QueryError(f"The query names more than {MAX_NAMED_IDS} {schema.id_field}s")
        return ids

    async def summaries(self, schema: Schema, ids: Sequence[str]) -> dict[str, Json]:
        """What filters and sorts read, by id, for the ids that are indexed."""
        found: dict[str, Json] = {}
        for begin in range(0, len(ids), 5000):
            chunk = ids[begin : begin + 5000]
            if schema.summaries_key is None:
                found.update(await self._task_summaries(chunk))
                continue
            names = schema.summary_fields or ()
            raws = await self.redis.hmget(schema.summaries_key, chunk)
            for item_id, raw in zip(chunk, raws, strict=True):
                if raw is not None:
                    summary = dict(zip(names, orjson.loads(raw), strict=False))
                    summary[schema.id_field] = item_id
                    found[item_id] = summary
        return found

    async def _task_summaries(self, task_ids: Sequence[str]) -> dict[str, Json]:
        """Tasks' own records; `updateTime` is their index score (their last status change)."""
        tasks = [t for t in await self.store.get_tasks(list(task_ids)) if t is not None]
        pipe = self.redis.pipeline(transaction=False)
        for task in tasks:
            pipe.zscore(Keys.task_index_type(task["taskType"]), task["taskId"])
        scores = await pipe.execute() if tasks else []
        found: dict[str, Json] = {}
        for task, score in zip(tasks, scores, strict=True):
            if score is not None:  # not indexed: not found
                summary = {name: task.get(name) for name in TASK_FIELDS_FROM_RECORD}
                summary["workflowId"] = task.get("workflowInstanceId")
                summary["updateTime"] = int(score)
                found[task["taskId"]] = summary
        return found

    async def _filter(
        self,
        schema: Schema,
        plan: Plan,
        candidates: Sequence[str],
        order: list[tuple[str, bool]],
        start: int,
        size: int,
    ) -> Found:
        """Every condition checked on the candidates' summaries, then sorted and paged here."""
        summaries = await self.summaries(schema, candidates)
        score = schema.score_field
        kept = [
            s
            for s in summaries.values()
            if plan.in_bounds(s.get(score) or 0)
            and all(any(s.get(name) == value for name, value in group) for group in plan.groups)
            and all(matches(condition, s) for condition in plan.residual)
        ]
        ordered = sort_summaries(kept, order, schema.id_field)
        page = ordered[start : start + size]
        return Found(len(ordered), [s[schema.id_field] for s in page], {s[schema.id_field]: s for s in page})

    # -- the indexes --

    def _disjoint_keys(self, schema: Schema, plan: Plan) -> list[str] | None:
        """The sets whose union is the answer, when they are disjoint: everything, or one
        field's alternatives (an execution has one type, one status, one correlation id)."""
        if not plan.groups:
            return list(schema.all_keys)
        if len(plan.groups) > 1:
            return None
        [group] = plan.groups
        fields = {name for name, _ in group}
        if len(fields) != 1 or schema.fields[next(iter(fields))].index != SET:
            return None
        return list(dict.fromkeys(schema.set_key(name, str(value)) for name, value in group))

    async def _from_indexes(
        self, schema: Schema, plan: Plan, order: list[tuple[str, bool]], start: int, size: int
    ) -> Found:
        by_index = not plan.residual and order == [(schema.score_field, order[0][1])]
        descending = by_index and order[0][1]
        low, high = plan.bounds()
        token = uuid.uuid4().hex
        scratch: list[str] = []
        pipe = self.redis.pipeline(transaction=True)
        keys = self._disjoint_keys(schema, plan)
        if keys is None or (by_index and len(keys) > 1 and start + size > MERGE_DEPTH):
            base = await self._combine(schema, plan, keys, pipe, token, scratch)
            if base is None:
                return Found(0, [])
            keys = [base]
        made = len(pipe)  # the commands that made scratch sets: their replies come first
        if by_index:
            for key in keys:
                pipe.zcount(key, low, high)
            # One set: the page itself. Several (disjoint): the first start+size of each.
            offset, count = (start, size) if len(keys) == 1 else (0, start + size)
            if size:
                for key in keys:
                    if descending:
                        pipe.zrevrangebyscore(key, high, low, start=offset, num=count, withscores=True)
                    else:
                        pipe.zrangebyscore(key, low, high, start=offset, num=count, withscores=True)
        else:
            for key in keys:
                pipe.zrangebyscore(key, low, high)
        if scratch:
            pipe.delete(*scratch)
        replies = (await pipe.execute())[made:]
        if by_index:
            total = sum(int(n) for n in replies[: len(keys)])
            heads = [(score, member) for reply in replies[len(keys) : 2 * len(keys)] for member, score in reply]
            if len(keys) > 1:
                # Ties in score are ordered by member, as Redis orders them within one set.
                heads.sort(reverse=descending)
                heads = heads[start : start + size]
            return Found(total, [member.decode() for _, member in heads])
        candidates = [m.decode() for reply in replies[: len(keys)] for m in reply]
        plan.groups = []  # the indexes answered them; the bounds are cheap to check again
        return await self._filter(schema, plan, candidates, order, start, size)

    async def _combine(
        self, schema: Schema, plan: Plan, disjoint: list[str] | None, pipe: Any, token: str, scratch: list[str]
    ) -> str | None:
        """One set holding the answer, made in `pipe` (scratch keys are listed in `scratch`);
        None if the answer is empty whatever the indexes hold."""
        groups: list[list[str]] = []
        if disjoint is not None:
            groups.append(disjoint)
        else:
            for group in plan.groups:
                keys = [schema.set_key(name, str(value)) for name, value in group if schema.fields[name].index == SET]
                named = await self._resolve_ids(schema, group)
                if named:
                    # Ids among the alternatives (a free text that is an id): a scratch set of
                    # those that exist, with their scores.
                    scores = {
                        item_id: s.get(schema.score_field) or 0
                        for item_id, s in (await self.summaries(schema, named)).items()
                    }
                    if scores:
                        key = Keys.search_scratch(f"{token}:ids:{len(scratch)}")
                        scratch.append(key)
                        pipe.zadd(key, scores)
                        keys.append(key)
                if not keys:
                    return None
                groups.append(keys)
        group_keys = []
        for keys in groups:
            if len(keys) == 1:
                group_keys.append(keys[0])
            else:
                key = Keys.search_scratch(f"{token}:or:{len(scratch)}")
                scratch.append(key)
                pipe.zunionstore(key, keys, aggregate="MAX")
                group_keys.append(key)
        if len(group_keys) == 1:
            return group_keys[0]
        base = Keys.search_scratch(f"{token}:and")
        scratch.append(base)
        pipe.zinterstore(base, group_keys, aggregate="MAX")
        return base


async def search_workflows(store: Store, full: bool, **params: Any) -> Json:
    """`GET /api/workflow/search` (summaries) and `search-v2` (full executions, no tasks)."""
    found = await Searcher(store).search(WORKFLOWS, **params)
    workflows = await store.get_workflows(found.ids, with_definition=full)
    results = [w if full else workflow_summary(w) for w in workflows if w is not None]
    # An execution removed between the index read and this one is not shown, nor counted.
    return {"totalHits": found.total - (len(found.ids) - len(results)), "results": results}


async def search_tasks(store: Store, full: bool, **params: Any) -> Json:
    """`GET /api/tasks/search` (summaries) and `search-v2` (full tasks)."""
    found = await Searcher(store).search(TASKS, **params)
    tasks = await store.get_tasks(found.ids)
    results = [public_task(t) if full else task_summary(t) for t in tasks if t is not None]
    return {"totalHits": found.total - (len(found.ids) - len(results)), "results": results}
