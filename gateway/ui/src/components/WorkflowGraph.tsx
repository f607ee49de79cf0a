import { Background, Controls, Handle, type Node, type NodeProps, Position, ReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import { Link } from "react-router-dom";
import { buildGraph, STATUS_COLORS, type TaskNodeData } from "../graph";
import type { Task, WorkflowDef } from "../types";

function TaskNode({ data, selected }: NodeProps<Node<TaskNodeData>>) {
  const status = data.task?.status;
  const color = STATUS_COLORS[status ?? "NONE"];
  const sub = data.subWorkflow;
  return (
    <div
      className={`graph-node${selected ? " selected" : ""}${data.error ? " invalid" : ""}${data.dynamic ? " dynamic" : ""}`}
      style={{ borderColor: data.error ? "#d32f2f" : color, background: status ? `${color}22` : "#fff" }}
      data-ref={data.ref}
      data-status={status ?? "NONE"}
      title={data.error ?? data.task?.reasonForIncompletion ?? undefined}
    >
      <Handle type="target" position={Position.Top} />
      <div className="graph-node-ref">{data.ref}</div>
      <div className="graph-node-meta">
        <span>{data.type}</span>
        {status && (
          <span className="graph-node-status" style={{ color }}>
            {status}
            {data.attempts > 1 ? ` ×${data.attempts}` : ""}
          </span>
        )}
      </div>
      {sub && (sub.id || sub.name) && (
        <div className="graph-node-link">
          {sub.id ? (
            <Link to={`/execution/${sub.id}`} onClick={(e) => e.stopPropagation()}>
              child execution
            </Link>
          ) : (
            <Link to={`/workflowDef/${sub.name}${sub.version ? `/${sub.version}` : ""}`} onClick={(e) => e.stopPropagation()}>
              {sub.name}
            </Link>
          )}
        </div>
      )}
      {data.error && <div className="graph-node-error">{data.error}</div>}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

function TerminalNode({ data }: NodeProps<Node<TaskNodeData>>) {
  return (
    <div className="graph-terminal">
      {data.type === "END" && <Handle type="target" position={Position.Top} />}
      {data.ref}
      {data.type === "START" && <Handle type="source" position={Position.Bottom} />}
    </div>
  );
}

const nodeTypes = { task: TaskNode, terminal: TerminalNode };

export function WorkflowGraph(props: {
  definition: WorkflowDef;
  tasks?: Task[];
  errors?: Map<string, string>;
  selectedRef?: string;
  onSelect?: (ref: string) => void;
  height?: number;
}) {
  const { nodes, edges } = useMemo(
    () => buildGraph(props.definition, props.tasks, props.errors),
    [props.definition, props.tasks, props.errors],
  );
  const shown = useMemo(() => nodes.map((node) => ({ ...node, selected: node.data.ref === props.selectedRef })), [nodes, props.selectedRef]);
  return (
    <div className="graph" style={{ height: props.height ?? 520 }} aria-label="workflow graph">
      <ReactFlow
        nodes={shown}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.1}
        nodesDraggable={false}
        nodesConnectable={false}
        onNodeClick={(_, node) => node.type === "task" && props.onSelect?.(node.data.ref)}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
