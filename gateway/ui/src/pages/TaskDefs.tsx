import type { ColumnDef } from "@tanstack/react-table";
import { useMemo } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api";
import { DataTable } from "../components/DataTable";
import { ErrorBanner, useLoad } from "../components/Common";
import { JsonEditor, pretty } from "../components/JsonEditor";
import type { TaskDef } from "../types";

export function TaskDefs() {
  const defs = useLoad(() => api.taskDefs(), []);
  const columns = useMemo<ColumnDef<TaskDef, unknown>[]>(
    () => [
      { id: "name", header: "Name", accessorKey: "name", cell: ({ row }) => <Link to={`/taskDef/${row.original.name}`}>{row.original.name}</Link> },
      { id: "description", header: "Description", accessorFn: (row) => row.description ?? "" },
      { id: "retryCount", header: "Retries", accessorKey: "retryCount" },
      { id: "retryLogic", header: "Retry logic", accessorKey: "retryLogic" },
      { id: "timeoutSeconds", header: "Timeout (s)", accessorKey: "timeoutSeconds" },
      { id: "responseTimeoutSeconds", header: "Response timeout (s)", accessorKey: "responseTimeoutSeconds" },
      { id: "concurrentExecLimit", header: "Concurrency limit", accessorFn: (row) => row.concurrentExecLimit ?? "" },
      { id: "queue", header: "", enableSorting: false, cell: ({ row }) => <Link to={`/taskQueue/${row.original.name}`}>queue</Link> },
    ],
    [],
  );
  return (
    <section>
      <h1>Task definitions</h1>
      <ErrorBanner error={defs.error} />
      <DataTable label="task definitions" rows={defs.data ?? []} columns={columns} empty={defs.data ? "No task definitions yet." : "Loading…"} />
    </section>
  );
}

export function TaskDefPage() {
  const { name = "" } = useParams();
  const def = useLoad(() => api.taskDef(name), [name]);
  return (
    <section>
      <h1>{name}</h1>
      <div className="toolbar">
        <Link to={`/taskQueue/${name}`}>Queue and pollers</Link>
      </div>
      <ErrorBanner error={def.error} />
      {def.data && <JsonEditor label="task-definition" value={pretty(def.data)} />}
    </section>
  );
}
