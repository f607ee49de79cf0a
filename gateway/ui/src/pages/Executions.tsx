// Execution search, answered by the server (/api/workflow/search): the page holds one
// page of summaries, never the whole store. The form lives in the URL so a search is a link.
import type { ColumnDef, SortingState } from "@tanstack/react-table";
import { type FormEvent, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api";
import { DataTable } from "../components/DataTable";
import { ErrorBanner, StatusBadge, formatDuration, useLoad } from "../components/Common";
import { WORKFLOW_STATUSES, type WorkflowSummary } from "../types";

const PAGE_SIZES = [25, 50, 100];
const quote = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

export function buildQuery(form: URLSearchParams): string {
  const conditions: string[] = [];
  const name = form.get("workflowType");
  if (name) conditions.push(`workflowType = ${quote(name)}`);
  const statuses = form.getAll("status");
  if (statuses.length) conditions.push(`status IN (${statuses.join(",")})`);
  const correlationId = form.get("correlationId");
  if (correlationId) conditions.push(`correlationId = ${quote(correlationId)}`);
  const from = form.get("from");
  if (from) conditions.push(`startTime >= ${new Date(from).getTime()}`);
  const to = form.get("to");
  if (to) conditions.push(`startTime <= ${new Date(to).getTime()}`);
  return conditions.join(" AND ");
}

export function Executions() {
  const [params, setParams] = useSearchParams();
  const [draft, setDraft] = useState(() => new URLSearchParams(params));
  const [live, setLive] = useState(true);
  const start = Number(params.get("start") ?? 0);
  const size = Number(params.get("size") ?? 25);
  const sort = params.get("sort") ?? "startTime:DESC";
  const query = buildQuery(params);
  const freeText = params.get("freeText") ?? "";
  const names = useLoad(() => api.defNames(), []);
  const found = useLoad(
    () => api.search({ start, size, sort, query, freeText: freeText || "*" }),
    [start, size, sort, query, freeText],
    live ? 5000 : undefined,
  );

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "") next.delete(key);
      else next.set(key, value);
    }
    setParams(next);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams(draft);
    next.delete("start");
    if (params.get("size")) next.set("size", String(size));
    if (params.get("sort")) next.set("sort", sort);
    setParams(next);
  };
  const setField = (key: string, value: string) => {
    const next = new URLSearchParams(draft);
    if (value) next.set(key, value);
    else next.delete(key);
    setDraft(next);
  };
  const toggleStatus = (status: string) => {
    const next = new URLSearchParams(draft);
    const current = next.getAll("status");
    next.delete("status");
    for (const s of current.includes(status) ? current.filter((c) => c !== status) : [...current, status]) next.append("status", s);
    setDraft(next);
  };

  const [sortField, sortOrder] = sort.split(":");
  const sorting: SortingState = [{ id: sortField, desc: sortOrder === "DESC" }];
  const columns = useMemo<ColumnDef<WorkflowSummary, unknown>[]>(
    () => [
      {
        id: "workflowId",
        header: "Workflow id",
        accessorKey: "workflowId",
        cell: ({ row }) => <Link to={`/execution/${row.original.workflowId}`}>{row.original.workflowId}</Link>,
      },
      { id: "workflowType", header: "Name", accessorKey: "workflowType" },
      { id: "version", header: "Version", accessorKey: "version", enableSorting: false },
      { id: "correlationId", header: "Correlation id", accessorKey: "correlationId" },
      { id: "status", header: "Status", accessorKey: "status", cell: ({ row }) => <StatusBadge status={row.original.status} /> },
      { id: "startTime", header: "Start time", accessorKey: "startTime" },
      { id: "endTime", header: "End time", accessorKey: "endTime", enableSorting: false },
      {
        id: "executionTime",
        header: "Duration",
        enableSorting: false,
        cell: ({ row }) => (row.original.executionTime ? formatDuration(row.original.executionTime) : ""),
      },
      { id: "failedReferenceTaskNames", header: "Failed tasks", accessorKey: "failedReferenceTaskNames", enableSorting: false },
    ],
    [],
  );

  const total = found.data?.totalHits ?? 0;
  return (
    <section>
      <h1>Executions</h1>
      <form className="search-form" onSubmit={submit} aria-label="search executions">
        <label>
          Workflow name
          <input list="workflow-names" value={draft.get("workflowType") ?? ""} onChange={(e) => setField("workflowType", e.target.value)} />
          <datalist id="workflow-names">
            {Object.keys(names.data ?? {}).map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label>
          Correlation id
          <input value={draft.get("correlationId") ?? ""} onChange={(e) => setField("correlationId", e.target.value)} />
        </label>
        <label>
          Free text
          <input
            value={draft.get("freeText") ?? ""}
            placeholder="workflow id, correlation id or name"
            onChange={(e) => setField("freeText", e.target.value)}
          />
        </label>
        <label>
          Started from
          <input type="datetime-local" value={draft.get("from") ?? ""} onChange={(e) => setField("from", e.target.value)} />
        </label>
        <label>
          to
          <input type="datetime-local" value={draft.get("to") ?? ""} onChange={(e) => setField("to", e.target.value)} />
        </label>
        <fieldset>
          <legend>Status</legend>
          {WORKFLOW_STATUSES.map((status) => (
            <label key={status} className="inline">
              <input type="checkbox" checked={draft.getAll("status").includes(status)} onChange={() => toggleStatus(status)} />
              {status}
            </label>
          ))}
        </fieldset>
        <div className="form-buttons">
          <button type="submit" className="primary">
            Search
          </button>
          <button type="button" onClick={() => { setDraft(new URLSearchParams()); setParams(new URLSearchParams()); }}>
            Reset
          </button>
          <label className="inline">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
            Live refresh (5 s)
          </label>
        </div>
      </form>
      <ErrorBanner error={found.error} />
      <div className="pager" aria-label="pages">
        <span data-testid="total-hits">
          {total === 0 ? "No executions" : `${start + 1}–${Math.min(start + size, total)} of ${total}`}
        </span>
        <button disabled={start === 0} onClick={() => update({ start: String(Math.max(0, start - size)) })}>
          Previous
        </button>
        <button disabled={start + size >= total} onClick={() => update({ start: String(start + size) })}>
          Next
        </button>
        <select value={size} aria-label="page size" onChange={(e) => update({ size: e.target.value, start: null })}>
          {PAGE_SIZES.map((s) => (
            <option key={s} value={s}>
              {s} per page
            </option>
          ))}
        </select>
      </div>
      <DataTable
        label="executions"
        rows={found.data?.results ?? []}
        columns={columns}
        sorting={sorting}
        onSortingChange={(next) => {
          const first = next[0];
          update({ sort: first ? `${first.id}:${first.desc ? "DESC" : "ASC"}` : null, start: null });
        }}
        empty={found.data ? "No execution matches." : "Loading…"}
      />
    </section>
  );
}
