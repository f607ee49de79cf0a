// Conductor's wire shapes as Podium answers them (docs/api.md); only the fields the UI reads.

export type WorkflowStatus = "RUNNING" | "COMPLETED" | "FAILED" | "TIMED_OUT" | "TERMINATED" | "PAUSED";
export const WORKFLOW_STATUSES: WorkflowStatus[] = ["RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED", "PAUSED"];

export type TaskStatus =
  | "SCHEDULED"
  | "IN_PROGRESS"
  | "COMPLETED"
  | "COMPLETED_WITH_ERRORS"
  | "FAILED"
  | "FAILED_WITH_TERMINAL_ERROR"
  | "TIMED_OUT"
  | "CANCELED"
  | "SKIPPED";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface WorkflowTask {
  name: string;
  taskReferenceName: string;
  type?: string;
  description?: string;
  inputParameters?: JsonObject;
  decisionCases?: Record<string, WorkflowTask[]>;
  defaultCase?: WorkflowTask[];
  forkTasks?: WorkflowTask[][];
  loopOver?: WorkflowTask[];
  joinOn?: string[];
  subWorkflowParam?: { name?: string; version?: number };
  [key: string]: unknown;
}

export interface WorkflowDef {
  name: string;
  version?: number;
  description?: string;
  tasks: WorkflowTask[];
  inputParameters?: string[];
  createTime?: number;
  updateTime?: number;
  [key: string]: unknown;
}

export interface Task {
  taskId: string;
  taskType: string;
  status: TaskStatus;
  referenceTaskName: string;
  taskDefName?: string;
  workflowInstanceId: string;
  inputData: JsonObject;
  outputData: JsonObject;
  retryCount: number;
  seq: number;
  pollCount: number;
  scheduledTime: number;
  startTime: number;
  endTime: number;
  updateTime: number;
  reasonForIncompletion?: string | null;
  workerId?: string | null;
  iteration?: number;
  subWorkflowId?: string | null;
  retriedTaskId?: string | null;
  workflowTask?: WorkflowTask;
}

export interface Workflow {
  workflowId: string;
  workflowName: string;
  workflowVersion: number;
  status: WorkflowStatus;
  input: JsonObject;
  output: JsonObject;
  tasks: Task[];
  correlationId?: string | null;
  startTime: number;
  endTime: number;
  updateTime: number;
  reasonForIncompletion?: string | null;
  parentWorkflowId?: string | null;
  workflowDefinition?: WorkflowDef;
}

export interface WorkflowSummary {
  workflowId: string;
  workflowType: string;
  version: number;
  correlationId?: string | null;
  status: WorkflowStatus;
  startTime: string;
  endTime?: string | null;
  updateTime?: string | null;
  executionTime?: number;
  failedReferenceTaskNames?: string;
  reasonForIncompletion?: string | null;
}

export interface SearchResult<T> {
  totalHits: number;
  results: T[];
}

export interface DefSummary {
  name: string;
  version: number;
  createTime?: number;
  updateTime?: number;
}

export interface TaskDef {
  name: string;
  description?: string | null;
  retryCount?: number;
  timeoutSeconds?: number;
  responseTimeoutSeconds?: number;
  retryLogic?: string;
  retryDelaySeconds?: number;
  concurrentExecLimit?: number | null;
  ownerEmail?: string | null;
  [key: string]: unknown;
}

export interface EventHandler {
  name: string;
  event: string;
  condition?: string | null;
  active?: boolean;
  actions: { action: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

export interface PollData {
  queueName: string;
  domain?: string | null;
  workerId: string;
  lastPollTime: number;
}

export interface TaskLog {
  log: string;
  taskId?: string;
  createdTime?: number;
}
