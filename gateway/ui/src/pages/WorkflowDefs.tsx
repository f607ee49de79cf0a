import type { ColumnDef } from "@tanstack/react-table";
import { useMemo } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../api";
import { DataTable } from "../components/DataTable";
import { ErrorBanner, Tabs, formatTime, useLoad } from "../components/Common";
import { JsonEditor, pretty } from "../components/JsonEditor";
import { WorkflowGraph } from "../components/WorkflowGraph";
import type { DefSummary } from "../types";

interface Row {
  name: string;
  versions: DefSummary[];
}

export function WorkflowDefs() {
  // names-and-versions carries no definition bodies: cheap however many there are.
  const names = useLoad(() => api.defNames(), []);
  const rows = useMemo<Row[]>(
    () => Object.entries(names.data ?? {}).map(([name, versions]) => ({ name, versions })),
    [names.data],
  );
  const columns = useMemo<ColumnDef<Row, unknown>[]>(
    () => [
      {
        id: "name",
        header: "Name",
        accessorKey: "name",
        cell: ({ row }) => <Link to={`/workflowDef/${row.original.name}/${row.original.versions.at(-1)?.version}`}>{row.original.name}</Link>,
      },
      {
        id: "versions",
        header: "Versions",
        enableSorting: false,
        cell: ({ row }) =>
          row.original.versions.map((v) => (
            <Link key={v.version} className="version" to={`/workflowDef/${row.original.name}/${v.version}`}>
              {v.version}
            </Link>
          )),
      },
      {
        id: "updated",
        header: "Latest version created",
        accessorFn: (row) => row.versions.at(-1)?.createTime ?? 0,
        cell: ({ row }) => formatTime(row.original.versions.at(-1)?.createTime),
      },
      {
        id: "executions",
        header: "",
        enableSorting: false,
        cell: ({ row }) => <Link to={`/executions?workflowType=${encodeURIComponent(row.original.name)}`}>executions</Link>,
      },
    ],
    [],
  );
  return (
    <section>
      <h1>Workflow definitions</h1>
      <div className="toolbar">
        <Link to="/workbench">New workflow in the workbench</Link>
      </div>
      <ErrorBanner error={names.error} />
      <DataTable label="workflow definitions" rows={rows} columns={columns} empty={names.data ? "No workflow definitions yet." : "Loading…"} />
    </section>
  );
}

export function WorkflowDefPage() {
  const { name = "", version } = useParams();
  const navigate = useNavigate();
  const definition = useLoad(() => api.workflowDef(name, version ? Number(version) : undefined), [name, version]);
  const names = useLoad(() => api.defNames(), []);
  const versions = names.data?.[name] ?? [];
  const def = definition.data;
  return (
    <section>
      <h1>
        {name} {def && <small>v{def.version}</small>}
      </h1>
      <div className="toolbar">
        <label>
          Version{" "}
          <select value={def?.version ?? ""} onChange={(e) => navigate(`/workflowDef/${name}/${e.target.value}`)} aria-label="version">
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                {v.version}
              </option>
            ))}
          </select>
        </label>
        <Link to={`/workbench?name=${encodeURIComponent(name)}${def ? `&version=${def.version}` : ""}`}>Edit in the workbench</Link>
        <Link to={`/executions?workflowType=${encodeURIComponent(name)}`}>Executions</Link>
      </div>
      <ErrorBanner error={definition.error} />
      {def?.description && <p>{def.description}</p>}
      {def && (
        <Tabs
          label="definition views"
          tabs={[
            { name: "Diagram", content: () => <WorkflowGraph definition={def} /> },
            { name: "JSON", content: () => <JsonEditor label="workflow-definition" value={pretty(def)} /> },
          ]}
        />
      )}
    </section>
  );
}
