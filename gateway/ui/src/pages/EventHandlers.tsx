import type { ColumnDef } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { api } from "../api";
import { DataTable } from "../components/DataTable";
import { ErrorBanner, useLoad } from "../components/Common";
import { JsonEditor, pretty } from "../components/JsonEditor";
import type { EventHandler } from "../types";

export function EventHandlers() {
  const handlers = useLoad(() => api.eventHandlers(), []);
  const [shown, setShown] = useState<EventHandler>();
  const columns = useMemo<ColumnDef<EventHandler, unknown>[]>(
    () => [
      {
        id: "name",
        header: "Name",
        accessorKey: "name",
        cell: ({ row }) => (
          <button className="link" onClick={() => setShown(row.original)}>
            {row.original.name}
          </button>
        ),
      },
      { id: "event", header: "Event", accessorKey: "event" },
      { id: "condition", header: "Condition", accessorFn: (row) => row.condition ?? "" },
      { id: "actions", header: "Actions", accessorFn: (row) => row.actions.map((a) => a.action).join(", ") },
      { id: "active", header: "Active", accessorFn: (row) => (row.active ? "yes" : "no") },
    ],
    [],
  );
  return (
    <section>
      <h1>Event handlers</h1>
      <ErrorBanner error={handlers.error} />
      <DataTable label="event handlers" rows={handlers.data ?? []} columns={columns} empty={handlers.data ? "No event handlers yet." : "Loading…"} />
      {shown && (
        <>
          <h2>{shown.name}</h2>
          <JsonEditor label="event-handler" value={pretty(shown)} />
        </>
      )}
    </section>
  );
}
