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

The package: `query` (the language, and which indexes answer it), `searcher` (answering
from the indexes), `summaries` (Conductor's result shapes).
"""

from cluster.search.query import (
    ID,
    SET,
    TASKS,
    WORKFLOWS,
    Condition,
    QueryError,
    matches,
    parse_query,
    parse_sort,
    plan_of,
    tokenize,
)
from cluster.search.searcher import Found, Searcher, search_tasks, search_workflows
from cluster.search.summaries import iso_time, sort_summaries, task_summary, workflow_summary

__all__ = [
    "ID",
    "SET",
    "TASKS",
    "WORKFLOWS",
    "Condition",
    "Found",
    "QueryError",
    "Searcher",
    "iso_time",
    "matches",
    "parse_query",
    "parse_sort",
    "plan_of",
    "search_tasks",
    "search_workflows",
    "sort_summaries",
    "task_summary",
    "tokenize",
    "workflow_summary",
]
