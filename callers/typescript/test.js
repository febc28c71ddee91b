// Runs the TypeScript callers against a Temporal server where our worker serves the
// issue-models Nexus endpoint; started by the Go test TestTypeScriptCallers (integration/),
// which sets:
//   TEMPORAL_ADDRESS, NEXUS_ENDPOINT, ISSUE_MODELS_TASK_QUEUE, CALLERS_NAMESPACE,
//   CREATE_INPUT (JSON), CANCEL_INPUT (JSON, a long training), ID_PREFIX.
// It prints one JSON line per case and exits non-zero on the first failure.
const path = require('path');
const assert = require('assert/strict');
const { Worker, NativeConnection, Runtime, DefaultLogger, bundleWorkflowCode } = require('@temporalio/worker');
const { Client, Connection, WorkflowFailedError, CancelledFailure } = require('@temporalio/client');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const address = env('TEMPORAL_ADDRESS');
  const endpoint = env('NEXUS_ENDPOINT');
  const issueModelsQueue = env('ISSUE_MODELS_TASK_QUEUE');
  const callersNs = env('CALLERS_NAMESPACE');
  const prefix = env('ID_PREFIX');
  const createInput = JSON.parse(env('CREATE_INPUT'));
  const childInput = JSON.parse(env('CHILD_INPUT'));
  const cancelInput = JSON.parse(env('CANCEL_INPUT'));

  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'src', 'workflows.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  const nc = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const queue = `ts-callers-${prefix}`;
  const workers = [callersNs, 'default'].map((namespace) =>
    Worker.create({ connection: nc, namespace, taskQueue: queue, workflowBundle }));
  const running = (await Promise.all(workers)).map((w) => ({ w, done: w.run() }));
  try {
    const callers = new Client({ connection, namespace: callersNs });
    const same = new Client({ connection, namespace: 'default' });

    // 1. Another namespace, through the Nexus endpoint.
    const viaNexus = await callers.workflow.execute('trainThroughNexus', {
      taskQueue: queue, workflowId: `${prefix}-nexus`, args: [endpoint, createInput], workflowExecutionTimeout: '3 minutes',
    });
    assert.equal(viaNexus.outcome, 'SUCCEEDED');
    assert.equal(viaNexus.issueModel.state, 'UNDEPLOYED');
    console.log(JSON.stringify({ case: 'nexus', outcome: viaNexus.outcome, model: viaNexus.issueModel.name }));

    // 2. The same namespace, as a child by type name with the README's JSON.
    const asChild = await same.workflow.execute('trainAsChild', {
      taskQueue: queue, workflowId: `${prefix}-child`, args: [issueModelsQueue, childInput], workflowExecutionTimeout: '3 minutes',
    });
    assert.equal(asChild.outcome, 'SUCCEEDED');
    console.log(JSON.stringify({ case: 'child', outcome: asChild.outcome, model: asChild.issueModel.name }));

    // 3. Cancel travels with the call: cancelling the caller cancels the training, and the caller
    //    ends cancelled once the outcome is known.
    const h = await callers.workflow.start('trainThroughNexus', {
      taskQueue: queue, workflowId: `${prefix}-cancel`, args: [endpoint, cancelInput], workflowExecutionTimeout: '3 minutes',
    });
    await waitForBackingPolls(same, process.env.CANCEL_BACKING_ID);
    await h.cancel();
    let cancelled = false;
    try {
      await h.result();
    } catch (err) {
      cancelled = err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure;
      if (!cancelled) throw err;
    }
    assert.ok(cancelled, 'the caller ended cancelled');
    const backing = await same.workflow.getHandle(process.env.CANCEL_BACKING_ID).describe();
    assert.equal(backing.status.name, 'CANCELLED');
    console.log(JSON.stringify({ case: 'nexus-cancel', caller: 'CANCELLED', backing: backing.status.name }));
  } finally {
    for (const r of running) r.w.shutdown();
    await Promise.all(running.map((r) => r.done));
    await nc.close();
    await connection.close();
  }
}

// waitForBackingPolls waits until the backing run answers its status query with a poll.
async function waitForBackingPolls(client, id) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const st = await client.workflow.getHandle(id).query('status');
      if (st.polls >= 1) return;
    } catch (_) { /* not started yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`backing run ${id} did not poll`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
