// TypeScript callers of the issue-model workflows: they know only the README's JSON, not our Go
// types. ./scripts/test.sh runs them against the dev server (test.js).
import * as nexus from 'nexus-rpc';
import * as wf from '@temporalio/workflow';

// The CreateIssueModelWorkflow input and result, in the README's REST shape (the fields used here).
export interface CreateIssueModelInput {
  parent: string;
  issueModel: { displayName: string; inputDataConfig: { medium?: string; filter?: string } };
  polling?: Record<string, unknown>;
}
export interface CreateIssueModelResult {
  operation: string;
  outcome: string;
  issueModel?: { name: string; state: string; displayName: string };
  polls: number;
}

// The issue-models Nexus service: operation names as the worker registers them.
export const issueModels = nexus.service('issue-models', {
  createIssueModel: nexus.operation<CreateIssueModelInput, CreateIssueModelResult>({ name: 'create-issue-model' }),
});

// Another namespace: train through the endpoint. Cancelling this workflow cancels the operation
// and waits for its outcome (the backing run's cancel path).
export async function trainThroughNexus(endpoint: string, input: CreateIssueModelInput): Promise<CreateIssueModelResult> {
  const client = wf.createNexusServiceClient({ endpoint, service: issueModels });
  return await client.executeOperation('createIssueModel', input, {
    scheduleToCloseTimeout: '1 day',
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  });
}

// The same namespace: start CreateIssueModelWorkflow as a child by its type name.
export async function trainAsChild(taskQueue: string, input: CreateIssueModelInput): Promise<CreateIssueModelResult> {
  return await wf.executeChild<(i: CreateIssueModelInput) => Promise<CreateIssueModelResult>>('CreateIssueModelWorkflow', {
    args: [input],
    taskQueue,
    workflowId: wf.workflowInfo().workflowId + '-train',
  });
}
