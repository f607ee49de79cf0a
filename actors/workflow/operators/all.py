"""Importing this module registers every operator (each registers itself on import)."""

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
