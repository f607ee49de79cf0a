"""Search over executions and tasks: Conductor's query language, answered from indexes.

The indexes are written by the shards' checkpoints (cluster/store/checkpoint.py,
`Checkpoint.index`, in the same script as the step that changed a status, or right after
it on a Redis Cluster): sorted sets of workflow ids
by startTime (all, per workflow type, per status, per correlation id) and of task ids by
updateTime (per task type, per status: every task is in exactly one status set, so
their union is "all"), and a hash of compact workflow summaries (a task's record in its
execution's checkpoint serves as its summary). A search never scans keys:

1. the query is parsed into a conjunction of conditions (`parse_query`);
2. conditions on indexed fields (`workflowType`, `status`, `correlationId` / `taskType`,
   `status`) name sorted sets, and a range on the score field (`startTime` /
   `updateTime`) bounds the `ZRANGEBYSCORE`. Alternatives of one field (`IN`) name
   disjoint sets: a page of their union is merged from the heads of each. Conditions on
   different fields are intersected (`ZUNIONSTORE`/`ZINTERSTORE` into scratch keys, in
   one transaction that deletes them again);
3. ids named by the query (`workflowId`, `taskId`, a task's `workflowId`, a free text
   that is an id) are looked up directly;
4. when that is the whole query and the order is the score field's, the page is a
   `ZRANGEBYSCORE ... LIMIT` and the total a `ZCOUNT` (per set): for one field (or
   none) the cost does not grow with the number of executions, an intersection costs
   in proportion to the smaller set. Otherwise (conditions on other fields, `!=`, `STARTS_WITH`, a
   sort on another field) the summaries of the executions the indexes let through are
   read and filtered or sorted here: that costs in proportion to those matches.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from actors.workflow.state import public_task
from cluster.store import WORKFLOW_SUMMARY_FIELDS, Keys, Store
from definitions.models import TaskStatus, WorkflowStatus

Json = dict[str, Any]
MAX_SIZE = 5000  # Conductor's limit for one page
# Ids looked up directly (a query naming workflowId or taskId) are capped too.
MAX_NAMED_IDS = 1000
# Deeper than this, a page of a union of disjoint sets is read from a ZUNIONSTORE rather
# than merged from the first start+size entries of each set.
MERGE_DEPTH = 10_000


class QueryError(ValueError):
    """A query, sort or paging parameter that cannot be answered; the message says why."""


# -- the schema of each searchable kind -----------------------------------------------------

SET, ID, SCORE, SUMMARY = "set", "id", "score", "summary"


@dataclass(frozen=True)
class Field:
    name: str
    numeric: bool = False
    # SET: one sorted set per value; ID: names ids; SCORE: the sorted sets' score;
    # SUMMARY: read from the summaries.
    index: str = SUMMARY
    allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class Schema:
    kind: str
    fields: dict[str, Field]
    id_field: str
    score_field: str
    # Workflows: a hash of compact summaries; tasks: None, their records serve.
    summary_fields: tuple[str, ...] | None
    summaries_key: str | None
    all_keys: tuple[str, ...]  # disjoint sets whose union is every execution (task)
    set_key: Callable[[str, str], str]
    free_text_fields: tuple[str, ...]

    def field_of(self, name: str) -> Field:
        found = self.fields.get(name)
        if found is None:
            raise QueryError(f"Unknown {self.kind} search field '{name}'; searchable fields: {', '.join(self.fields)}")
        return found


def _fields(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


def _workflow_set_key(field_name: str, value: str) -> str:
    if field_name == "workflowType":
        return Keys.workflow_index_type(value)
    if field_name == "status":
        return Keys.workflow_index_status(value)
    return Keys.workflow_index_correlation(value)


def _task_set_key(field_name: str, value: str) -> str:
    if field_name == "taskType":
        return Keys.task_index_type(value)
    return Keys.task_index_status(value)


WORKFLOWS = Schema(
    kind="workflow",
    fields=_fields(
        Field("workflowType", index=SET),
        Field("status", index=SET, allowed=frozenset(s.value for s in WorkflowStatus)),
        Field("correlationId", index=SET),
        Field("workflowId", index=ID),
        Field("startTime", numeric=True, index=SCORE),
        Field("endTime", numeric=True),
        Field("version", numeric=True),
    ),
    id_field="workflowId",
    score_field="startTime",
    summary_fields=WORKFLOW_SUMMARY_FIELDS,
    summaries_key=Keys.workflow_summaries,
    all_keys=(Keys.workflow_index_all,),
    set_key=_workflow_set_key,
    free_text_fields=("workflowId", "correlationId", "workflowType"),
)

TASKS = Schema(
    kind="task",
    fields=_fields(
        Field("taskType", index=SET),
        Field("status", index=SET, allowed=frozenset(s.value for s in TaskStatus)),
        Field("taskId", index=ID),
        Field("workflowId", index=ID),
        Field("updateTime", numeric=True, index=SCORE),
        Field("taskDefName"),
        Field("referenceTaskName"),
        Field("workflowType"),
        Field("correlationId"),
        Field("scheduledTime", numeric=True),
        Field("startTime", numeric=True),
        Field("endTime", numeric=True),
    ),
    id_field="taskId",
    score_field="updateTime",
    summary_fields=None,
    summaries_key=None,
    all_keys=tuple(Keys.task_index_status(s.value) for s in TaskStatus),
    set_key=_task_set_key,
    free_text_fields=("taskId", "workflowId", "taskType"),
)


TASK_FIELDS_FROM_RECORD = tuple(name for name in TASKS.fields if name not in ("workflowId", "updateTime"))


# -- parsing --------------------------------------------------------------------------------

Value = str | int


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # =, !=, >, <, >=, <=, IN, BETWEEN, STARTS_WITH
    values: tuple[Value, ...]


COMPARISONS = ("=", "!=", ">", "<", ">=", "<=")
KEYWORD_OPERATORS = ("IN", "BETWEEN", "STARTS_WITH")
_SPECIAL = set("()=<>!,'\"")


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, op, (, ), ",", end
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            tokens.append(Token(c, c, i))
            i += 1
        elif c in "=<>!":
            two = text[i : i + 2]
            if two in ("!=", ">=", "<="):
                tokens.append(Token("op", two, i))
                i += 2
            elif c == "!":
                raise QueryError(f"Malformed query at position {i}: '!' must be followed by '='")
            else:
                tokens.append(Token("op", c, i))
                i += 1
        elif c in "'\"":
            start, i = i, i + 1
            chars: list[str] = []
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise QueryError(f"Malformed query: the string starting at position {start} is not closed with {c}")
            tokens.append(Token("string", "".join(chars), start))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            tokens.append(Token("word", text[start:i], start))
    tokens.append(Token("end", "", n))
    return tokens


class _Parser:
    def __init__(self, text: str, schema: Schema) -> None:
        self.text = text
        self.schema = schema
        self.tokens = tokenize(text)
        self.position = 0

    def peek(self) -> Token:
        return self.tokens[self.position]

    def take(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def fail(self, token: Token, expected: str) -> QueryError:
        found = "the end of the query" if token.kind == "end" else f"'{token.text}'"
        return QueryError(f"Malformed query at position {token.at}: expected {expected}, found {found}")

    def is_keyword(self, token: Token, word: str) -> bool:
        return token.kind == "word" and token.text.upper() == word

    def parse(self) -> list[Condition]:
        conditions = self.conjunction()
        token = self.peek()
        if token.kind != "end":
            raise self.fail(token, "AND or the end of the query")
        return conditions

    def conjunction(self) -> list[Condition]:
        conditions = self.term()
        while True:
            token = self.peek()
            if self.is_keyword(token, "AND"):
                self.take()
                conditions += self.term()
            elif self.is_keyword(token, "OR"):
                raise QueryError(
                    f"OR (position {token.at}) is not supported: use IN (a,b) for alternatives of one field"
                )
            else:
                return conditions

    def term(self) -> list[Condition]:
        token = self.peek()
        if token.kind == "(":
            self.take()
            conditions = self.conjunction()
            closing = self.take()
            if closing.kind != ")":
                raise self.fail(closing, "')'")
            return conditions
        return [self.condition()]

    def condition(self) -> Condition:
        name = self.take()
        if name.kind != "word":
            raise self.fail(name, "a field name")
        field_ = self.schema.field_of(name.text)
        op_token = self.take()
        if op_token.kind == "op":
            op = op_token.text
        elif op_token.kind == "word" and op_token.text.upper() in KEYWORD_OPERATORS:
            op = op_token.text.upper()
        elif op_token.kind == "word" and op_token.text.upper() == "IS":
            raise QueryError(f"Operator IS (position {op_token.at}) is not supported")
        else:
            raise self.fail(op_token, "an operator (=, !=, >, <, >=, <=, IN, BETWEEN, STARTS_WITH)")
        if op == "IN":
            values = self.value_list(field_)
        elif op == "BETWEEN":
            low = self.value(field_)
            conjunction = self.take()
            if not self.is_keyword(conjunction, "AND"):
                raise self.fail(conjunction, "AND between the two bounds of BETWEEN")
            values = (low, self.value(field_))
        else:
            values = (self.value(field_),)
        if op in (">", "<", ">=", "<=", "BETWEEN") and not field_.numeric:
            raise QueryError(f"Operator {op} needs a numeric field; '{field_.name}' is not one")
        if op == "STARTS_WITH" and field_.numeric:
            raise QueryError(f"Operator STARTS_WITH needs a text field; '{field_.name}' is numeric")
        return Condition(field_.name, op, values)

    def value_list(self, field_: Field) -> tuple[Value, ...]:
        opening = self.take()
        if opening.kind != "(":
            raise self.fail(opening, "'(' after IN")
        values = [self.value(field_)]
        while True:
            token = self.take()
            if token.kind == ")":
                return tuple(values)
            if token.kind != ",":
                raise self.fail(token, "',' or ')' in the IN list")
            values.append(self.value(field_))

    def value(self, field_: Field) -> Value:
        token = self.take()
        if token.kind not in ("word", "string"):
            raise self.fail(token, f"a value for '{field_.name}'")
        if field_.numeric:
            try:
                return int(token.text)
            except ValueError:
                raise QueryError(
                    f"'{field_.name}' takes an integer (epoch milliseconds for a time), got '{token.text}'"
                ) from None
        if field_.allowed is not None and token.text not in field_.allowed:
            raise QueryError(
                f"Unknown {self.schema.kind} {field_.name} '{token.text}'; one of {', '.join(sorted(field_.allowed))}"
            )
        return token.text


def parse_query(text: str | None, schema: Schema) -> list[Condition]:
    """Conductor's query syntax, the conjunctive part of it: `a IN (x,y) AND b = 'z' AND t > 1`."""
    if text is None or not text.strip():
        return []
    return _Parser(text, schema).parse()


def parse_sort(text: str | None, schema: Schema) -> list[tuple[str, bool]]:
    """`field:ASC|DESC`, several separated by `|` (Conductor's form); ASC if no order.

    Returns (field, descending) pairs; none given means newest first on the score field.
    """
    if text is None or not text.strip():
        return [(schema.score_field, True)]
    keys: list[tuple[str, bool]] = []
    for part in text.split("|"):
        name, _, order = part.strip().partition(":")
        if not name:
            raise QueryError(f"Malformed sort '{text}': expected field:ASC or field:DESC")
        schema.field_of(name)
        order = order.strip().upper() or "ASC"
        if order not in ("ASC", "DESC"):
            raise QueryError(f"Sort order must be ASC or DESC, got '{order}' in '{text}'")
        keys.append((name, order == "DESC"))
    return keys


# -- evaluation -----------------------------------------------------------------------------


@dataclass
class Plan:
    """A parsed search, split by how each part is answered."""

    # Each group: (field, value) alternatives, any of which matches; all groups must match.
    groups: list[list[tuple[str, Value]]] = field(default_factory=list)
    low: float = float("-inf")
    high: float = float("inf")
    low_open: bool = False
    high_open: bool = False
    residual: list[Condition] = field(default_factory=list)

    def narrow(self, low: float | None = None, high: float | None = None, *, open_: bool = False) -> None:
        if low is not None and (low > self.low or (low == self.low and open_)):
            self.low, self.low_open = low, open_
        if high is not None and (high < self.high or (high == self.high and open_)):
            self.high, self.high_open = high, open_

    def bounds(self) -> tuple[str, str]:
        def bound(value: float, open_: bool, infinite: str) -> str:
            if value in (float("inf"), float("-inf")):
                return infinite
            return f"({int(value)}" if open_ else str(int(value))

        return bound(self.low, self.low_open, "-inf"), bound(self.high, self.high_open, "+inf")

    def in_bounds(self, score: float) -> bool:
        if score < self.low or (self.low_open and score == self.low):
            return False
        return not (score > self.high or (self.high_open and score == self.high))


def plan_of(schema: Schema, conditions: Sequence[Condition], free_text: str | None) -> Plan:
    plan = Plan()
    for condition in conditions:
        field_ = schema.fields[condition.field]
        op, values = condition.op, condition.values
        if field_.index in (SET, ID) and op in ("=", "IN"):
            plan.groups.append([(condition.field, value) for value in values])
        elif field_.index == SCORE and op in ("=", ">", "<", ">=", "<=", "BETWEEN"):
            first = float(values[0])
            if op == "=":
                plan.narrow(first, first)
            elif op in (">", ">="):
                plan.narrow(low=first, open_=op == ">")
            elif op in ("<", "<="):
                plan.narrow(high=first, open_=op == "<")
            else:
                plan.narrow(min(first, float(values[1])), max(first, float(values[1])))
        else:
            plan.residual.append(condition)
    text = (free_text or "").strip()
    if text and text != "*":
        plan.groups.append([(name, text) for name in schema.free_text_fields])
    return plan


def matches(condition: Condition, summary: Json) -> bool:
    value = summary.get(condition.field)
    op, wanted = condition.op, condition.values
    if op == "=":
        return value == wanted[0]
    if op == "IN":
        return value in wanted
    if op == "!=":
        return value != wanted[0]
    if op == "STARTS_WITH":
        return isinstance(value, str) and value.startswith(str(wanted[0]))
    if value is None:
        return False
    if op == ">":
        return bool(value > wanted[0])
    if op == "<":
        return bool(value < wanted[0])
    if op == ">=":
        return bool(value >= wanted[0])
    if op == "<=":
        return bool(value <= wanted[0])
    low, high = sorted((int(wanted[0]), int(wanted[1])))
    return bool(low <= value <= high)


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


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, value if value is not None else 0)


def sort_summaries(summaries: list[Json], order: list[tuple[str, bool]], id_field: str) -> list[Json]:
    """Sorted by each key in turn; ties by id, in the direction of the last key."""
    ordered = sorted(summaries, key=lambda s: s[id_field], reverse=order[-1][1])
    for name, descending in reversed(order):
        # Missing values (no correlation id, not ended) sort before any value.
        def key(summary: Json, name: str = name) -> tuple[bool, Any]:
            return _sort_key(summary.get(name))

        ordered.sort(key=key, reverse=descending)
    return ordered


# -- Conductor's result shapes --------------------------------------------------------------


def iso_time(epoch_ms: int) -> str:
    """Conductor's summary time format: yyyy-MM-dd'T'HH:mm:ss.SSS'Z', in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000)) + f".{epoch_ms % 1000:03d}Z"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def workflow_summary(workflow: Json) -> Json:
    """Conductor's WorkflowSummary of an execution (WorkflowSummary.java): times as text,
    input and output as JSON text, failed reference names joined by commas."""
    end = workflow.get("endTime") or 0
    summary: Json = {
        "workflowType": workflow.get("workflowName"),
        "version": workflow.get("workflowVersion"),
        "workflowId": workflow.get("workflowId"),
        "correlationId": workflow.get("correlationId"),
        "startTime": iso_time(workflow.get("createTime") or workflow.get("startTime") or 0),
        "updateTime": iso_time(workflow["updateTime"]) if workflow.get("updateTime") else None,
        "endTime": iso_time(end) if end > 0 else None,
        "status": workflow.get("status"),
        "input": _json_text(workflow.get("input") or {}),
        "output": _json_text(workflow.get("output") or {}),
        "reasonForIncompletion": workflow.get("reasonForIncompletion"),
        "executionTime": end - (workflow.get("startTime") or 0) if end > 0 else 0,
        "event": workflow.get("event"),
        "failedReferenceTaskNames": ",".join(workflow.get("failedReferenceTaskNames") or []),
        "failedTaskNames": list(workflow.get("failedTaskNames") or []),
        "priority": workflow.get("priority") or 0,
        "createdBy": workflow.get("createdBy"),
        "taskToDomain": workflow.get("taskToDomain") or {},
        "idempotencyKey": workflow.get("idempotencyKey"),
        "parentWorkflowId": workflow.get("parentWorkflowId") or "",
    }
    return {key: value for key, value in summary.items() if value is not None}


def task_summary(task: Json) -> Json:
    """Conductor's TaskSummary of a task (TaskSummary.java)."""
    scheduled = task.get("scheduledTime") or 0
    started = task.get("startTime") or 0
    end = task.get("endTime") or 0
    summary: Json = {
        "workflowId": task.get("workflowInstanceId"),
        "workflowType": task.get("workflowType"),
        "correlationId": task.get("correlationId"),
        "scheduledTime": iso_time(scheduled),
        "startTime": iso_time(started),
        "updateTime": iso_time(task.get("updateTime") or 0),
        "endTime": iso_time(end),
        "status": task.get("status"),
        "reasonForIncompletion": task.get("reasonForIncompletion"),
        "executionTime": end - started if end > 0 else 0,
        "queueWaitTime": started - scheduled if started > 0 and scheduled > 0 else 0,
        "taskDefName": task.get("taskDefName"),
        "taskType": task.get("taskType"),
        "input": _json_text(task.get("inputData") or {}),
        "output": _json_text(task.get("outputData") or {}),
        "taskId": task.get("taskId"),
        "workflowPriority": task.get("workflowPriority") or 0,
        "domain": task.get("domain"),
    }
    return {key: value for key, value in summary.items() if value is not None}


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
