import type { ColumnDef } from "@tanstack/react-table";
import { useMemo } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api";
import { DataTable } from "../components/DataTable";
import { ErrorBanner, formatTime, useLoad } from "../components/Common";
import type { PollData } from "../types";

interface QueueRow {
  queue: string;
  size: number;
  uacked: number;
}

export function TaskQueue() {
  const { name } = useParams();
  return name ? <OneQueue name={name} /> : <AllQueues />;
}

function AllQueues() {
  const queues = useLoad(() => api.queues(), [], 5000);
  const rows = useMemo<QueueRow[]>(
    () =>
      Object.entries(queues.data ?? {}).map(([queue, shards]) => ({
        queue,
        size: Object.values(shards).reduce((sum, s) => sum + s.size, 0),
        uacked: Object.values(shards).reduce((sum, s) => sum + s.uacked, 0),
      })),
    [queues.data],
  );
  const columns = useMemo<ColumnDef<QueueRow, unknown>[]>(
    () => [
      {
        id: "queue",
        header: "Queue",
        accessorKey: "queue",
        // A domain's queue is `domain:taskType`; its pollers are found by the task type.
        cell: ({ row }) => <Link to={`/taskQueue/${row.original.queue.split(":").at(-1)}`}>{row.original.queue}</Link>,
      },
      { id: "size", header: "Waiting", accessorKey: "size" },
      { id: "uacked", header: "Handed out, not ended", accessorKey: "uacked" },
    ],
    [],
  );
  return (
    <section>
      <h1>Task queues</h1>
      <p className="muted">Queues of tasks for external workers; refreshed every 5 s.</p>
      <ErrorBanner error={queues.error} />
      <DataTable label="queues" rows={rows} columns={columns} empty={queues.data ? "No queues yet." : "Loading…"} />
    </section>
  );
}

function OneQueue({ name }: { name: string }) {
  const sizes = useLoad(() => api.queueSizes(name), [name], 5000);
  const polls = useLoad(() => api.pollData(name), [name], 5000);
  const columns = useMemo<ColumnDef<PollData, unknown>[]>(
    () => [
      { id: "workerId", header: "Worker id", accessorKey: "workerId" },
      { id: "domain", header: "Domain", accessorFn: (row) => row.domain ?? "" },
      { id: "queueName", header: "Queue", accessorKey: "queueName" },
      { id: "lastPollTime", header: "Last poll", accessorKey: "lastPollTime", cell: ({ row }) => formatTime(row.original.lastPollTime) },
    ],
    [],
  );
  return (
    <section>
      <h1>Queue {name}</h1>
      <div className="toolbar">
        <Link to="/taskQueue">All queues</Link>
        <Link to={`/taskDef/${name}`}>Task definition</Link>
      </div>
      <ErrorBanner error={sizes.error ?? polls.error} />
      <p data-testid="queue-size">
        Waiting: <strong>{sizes.data?.[name] ?? "…"}</strong>
      </p>
      <h2>Recent pollers</h2>
      <DataTable label="pollers" rows={polls.data ?? []} columns={columns} empty={polls.data ? "No worker has polled this queue." : "Loading…"} />
    </section>
  );
}
