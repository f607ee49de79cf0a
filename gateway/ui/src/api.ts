// The REST API (docs/api.md). Every refusal carries the server's own message.
import type {
  DefSummary,
  EventHandler,
  PollData,
  SearchResult,
  TaskDef,
  TaskLog,
  Workflow,
  WorkflowDef,
  WorkflowSummary,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly validationErrors: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

// With authentication on (docs/auth.md) every call carries a token, kept for this browser
// tab only (sessionStorage) and sent in a header, never in a URL. A 401 asks for a login.
const TOKEN_KEY = "podium.token";
export const UNAUTHORIZED_EVENT = "podium:unauthorized";

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  keep: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  forget: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** Trade an application key for a token (POST /api/token) and keep it. */
export async function signIn(keyId: string, keySecret: string): Promise<void> {
  const { token } = await call<{ token: string }>("POST", "/api/token", { keyId, keySecret });
  session.keep(token);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = body === undefined ? {} : { "Content-Type": "application/json" };
  const token = session.token();
  if (token) headers["X-Authorization"] = token;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status === 401 && path !== "/api/token") {
    session.forget(); // missing, expired or revoked: ask again
    window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let validationErrors = [];
    try {
      const error = JSON.parse(text);
      message = error.message ?? message;
      validationErrors = error.validationErrors ?? [];
    } catch {
      if (text) message = text;
    }
    throw new ApiError(response.status, message, validationErrors);
  }
  if (!text) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (type.includes("json") ? JSON.parse(text) : text) as T;
}

const q = (params: Record<string, string | number | boolean | undefined>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
};
const seg = encodeURIComponent;

export const api = {
  search: (params: { start: number; size: number; sort?: string; query?: string; freeText?: string }) =>
    call<SearchResult<WorkflowSummary>>("GET", `/api/workflow/search${q(params)}`),
  workflow: (id: string) => call<Workflow>("GET", `/api/workflow/${seg(id)}?includeTasks=true`),
  taskLogs: (taskId: string) => call<TaskLog[]>("GET", `/api/tasks/${seg(taskId)}/log`),

  pause: (id: string) => call<unknown>("PUT", `/api/workflow/${seg(id)}/pause`),
  resume: (id: string) => call<unknown>("PUT", `/api/workflow/${seg(id)}/resume`),
  terminate: (id: string, reason: string) => call<unknown>("DELETE", `/api/workflow/${seg(id)}${q({ reason })}`),
  restart: (id: string, useLatestDefinitions: boolean) =>
    call<unknown>("POST", `/api/workflow/${seg(id)}/restart${q({ useLatestDefinitions })}`),
  retry: (id: string) => call<unknown>("POST", `/api/workflow/${seg(id)}/retry`),
  rerun: (id: string, reRunFromTaskId?: string) =>
    call<string>("POST", `/api/workflow/${seg(id)}/rerun`, reRunFromTaskId ? { reRunFromTaskId } : {}),
  skip: (id: string, ref: string) => call<unknown>("PUT", `/api/workflow/${seg(id)}/skiptask/${seg(ref)}`, {}),
  updateTask: (id: string, ref: string, status: string, output: unknown) =>
    call<string>("POST", `/api/tasks/${seg(id)}/${seg(ref)}/${seg(status)}`, output),
  start: (body: { name: string; version?: number; input: unknown; correlationId?: string }) =>
    call<string>("POST", `/api/workflow`, body),

  defNames: () => call<Record<string, DefSummary[]>>("GET", `/api/metadata/workflow/names-and-versions`),
  workflowDef: (name: string, version?: number) =>
    call<WorkflowDef>("GET", `/api/metadata/workflow/${seg(name)}${q({ version })}`),
  validate: (definition: unknown) => call<{ warnings?: string[] } | null>("POST", `/api/metadata/workflow/validate`, definition),
  saveDef: (definition: unknown, overwrite: boolean) =>
    call<unknown>("POST", `/api/metadata/workflow${q({ overwrite })}`, definition),

  taskDefs: () => call<TaskDef[]>("GET", `/api/metadata/taskdefs`),
  taskDef: (name: string) => call<TaskDef>("GET", `/api/metadata/taskdefs/${seg(name)}`),
  eventHandlers: () => call<EventHandler[]>("GET", `/api/event`),
  queues: () => call<Record<string, Record<string, { size: number; uacked: number }>>>("GET", `/api/tasks/queue/all/verbose`),
  queueSizes: (taskType: string) => call<Record<string, number>>("GET", `/api/tasks/queue/sizes${q({ taskType })}`),
  pollData: (taskType: string) => call<PollData[]>("GET", `/api/tasks/queue/polldata${q({ taskType })}`),
  dashboard: () =>
    call<{ url: string | null; authentication: string; tokenCommand: string | null }>("GET", `/api/admin/dashboard`),
};

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
