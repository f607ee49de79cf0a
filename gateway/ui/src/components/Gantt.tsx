// A timeline of task executions: one row per attempt, bars from start (or scheduled)
// to end (or now for unfinished ones), coloured by status. Drawn in SVG: no library
// we found was small enough for this one chart.
import { STATUS_COLORS } from "../graph";
import type { Task } from "../types";
import { formatDuration } from "./Common";

const ROW = 22;
const LABEL = 220;
const WIDTH = 1000;

export function Gantt({ tasks, now, selectedId, onSelect }: { tasks: Task[]; now: number; selectedId?: string; onSelect: (task: Task) => void }) {
  const rows = [...tasks].sort((a, b) => a.seq - b.seq).filter((task) => task.scheduledTime || task.startTime);
  if (!rows.length) return <p className="muted">No task has been scheduled yet.</p>;
  const begin = Math.min(...rows.map((task) => task.scheduledTime || task.startTime));
  const finish = Math.max(...rows.map((task) => task.endTime || now), begin + 1);
  const scale = (WIDTH - LABEL - 20) / (finish - begin);
  const x = (ms: number) => LABEL + (ms - begin) * scale;
  const ticks = 5;
  return (
    <svg className="gantt" viewBox={`0 0 ${WIDTH} ${(rows.length + 1) * ROW + 10}`} role="img" aria-label="task timeline">
      {Array.from({ length: ticks + 1 }, (_, i) => {
        const at = begin + ((finish - begin) * i) / ticks;
        return (
          <g key={i}>
            <line x1={x(at)} x2={x(at)} y1={ROW} y2={(rows.length + 1) * ROW} stroke="#e0e0e0" />
            <text x={x(at)} y={ROW - 6} fontSize={10} textAnchor="middle" fill="#666">
              +{formatDuration(Math.round(at - begin))}
            </text>
          </g>
        );
      })}
      {rows.map((task, i) => {
        const y = (i + 1) * ROW;
        const queued = task.scheduledTime && task.startTime > task.scheduledTime ? task.scheduledTime : 0;
        const start = task.startTime || task.scheduledTime;
        const end = task.endTime || now;
        const color = STATUS_COLORS[task.status];
        const label = `${task.referenceTaskName}${task.retryCount ? ` (retry ${task.retryCount})` : ""}`;
        return (
          <g key={task.taskId} className="gantt-row" onClick={() => onSelect(task)} data-task-id={task.taskId}>
            <rect x={0} y={y} width={WIDTH} height={ROW} fill={task.taskId === selectedId ? "#e3f2fd" : "transparent"} />
            <text x={4} y={y + 15} fontSize={11}>
              {label.length > 34 ? `${label.slice(0, 33)}…` : label}
            </text>
            {queued > 0 && <rect x={x(queued)} y={y + 9} width={Math.max(1, (start - queued) * scale)} height={4} fill="#cfd8dc" />}
            <rect x={x(start)} y={y + 4} width={Math.max(2, (end - start) * scale)} height={ROW - 8} rx={3} fill={color}>
              <title>{`${label}: ${task.status}, ${formatDuration(end - start)}${queued ? `, queued ${formatDuration(start - queued)}` : ""}`}</title>
            </rect>
          </g>
        );
      })}
    </svg>
  );
}
