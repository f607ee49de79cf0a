"""The multi-node fixture itself: a real second node, an actor placed on it, the node killed.

Doesn't use the session's Ray: the cluster is separate and all Ray calls happen in driver subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.multinode import MultiNodeRay, driver_result

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fixture reads /proc"),
]

PLACE_ACTOR = """
import ray
from tests.integration.multinode import emit_result

ray.init(log_to_driver=False)

@ray.remote(num_cpus=0, resources={"node_w1": 0.01})
class Where:
    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

actor = Where.options(name="where", lifetime="detached", namespace="multinode").remote()
emit_result({
    "actor_node": ray.get(actor.node_id.remote(), timeout=60),
    "driver_node": ray.get_runtime_context().get_node_id(),
    "alive": {n["NodeID"]: n["Alive"] for n in ray.nodes()},
})
"""

WAIT_DEAD = """
import sys, time
import ray
from tests.integration.multinode import emit_result, wait_node_dead

ray.init(log_to_driver=False)
waited = wait_node_dead(sys.argv[1], timeout=30)
since_kill = time.time() - float(sys.argv[3])
nodes = {n["NodeID"]: n for n in ray.nodes()}
emit_result({
    "waited": waited,
    "since_kill": since_kill,
    "alive": nodes[sys.argv[1]]["Alive"],
    "reason": nodes[sys.argv[1]].get("DeathReasonMessage", ""),
    "head_alive": nodes[sys.argv[2]]["Alive"],
})
"""


def _ray_daemons() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "gcs_server|raylet"], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def test_actor_on_extra_node_and_node_death(tmp_path: Path) -> None:
    started = time.monotonic()
    other_ray = _ray_daemons()  # e.g. the session's own local Ray: must survive
    with MultiNodeRay(tmp_path) as cluster:
        assert cluster.head is not None
        worker = cluster.add_node("w1")
        assert worker.node_id and worker.node_id != cluster.head.node_id
        assert len(cluster.node_pids(worker)) >= 1

        placed = driver_result(cluster.run_driver(PLACE_ACTOR, timeout=120))
        assert placed["actor_node"] == worker.node_id
        assert placed["actor_node"] != placed["driver_node"] == cluster.head.node_id
        assert placed["alive"] == {cluster.head.node_id: True, worker.node_id: True}

        # The detached actor keeps a worker process on w1 alive through the kill.
        cluster.kill_raylet(worker)
        killed_at = time.time()
        dead = driver_result(
            cluster.run_driver(WAIT_DEAD, args=[worker.node_id, cluster.head.node_id, str(killed_at)], timeout=120)
        )
        assert dead["alive"] is False
        assert dead["head_alive"] is True
        assert dead["waited"] < 30
        print(f"node reported dead {dead['since_kill']:.1f}s after SIGKILL: {dead['reason']}")

        cluster_pids = set(cluster.node_pids())
        assert cluster_pids and not cluster_pids & other_ray  # only this cluster's processes are targeted
    # After teardown: no process carries this cluster's marker or mentions its temp dir, and the dir is gone.
    assert cluster.node_pids() == []
    assert cluster.root is not None and not cluster.root.exists()
    assert not [pid for pid in cluster_pids if _state(pid) not in ("", "Z", "X")]
    print(f"wall time {time.monotonic() - started:.1f}s")


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2 :].split()[0]
