import { type ColumnDef, flexRender, getCoreRowModel, getSortedRowModel, useReactTable, type SortingState } from "@tanstack/react-table";
import { useState } from "react";

// Client-side sorting is for the small lists (definitions, handlers, pollers); the
// executions list sorts on the server and passes `manualSort`.
export function DataTable<Row>(props: {
  rows: Row[];
  columns: ColumnDef<Row, unknown>[];
  label: string;
  sorting?: SortingState;
  onSortingChange?: (sorting: SortingState) => void;
  empty?: string;
}) {
  const [localSorting, setLocalSorting] = useState<SortingState>([]);
  const manual = props.onSortingChange !== undefined;
  const sorting = manual ? (props.sorting ?? []) : localSorting;
  const table = useReactTable({
    data: props.rows,
    columns: props.columns,
    state: { sorting },
    manualSorting: manual,
    enableMultiSort: false,
    onSortingChange: (updater) => {
      const next = typeof updater === "function" ? updater(sorting) : updater;
      if (manual) props.onSortingChange?.(next);
      else setLocalSorting(next);
    },
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: manual ? undefined : getSortedRowModel(),
  });
  return (
    <table className="data-table" aria-label={props.label}>
      <thead>
        {table.getHeaderGroups().map((group) => (
          <tr key={group.id}>
            {group.headers.map((header) => {
              const sorted = header.column.getIsSorted();
              return (
                <th
                  key={header.id}
                  onClick={header.column.getCanSort() ? header.column.getToggleSortingHandler() : undefined}
                  className={header.column.getCanSort() ? "sortable" : undefined}
                  aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}
                >
                  {flexRender(header.column.columnDef.header, header.getContext())}
                  {sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}
                </th>
              );
            })}
          </tr>
        ))}
      </thead>
      <tbody>
        {table.getRowModel().rows.map((row) => (
          <tr key={row.id}>
            {row.getVisibleCells().map((cell) => (
              <td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</td>
            ))}
          </tr>
        ))}
        {props.rows.length === 0 && (
          <tr>
            <td colSpan={props.columns.length} className="empty">
              {props.empty ?? "Nothing here."}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
