// The workbench: the definition's JSON on the left, its graph redrawn on every edit on
// the right, validated by the server as you type (errors drawn on the task they name),
// a palette that appends a task of each type, save as a new version, and a run form.
import { useEffect, useMemo, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import { ApiError, api, errorText } from "../api";
import { ConfirmDialog, ErrorBanner, type PendingAction } from "../components/Common";
import { JsonEditor, pretty } from "../components/JsonEditor";
import { WorkflowGraph } from "../components/WorkflowGraph";
import { errorsByRef } from "../graph";
import type { Json, WorkflowDef, WorkflowTask } from "../types";

const STARTER: WorkflowDef = {
  name: "new_workflow",
  description: "",
  version: 1,
  schemaVersion: 2,
  inputParameters: [],
  tasks: [],
  outputParameters: {},
};

// A minimal task of each type Podium runs, valid as it stands; `ref` is made unique.
const PALETTE: Record<string, (ref: string) => WorkflowTask[]> = {
  SIMPLE: (ref) => [{ name: "my_task", taskReferenceName: ref, type: "SIMPLE", inputParameters: {} }],
  HTTP: (ref) => [
    { name: ref, taskReferenceName: ref, type: "HTTP", inputParameters: { http_request: { uri: "https://example.com", method: "GET" } } },
  ],
  INLINE: (ref) => [
    {
      name: ref,
      taskReferenceName: ref,
      type: "INLINE",
      inputParameters: { evaluatorType: "graaljs", expression: "(function () { return $.value; })()", value: "${workflow.input.value}" },
    },
  ],
  JSON_JQ_TRANSFORM: (ref) => [
    { name: ref, taskReferenceName: ref, type: "JSON_JQ_TRANSFORM", inputParameters: { data: "${workflow.input}", queryExpression: ".data" } },
  ],
  SET_VARIABLE: (ref) => [{ name: ref, taskReferenceName: ref, type: "SET_VARIABLE", inputParameters: { name: "value" } }],
  SWITCH: (ref) => [
    {
      name: ref,
      taskReferenceName: ref,
      type: "SWITCH",
      evaluatorType: "value-param",
      expression: "switchCaseValue",
      inputParameters: { switchCaseValue: "${workflow.input.kind}" },
      decisionCases: { a: [{ name: `${ref}_a`, taskReferenceName: `${ref}_a`, type: "NOOP" }] },
      defaultCase: [],
    },
  ],
  FORK_JOIN: (ref) => [
    {
      name: ref,
      taskReferenceName: ref,
      type: "FORK_JOIN",
      forkTasks: [[{ name: `${ref}_1`, taskReferenceName: `${ref}_1`, type: "NOOP" }], [{ name: `${ref}_2`, taskReferenceName: `${ref}_2`, type: "NOOP" }]],
    },
    { name: `${ref}_join`, taskReferenceName: `${ref}_join`, type: "JOIN", joinOn: [`${ref}_1`, `${ref}_2`] },
  ],
  FORK_JOIN_DYNAMIC: (ref) => [
    {
      name: ref,
      taskReferenceName: ref,
      type: "FORK_JOIN_DYNAMIC",
      inputParameters: { forkTaskName: "my_task", forkTaskInputs: "${workflow.input.items}" },
    },
    { name: `${ref}_join`, taskReferenceName: `${ref}_join`, type: "JOIN" },
  ],
  DO_WHILE: (ref) => [
    {
      name: ref,
      taskReferenceName: ref,
      type: "DO_WHILE",
      loopCondition: `if ($.${ref}['iteration'] < 3) { true; } else { false; }`,
      inputParameters: {},
      loopOver: [{ name: `${ref}_body`, taskReferenceName: `${ref}_body`, type: "NOOP" }],
    },
  ],
  SUB_WORKFLOW: (ref) => [{ name: ref, taskReferenceName: ref, type: "SUB_WORKFLOW", subWorkflowParam: { name: "child_workflow", version: 1 } }],
  START_WORKFLOW: (ref) => [
    { name: ref, taskReferenceName: ref, type: "START_WORKFLOW", inputParameters: { startWorkflow: { name: "other_workflow", input: {} } } },
  ],
  DYNAMIC: (ref) => [
    { name: ref, taskReferenceName: ref, type: "DYNAMIC", dynamicTaskNameParam: "taskToRun", inputParameters: { taskToRun: "${workflow.input.task}" } },
  ],
  WAIT: (ref) => [{ name: ref, taskReferenceName: ref, type: "WAIT", inputParameters: { duration: "10 seconds" } }],
  HUMAN: (ref) => [{ name: ref, taskReferenceName: ref, type: "HUMAN", inputParameters: {} }],
  EVENT: (ref) => [{ name: ref, taskReferenceName: ref, type: "EVENT", sink: "conductor:my_event", inputParameters: {} }],
  NOOP: (ref) => [{ name: ref, taskReferenceName: ref, type: "NOOP" }],
  TERMINATE: (ref) => [
    { name: ref, taskReferenceName: ref, type: "TERMINATE", inputParameters: { terminationStatus: "COMPLETED", workflowOutput: {} } },
  ],
};

function allRefs(tasks: WorkflowTask[]): string[] {
  return tasks.flatMap((t) => [
    t.taskReferenceName,
    ...allRefs([...Object.values(t.decisionCases ?? {}).flat(), ...(t.defaultCase ?? []), ...(t.forkTasks ?? []).flat(), ...(t.loopOver ?? [])]),
  ]);
}

const asValue = (text: string): Json => {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
};

export function Workbench() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [text, setText] = useState(pretty(STARTER));
  const [loadError, setLoadError] = useState<string | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  // Findings Conductor would not refuse (the definition saves and runs): shown, not blocking.
  const [warnings, setWarnings] = useState<string[]>([]);
  const [validated, setValidated] = useState<"idle" | "checking" | "valid" | "invalid">("idle");
  const [message, setMessage] = useState<string | null>(null);
  const [pending, setPending] = useState<PendingAction | null>(null);
  const [inputs, setInputs] = useState<Record<string, string>>({});
  const [rawInput, setRawInput] = useState("{}");
  const [correlationId, setCorrelationId] = useState("");
  const [runError, setRunError] = useState<string | null>(null);
  const [saved, setSaved] = useState<{ name: string; version: number } | null>(null);

  const name = params.get("name");
  const version = params.get("version");
  useEffect(() => {
    if (!name) return;
    api
      .workflowDef(name, version ? Number(version) : undefined)
      .then((def) => {
        setText(pretty(def));
        setSaved({ name: def.name, version: def.version ?? 1 });
      })
      .catch((error) => setLoadError(errorText(error)));
  }, [name, version]);

  // The last text that parsed: the graph keeps showing it while the JSON is mid-edit.
  const [definition, parseError] = useMemo((): [WorkflowDef | null, string | null] => {
    try {
      const value = JSON.parse(text);
      if (typeof value !== "object" || value === null || Array.isArray(value)) return [null, "The definition must be a JSON object"];
      return [{ ...value, tasks: Array.isArray(value.tasks) ? value.tasks : [] } as WorkflowDef, null];
    } catch (error) {
      return [null, errorText(error)];
    }
  }, [text]);
  const [shown, setShown] = useState<WorkflowDef>(STARTER);
  useEffect(() => {
    if (definition) setShown(definition);
  }, [definition]);

  useEffect(() => {
    if (!definition) {
      setValidated("idle");
      return;
    }
    setValidated("checking");
    let current = true;
    const timer = window.setTimeout(() => {
      api
        .validate(definition)
        .then((answer) => {
          if (!current) return;
          setProblems([]);
          setWarnings(answer?.warnings ?? []);
          setValidated("valid");
        })
        .catch((error) => {
          if (!current) return;
          const listed = error instanceof ApiError && error.validationErrors.length ? error.validationErrors.map((e) => e.message) : [errorText(error)];
          setProblems(listed);
          setWarnings([]);
          setValidated("invalid");
        });
    }, 400);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [definition]);

  const errors = useMemo(() => errorsByRef(problems), [problems]);
  const unplaced = problems.filter((p) => !/task '[^']+'/.test(p));

  const add = (type: string) => {
    if (!definition) return;
    const taken = new Set(allRefs(definition.tasks));
    let n = 1;
    while (taken.has(`${type.toLowerCase()}_${n}`) || taken.has(`${type.toLowerCase()}_${n}_join`)) n++;
    setText(pretty({ ...definition, tasks: [...definition.tasks, ...PALETTE[type](`${type.toLowerCase()}_${n}`)] }));
  };

  const save = async (overwrite: boolean) => {
    if (!definition) return;
    setMessage(null);
    let next = definition;
    if (!overwrite) {
      // A new version: one past the highest stored, so an existing version is never replaced.
      const versions = (await api.defNames())[definition.name] ?? [];
      const highest = Math.max(0, ...versions.map((v) => v.version));
      next = { ...definition, version: highest ? highest + 1 : (definition.version ?? 1) };
    }
    await api.saveDef(next, overwrite);
    setText(pretty(next));
    setSaved({ name: next.name, version: next.version ?? 1 });
    setMessage(`Saved ${next.name} version ${next.version ?? 1}`);
  };

  const run = async () => {
    if (!saved) return;
    setRunError(null);
    try {
      const params = shown.inputParameters ?? [];
      const input = params.length
        ? Object.fromEntries(params.map((p) => [p, asValue(inputs[p] ?? "")]))
        : (JSON.parse(rawInput || "{}") as Json);
      const id = await api.start({ name: saved.name, version: saved.version, input, correlationId: correlationId || undefined });
      navigate(`/execution/${id}`);
    } catch (error) {
      setRunError(errorText(error));
    }
  };

  const dirty = saved !== null && definition !== null && (definition.name !== saved.name || (definition.version ?? 1) !== saved.version);
  return (
    <section className="workbench">
      <h1>Workbench</h1>
      <ErrorBanner error={loadError} />
      <div className="palette" aria-label="palette">
        <span>Add a task:</span>
        {Object.keys(PALETTE).map((type) => (
          <button key={type} onClick={() => add(type)} disabled={!definition}>
            {type}
          </button>
        ))}
      </div>
      <div className="split">
        <div className="split-half">
          <JsonEditor label="editor" value={text} onChange={setText} height="560px" />
        </div>
        <div className="split-half">
          <WorkflowGraph definition={shown} errors={errors} height={560} />
        </div>
      </div>
      <div className="validation" aria-label="validation" data-state={parseError ? "unparsed" : validated}>
        {parseError ? (
          <p className="error-text">JSON: {parseError}</p>
        ) : validated === "valid" ? (
          <>
            <p className="ok-text">Valid.</p>
            {warnings.length > 0 && (
              <ul className="warnings" aria-label="warnings">
                {warnings.map((warning) => (
                  <li key={warning}>{warning}</li>
                ))}
              </ul>
            )}
          </>
        ) : validated === "checking" ? (
          <p className="muted">Validating…</p>
        ) : validated === "invalid" ? (
          <ul className="problems">
            {problems.map((problem) => (
              <li key={problem} className={unplaced.includes(problem) ? "unplaced" : undefined}>
                {problem}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <div className="toolbar">
        <button className="primary" disabled={validated !== "valid"} onClick={() => save(false).catch((error) => setMessage(errorText(error)))}>
          Save as new version
        </button>
        <button
          disabled={validated !== "valid"}
          onClick={() =>
            setPending({
              title: `Overwrite ${definition?.name} version ${definition?.version ?? 1}?`,
              detail: "Executions already running keep the definition they started with.",
              confirmLabel: "Overwrite",
              run: () => save(true),
            })
          }
        >
          Save over this version
        </button>
        {message && <span role="status">{message}</span>}
      </div>
      <ConfirmDialog action={pending} onClose={() => setPending(null)} onDone={() => undefined} />
      <form
        className="run-form"
        aria-label="run"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <h2>Run</h2>
        {saved ? (
          <p className="muted">
            Starts {saved.name} version {saved.version} as saved{dirty ? " (the editor has changes not saved)" : ""}.
          </p>
        ) : (
          <p className="muted">Save the definition to run it.</p>
        )}
        {(shown.inputParameters ?? []).map((param) => (
          <label key={param}>
            {param}
            <input value={inputs[param] ?? ""} onChange={(e) => setInputs({ ...inputs, [param]: e.target.value })} placeholder="text or JSON" />
          </label>
        ))}
        {!(shown.inputParameters ?? []).length && (
          <label>
            Input (JSON)
            <textarea rows={3} value={rawInput} onChange={(e) => setRawInput(e.target.value)} />
          </label>
        )}
        <label>
          Correlation id
          <input value={correlationId} onChange={(e) => setCorrelationId(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={!saved}>
          Start run
        </button>
        <ErrorBanner error={runError} />
      </form>
    </section>
  );
}
