"""The operators: one module per task type (or family), each declaring its traits and
hooks in an `Operator` subclass (base.py) that registers itself; `operator_for(type)` in
base.py answers what any other layer needs to know about a type. `all.py` imports them
all; `operator_for` does so itself on first use.

Nothing is imported here: the operator modules import the machine's helpers (graph,
state), which import base.py, so loading them must wait until those are loaded.
"""
