#!/usr/bin/env node
// baseline_node.js -- the activity worker most Node users write (make bench).
//
// One SFNClient (@aws-sdk/client-sfn, installed in tests/bench/node_modules
// by `npm ci`), N async loops that each await GetActivityTask and answer
// SendTaskSuccess. The "work" is nothing, like backfill-worker's noop
// handler. Stops on SIGTERM.
//
//   node baseline_node.js ENDPOINT_URL ACTIVITY_ARN CONCURRENCY
'use strict';
const { SFNClient, GetActivityTaskCommand, SendTaskSuccessCommand } =
  require('@aws-sdk/client-sfn');

async function main() {
  const [endpoint, arn, concArg] = process.argv.slice(2);
  const conc = Number(concArg);
  const client = new SFNClient({
    endpoint, region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE',
                   secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  });
  let stop = false;
  process.on('SIGTERM', () => { stop = true; process.exit(0); });

  async function pollLoop(i) {
    const name = `node-bench-${i}`;
    while (!stop) {
      const task = await client.send(new GetActivityTaskCommand({ activityArn: arn, workerName: name }));
      if (!task.taskToken) continue;
      const inp = JSON.parse(task.input);
      const out = { status: 'SUCCEEDED' };
      for (const k of ['tenant_id', 'service', 'table_name', 'start_date', 'end_date',
                       'chunk_number', 'total_chunks', 'backfill_id']) out[k] = inp[k];
      Object.assign(out, { records_ingested: 0, records_transformed: 0,
                           records_rejected: 0, pages: 0, worker: name });
      await client.send(new SendTaskSuccessCommand({ taskToken: task.taskToken,
                                                     output: JSON.stringify(out) }));
    }
  }
  console.log('ready');
  await Promise.all(Array.from({ length: conc }, (_, i) => pollLoop(i)));
}

main().catch((e) => { console.error(e); process.exit(1); });
