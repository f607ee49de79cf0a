"""Conductor's query language: the searchable fields of each kind, parsing a query and a
sort, and planning which indexes answer it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cluster.store import WORKFLOW_SUMMARY_FIELDS, Keys
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
