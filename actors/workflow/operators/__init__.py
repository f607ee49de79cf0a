"""The operators: one module per task type (or family), each declaring its traits and
hooks in an `Operator` subclass (base.py) that registers itself; `operator_for(type)`
answers what any other layer needs to know about a type.

Importing this package registers them all.
"""

from actors.workflow.operators import (  # noqa: F401 (imported to register)
    do_while,
    dynamic,
    dynamic_fork,
    event,
    exclusive_join,
    fork_join,
    http,
    inline,
    join,
    jq_transform,
    lambda_task,
    noop,
    set_variable,
    simple,
    start_workflow,
    sub_workflow,
    switch,
    terminate,
    wait,
)
from actors.workflow.operators.base import Operator, operator_for, register

__all__ = ["Operator", "operator_for", "register"]
