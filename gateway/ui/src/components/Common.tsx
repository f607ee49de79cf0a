import { type ReactNode, useCallback, useEffect, useRef, useState } from "react";
import { errorText } from "../api";

export const formatTime = (ms?: number | null): string => (ms ? new Date(ms).toISOString().replace("T", " ").replace("Z", "") : "");

export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
};

export function StatusBadge({ status }: { status?: string }) {
  return <span className={`status status-${status ?? "NONE"}`}>{status ?? "not reached"}</span>;
}

export function ErrorBanner({ error, onClose }: { error?: string | null; onClose?: () => void }) {
  if (!error) return null;
  return (
    <div className="error-banner" role="alert">
      {error}
      {onClose && (
        <button className="link" onClick={onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

// Loads `load()` now and whenever `deps` change; with `everyMs`, again on that period.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number) {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const value = await load();
      if (mine === generation.current) {
        setData(value);
        setError(null);
      }
    } catch (caught) {
      if (mine === generation.current) setError(errorText(caught));
    }
  }, deps);
  useEffect(() => {
    void reload();
    if (!everyMs) return;
    const timer = window.setInterval(() => void reload(), everyMs);
    return () => window.clearInterval(timer);
  }, [reload, everyMs]);
  return { data, error, reload };
}

export interface PendingAction {
  title: string;
  detail?: ReactNode;
  confirmLabel: string;
  run: () => Promise<unknown>;
}

// Every action that changes an execution is confirmed first; a refusal shows the
// server's message in the dialog and nothing else happens.
export function ConfirmDialog({ action, onClose, onDone }: { action: PendingAction | null; onClose: () => void; onDone: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setError(null), [action]);
  if (!action) return null;
  const confirm = async () => {
    setBusy(true);
    try {
      await action.run();
      onClose();
      onDone();
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="modal-backdrop">
      <div className="modal" role="dialog" aria-label={action.title}>
        <h3>{action.title}</h3>
        {action.detail && <div className="modal-detail">{action.detail}</div>}
        <ErrorBanner error={error} />
        <div className="modal-buttons">
          <button onClick={onClose}>Cancel</button>
          <button className="primary" onClick={() => void confirm()} disabled={busy}>
            {action.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

export function Tabs({ tabs, label }: { tabs: { name: string; content: () => ReactNode }[]; label: string }) {
  const [current, setCurrent] = useState(tabs[0]?.name);
  const shown = tabs.find((tab) => tab.name === current) ?? tabs[0];
  return (
    <div className="tabs">
      <div role="tablist" aria-label={label}>
        {tabs.map((tab) => (
          <button key={tab.name} role="tab" aria-selected={tab.name === shown?.name} onClick={() => setCurrent(tab.name)}>
            {tab.name}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={shown?.name}>
        {shown?.content()}
      </div>
    </div>
  );
}
