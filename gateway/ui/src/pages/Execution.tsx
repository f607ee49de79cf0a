import { type ReactNode, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../api";
import { ConfirmDialog, ErrorBanner, type PendingAction, StatusBadge, Tabs, formatDuration, formatTime, useLoad } from "../components/Common";
import { Gantt } from "../components/Gantt";
import { JsonEditor, pretty } from "../components/JsonEditor";
import { WorkflowGraph } from "../components/WorkflowGraph";
import { baseRef, latestByRef } from "../graph";
import type { Task, Workflow, WorkflowTask } from "../types";

const ENDED = new Set(["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"]);
const UNFINISHED_TASK = new Set(["SCHEDULED", "IN_PROGRESS"]);

function findDefTask(tasks: WorkflowTask[], ref: string): WorkflowTask | undefined {
  for (const task of tasks) {
    if (task.taskReferenceName === ref) return task;
    const nested = [
      ...Object.values(task.decisionCases ?? {}),
      task.defaultCase ?? [],
      ...(task.forkTasks ?? []),
      task.loopOver ?? [],
    ];
    for (const list of nested) {
      const found = findDefTask(list, ref);
      if (found) return found;
    }
  }
  return undefined;
}

export function Execution() {
  const { workflowId = "" } = useParams();
  const navigate = useNavigate();
  const [live, setLive] = useState(true);
  const loaded = useLoad(() => api.workflow(workflowId), [workflowId], live ? 2000 : undefined);
  const [selected, setSelected] = useState<{ ref: string; taskId?: string }>();
  const [pending, setPending] = useState<PendingAction | null>(null);
  const workflow = loaded.data;
  const tasks = useMemo(() => workflow?.tasks ?? [], [workflow]);

  if (!workflow) {
    return <section>{loaded.error ? <ErrorBanner error={loaded.error} /> : <p>Loading {workflowId}…</p>}</section>;
  }
  const definition = workflow.workflowDefinition ?? { name: workflow.workflowName, tasks: [] };
  const ended = ENDED.has(workflow.status);
  const id = workflow.workflowId;

  const actions: { label: string; show: boolean; action: PendingAction }[] = [
    { label: "Pause", show: workflow.status === "RUNNING", action: { title: `Pause ${id}?`, confirmLabel: "Pause", run: () => api.pause(id) } },
    { label: "Resume", show: workflow.status === "PAUSED", action: { title: `Resume ${id}?`, confirmLabel: "Resume", run: () => api.resume(id) } },
    {
      label: "Terminate",
      show: !ended,
      action: {
        title: `Terminate ${id}?`,
        detail: "Its active tasks are canceled and running sub-workflows terminated.",
        confirmLabel: "Terminate",
        run: () => api.terminate(id, "Terminated from the Podium UI"),
      },
    },
    {
      label: "Restart",
      show: ended,
      action: { title: `Restart ${id} from its first task?`, detail: "Its previous tasks are dropped.", confirmLabel: "Restart", run: () => api.restart(id, false) },
    },
    {
      label: "Restart with latest definition",
      show: ended,
      action: { title: `Restart ${id} with the latest version of ${workflow.workflowName}?`, confirmLabel: "Restart", run: () => api.restart(id, true) },
    },
    {
      label: "Retry",
      show: ended && workflow.status !== "COMPLETED",
      action: { title: `Retry the failed tasks of ${id}?`, confirmLabel: "Retry", run: () => api.retry(id) },
    },
    {
      label: "Rerun",
      show: ended,
      action: { title: `Rerun ${id} from the start with the same input?`, confirmLabel: "Rerun", run: () => api.rerun(id) },
    },
  ];

  const select = (ref: string) => setSelected({ ref });
  const attempts = latestByRef(tasks).get(selected?.ref ?? "") ?? [];
  const selectedTask = (selected?.taskId && tasks.find((t) => t.taskId === selected.taskId)) || attempts.at(-1);
  const defTask = selected ? findDefTask(definition.tasks ?? [], selected.ref) : undefined;

  return (
    <section>
      <h1>
        {workflow.workflowName} <small>v{workflow.workflowVersion}</small> <StatusBadge status={workflow.status} />
      </h1>
      <dl className="facts">
        <dt>Workflow id</dt>
        <dd data-testid="workflow-id">{id}</dd>
        <dt>Correlation id</dt>
        <dd>{workflow.correlationId ?? ""}</dd>
        <dt>Started</dt>
        <dd>{formatTime(workflow.startTime)}</dd>
        <dt>Ended</dt>
        <dd>{formatTime(workflow.endTime)}</dd>
        {workflow.parentWorkflowId && (
          <>
            <dt>Parent</dt>
            <dd>
              <Link to={`/execution/${workflow.parentWorkflowId}`}>{workflow.parentWorkflowId}</Link>
            </dd>
          </>
        )}
        {workflow.reasonForIncompletion && (
          <>
            <dt>Reason</dt>
            <dd className="reason">{workflow.reasonForIncompletion}</dd>
          </>
        )}
      </dl>
      <div className="toolbar" aria-label="workflow actions">
        {actions
          .filter((a) => a.show)
          .map((a) => (
            <button key={a.label} onClick={() => setPending(a.action)}>
              {a.label}
            </button>
          ))}
        <Link to={`/workflowDef/${workflow.workflowName}/${workflow.workflowVersion}`}>Definition</Link>
        <label className="inline">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
          Live refresh (2 s)
        </label>
      </div>
      <ErrorBanner error={loaded.error} />
      <ConfirmDialog
        action={pending}
        onClose={() => setPending(null)}
        onDone={() => {
          void loaded.reload();
        }}
      />
      <div className="split">
        <div className="split-main">
          <Tabs
            label="execution views"
            tabs={[
              {
                name: "Diagram",
                content: () => (
                  <WorkflowGraph definition={definition} tasks={tasks} selectedRef={selected?.ref} onSelect={select} />
                ),
              },
              {
                name: "Timeline",
                content: () => (
                  <Gantt
                    tasks={tasks}
                    now={workflow.endTime || Date.now()}
                    selectedId={selectedTask?.taskId}
                    onSelect={(task) => setSelected({ ref: baseRef(task.referenceTaskName), taskId: task.taskId })}
                  />
                ),
              },
              { name: "Input/Output", content: () => <JsonEditor label="workflow-io" value={pretty({ input: workflow.input, output: workflow.output, variables: (workflow as unknown as Record<string, unknown>).variables })} /> },
              { name: "JSON", content: () => <JsonEditor label="workflow" value={pretty(workflow)} /> },
            ]}
          />
        </div>
        {selected && (
          <aside className="split-side task-panel" aria-label="task panel">
            <button className="link close" onClick={() => setSelected(undefined)} aria-label="Close task panel">
              ×
            </button>
            <h2>{selected.ref}</h2>
            {selectedTask ? (
              <TaskPanel
                workflow={workflow}
                task={selectedTask}
                attempts={attempts}
                onAttempt={(task) => setSelected({ ref: selected.ref, taskId: task.taskId })}
                ask={setPending}
                onRerun={(newId) => navigate(`/execution/${newId}`)}
              />
            ) : (
              <NotReached workflow={workflow} ref_={selected.ref} defTask={defTask} ask={setPending} />
            )}
          </aside>
        )}
      </div>
    </section>
  );
}

function NotReached(props: { workflow: Workflow; ref_: string; defTask?: WorkflowTask; ask: (a: PendingAction) => void }) {
  const { workflow, ref_ } = props;
  return (
    <div>
      <p>
        <StatusBadge /> This task has not been scheduled in this execution.
      </p>
      {workflow.status === "RUNNING" && (
        <button
          onClick={() =>
            props.ask({
              title: `Skip ${ref_} when the workflow reaches it?`,
              confirmLabel: "Skip",
              run: () => api.skip(workflow.workflowId, ref_),
            })
          }
        >
          Skip this task
        </button>
      )}
      {props.defTask && <JsonEditor label="task-definition" value={pretty(props.defTask)} />}
    </div>
  );
}

function Fact({ name, children }: { name: string; children: ReactNode }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

function TaskPanel(props: {
  workflow: Workflow;
  task: Task;
  attempts: Task[];
  onAttempt: (task: Task) => void;
  ask: (action: PendingAction) => void;
  onRerun: (workflowId: string) => void;
}) {
  const { workflow, task } = props;
  const logs = useLoad(() => api.taskLogs(task.taskId), [task.taskId, task.updateTime]);
  const [output, setOutput] = useState("{}");
  const [outputError, setOutputError] = useState<string | null>(null);
  const waiting = (task.taskType === "WAIT" || task.taskType === "HUMAN") && UNFINISHED_TASK.has(task.status);
  const complete = (status: "COMPLETED" | "FAILED") => {
    let body: unknown;
    try {
      body = JSON.parse(output || "{}");
    } catch (error) {
      setOutputError(`The output is not valid JSON: ${String(error)}`);
      return;
    }
    setOutputError(null);
    props.ask({
      title: `Mark ${task.referenceTaskName} ${status}?`,
      confirmLabel: status === "COMPLETED" ? "Complete" : "Fail",
      run: () => api.updateTask(workflow.workflowId, task.referenceTaskName, status, body),
    });
  };
  const duration = task.startTime ? (task.endTime || Date.now()) - task.startTime : 0;
  return (
    <div>
      <div className="toolbar">
        <StatusBadge status={task.status} />
        {ENDED.has(workflow.status) && (
          <button
            onClick={() =>
              props.ask({
                title: `Rerun ${workflow.workflowId} from ${task.referenceTaskName}?`,
                detail: "The tasks after it are dropped and it is scheduled again.",
                confirmLabel: "Rerun from here",
                run: async () => props.onRerun(await api.rerun(workflow.workflowId, task.taskId)),
              })
            }
          >
            Rerun from this task
          </button>
        )}
      </div>
      {waiting && (
        <div className="complete-task" aria-label="complete task">
          <label>
            Output (JSON)
            <textarea value={output} onChange={(e) => setOutput(e.target.value)} rows={3} />
          </label>
          <button className="primary" onClick={() => complete("COMPLETED")}>
            Complete
          </button>
          <button onClick={() => complete("FAILED")}>Fail</button>
          <ErrorBanner error={outputError} />
        </div>
      )}
      {props.attempts.length > 1 && (
        <div className="attempts" aria-label="attempts">
          Attempts:{" "}
          {props.attempts.map((attempt, i) => (
            <button key={attempt.taskId} className={attempt.taskId === task.taskId ? "selected" : ""} onClick={() => props.onAttempt(attempt)}>
              {i + 1} <StatusBadge status={attempt.status} />
            </button>
          ))}
        </div>
      )}
      <Tabs
        key={task.taskId}
        label="task views"
        tabs={[
          {
            name: "Summary",
            content: () => (
              <dl className="facts">
                <Fact name="Task id">{task.taskId}</Fact>
                <Fact name="Type">{task.taskType}</Fact>
                <Fact name="Definition">{task.taskDefName ? <Link to={`/taskDef/${task.taskDefName}`}>{task.taskDefName}</Link> : ""}</Fact>
                <Fact name="Attempt">{task.retryCount + 1}</Fact>
                <Fact name="Iteration">{task.iteration ?? 0}</Fact>
                <Fact name="Poll count">{task.pollCount}</Fact>
                <Fact name="Worker id">{task.workerId ?? ""}</Fact>
                <Fact name="Scheduled">{formatTime(task.scheduledTime)}</Fact>
                <Fact name="Started">{formatTime(task.startTime)}</Fact>
                <Fact name="Ended">{formatTime(task.endTime)}</Fact>
                <Fact name="Duration">{duration ? formatDuration(duration) : ""}</Fact>
                <Fact name="Queue wait">{task.startTime && task.scheduledTime ? formatDuration(task.startTime - task.scheduledTime) : ""}</Fact>
                {task.reasonForIncompletion && <Fact name="Reason">{task.reasonForIncompletion}</Fact>}
                {task.subWorkflowId && (
                  <Fact name="Sub-workflow">
                    <Link to={`/execution/${task.subWorkflowId}`}>{task.subWorkflowId}</Link>
                  </Fact>
                )}
                <Fact name="Queue">
                  <Link to={`/taskQueue/${task.taskType}`}>{task.taskType}</Link>
                </Fact>
              </dl>
            ),
          },
          { name: "Input", content: () => <JsonEditor label="task-input" value={pretty(task.inputData)} /> },
          { name: "Output", content: () => <JsonEditor label="task-output" value={pretty(task.outputData)} /> },
          {
            name: "Logs",
            content: () => (
              <div>
                <ErrorBanner error={logs.error} />
                {logs.data?.length ? (
                  <ul className="logs">
                    {logs.data.map((line, i) => (
                      <li key={i}>
                        <time>{formatTime(line.createdTime)}</time> {line.log}
                      </li>
                    ))}
                  </ul>
                ) : (
                  <p className="muted">No log lines.</p>
                )}
              </div>
            ),
          },
          { name: "JSON", content: () => <JsonEditor label="task" value={pretty(task)} /> },
        ]}
      />
    </div>
  );
}
