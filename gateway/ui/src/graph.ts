// A workflow definition as a graph: one node per task reference, edges in run order.
// Forks fan out to their branches and meet at the JOIN that follows; switches fan out
// per case; a DO_WHILE runs its body and loops back. Laid out top-down by dagre.
import dagre from "@dagrejs/dagre";
import type { Edge, Node } from "@xyflow/react";
import type { Task, TaskStatus, WorkflowDef, WorkflowTask } from "./types";

export interface TaskNodeData extends Record<string, unknown> {
  ref: string;
  type: string;
  name: string;
  task?: Task; // the latest attempt, in an execution
  attempts: number;
  error?: string; // a validation problem naming this task
  subWorkflow?: { id?: string; name?: string; version?: number };
  dynamic?: boolean;
}

export const START = "__start";
export const END = "__end";
const NODE_WIDTH = 200;
const NODE_HEIGHT = 56;

// DO_WHILE iterations carry `ref__N`; the graph shows the definition's ref.
export const baseRef = (ref: string): string => ref.replace(/__\d+$/, "");

export function latestByRef(tasks: Task[]): Map<string, Task[]> {
  const byRef = new Map<string, Task[]>();
  for (const task of [...tasks].sort((a, b) => a.seq - b.seq)) {
    const ref = baseRef(task.referenceTaskName);
    byRef.set(ref, [...(byRef.get(ref) ?? []), task]);
  }
  return byRef;
}

export function buildGraph(
  definition: WorkflowDef,
  tasks: Task[] = [],
  errors: Map<string, string> = new Map(),
): { nodes: Node<TaskNodeData>[]; edges: Edge[] } {
  const nodes: Node<TaskNodeData>[] = [];
  const edges: Edge[] = [];
  const attemptsByRef = latestByRef(tasks);
  const seen = new Set<string>();
  let edgeCount = 0;

  const connect = (from: string, to: string, label?: string, loop = false) => {
    edges.push({
      id: `e${edgeCount++}`,
      source: from,
      target: to,
      label,
      animated: loop,
      style: loop ? { strokeDasharray: "4 3" } : undefined,
    });
  };

  const addNode = (wt: WorkflowTask, dynamic = false): string => {
    let id = wt.taskReferenceName || `(no ref) ${nodes.length}`;
    // A duplicate ref is a validation error; still draw both.
    while (seen.has(id)) id = `${id}'`;
    seen.add(id);
    const attempts = attemptsByRef.get(wt.taskReferenceName) ?? [];
    const task = attempts.at(-1);
    const type = wt.type ?? task?.taskType ?? "SIMPLE";
    nodes.push({
      id,
      type: "task",
      position: { x: 0, y: 0 },
      data: {
        ref: wt.taskReferenceName,
        type,
        name: wt.name,
        task,
        attempts: attempts.length,
        error: errors.get(wt.taskReferenceName),
        dynamic,
        subWorkflow:
          type === "SUB_WORKFLOW" || type === "START_WORKFLOW"
            ? {
                id: task?.subWorkflowId ?? (task?.outputData?.workflowId as string | undefined),
                name: wt.subWorkflowParam?.name,
                version: wt.subWorkflowParam?.version,
              }
            : undefined,
      },
    });
    return id;
  };

  // Adds `list` after `previous`; answers the ids the next task follows.
  const addAll = (list: WorkflowTask[], previous: string[], label?: string): string[] => {
    let tails = previous;
    let pendingLabel = label;
    for (let i = 0; i < list.length; i++) {
      const wt = list[i];
      const id = addNode(wt);
      for (const tail of tails) connect(tail, id, pendingLabel);
      pendingLabel = undefined;
      tails = [id];
      const type = wt.type ?? "SIMPLE";
      if (type === "FORK_JOIN") {
        const branches = wt.forkTasks ?? [];
        tails = branches.length ? branches.flatMap((branch) => addAll(branch, [id])) : [id];
      } else if (type === "FORK_JOIN_DYNAMIC") {
        // The branches exist only at run time: the JOIN's joinOn lists them.
        const join = list[i + 1];
        const joinTask = join ? attemptsByRef.get(join.taskReferenceName)?.at(-1) : undefined;
        const forked = (joinTask?.inputData?.joinOn as string[] | undefined) ?? [];
        const branchIds = forked.map((ref) => {
          const forkedTask = attemptsByRef.get(ref)?.at(-1);
          const branchId = addNode(
            { name: forkedTask?.taskDefName ?? ref, taskReferenceName: ref, type: forkedTask?.taskType },
            true,
          );
          connect(id, branchId);
          return branchId;
        });
        tails = branchIds.length ? branchIds : [id];
      } else if (type === "SWITCH" || type === "DECISION") {
        const cases = Object.entries(wt.decisionCases ?? {});
        tails = [
          ...cases.flatMap(([value, branch]) => (branch.length ? addAll(branch, [id], value) : [id])),
          ...((wt.defaultCase ?? []).length ? addAll(wt.defaultCase ?? [], [id], "default") : [id]),
        ];
        tails = [...new Set(tails)];
      } else if (type === "DO_WHILE") {
        const body = wt.loopOver ?? [];
        if (body.length) {
          tails = addAll(body, [id]);
          for (const tail of tails) connect(tail, id, "loop", true);
        }
      }
    }
    return tails;
  };

  nodes.push({ id: START, type: "terminal", position: { x: 0, y: 0 }, data: { ref: "start", type: "START", name: "", attempts: 0 } });
  const tails = addAll(definition.tasks ?? [], [START]);
  nodes.push({ id: END, type: "terminal", position: { x: 0, y: 0 }, data: { ref: "end", type: "END", name: "", attempts: 0 } });
  for (const tail of tails) connect(tail, END);

  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 45 });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    const terminal = node.type === "terminal";
    layout.setNode(node.id, { width: terminal ? 60 : NODE_WIDTH, height: terminal ? 30 : NODE_HEIGHT });
  }
  for (const edge of edges) if (!edge.animated) layout.setEdge(edge.source, edge.target);
  dagre.layout(layout);
  for (const node of nodes) {
    const placed = layout.node(node.id);
    node.position = { x: placed.x - placed.width / 2, y: placed.y - placed.height / 2 };
  }
  return { nodes, edges };
}

export const STATUS_COLORS: Record<TaskStatus | "NONE", string> = {
  SCHEDULED: "#9aa5b1",
  IN_PROGRESS: "#2f80ed",
  COMPLETED: "#27ae60",
  COMPLETED_WITH_ERRORS: "#8bc34a",
  FAILED: "#eb5757",
  FAILED_WITH_TERMINAL_ERROR: "#b71c1c",
  TIMED_OUT: "#f2994a",
  CANCELED: "#828282",
  SKIPPED: "#bdbdbd",
  NONE: "#ffffff",
};

// Problems from /api/metadata/workflow/validate name the task as `task 'ref' (TYPE): ...`.
export function errorsByRef(messages: string[]): Map<string, string> {
  const byRef = new Map<string, string>();
  for (const message of messages) {
    const match = /task '([^']+)'/.exec(message);
    if (match) byRef.set(match[1], byRef.has(match[1]) ? `${byRef.get(match[1])}; ${message}` : message);
  }
  return byRef;
}
