#!/usr/bin/env node
// demo.js -- `make demo`: the whole system on this machine, no AWS account.
//
// Starts the local Step Functions runner (tests/sfn-local, a development
// tool, not a production engine) and a fake ConnectWise with deterministic
// sample data, creates the activity and the state machine from
// statemachine/backfill.asl.json, starts two `backfill-worker worker`
// processes, runs the original scenario (tenant sitetechnology,
// service/tickets, 7 days in 2-day chunks) together with the three other
// default tables and the four further ConnectWise tables (products,
// agreements, projects, members), prints a summary and stops everything it
// started.
// Output lands in ./backfill-data/ (raw, canonical, backfill_metadata).
'use strict';
const fs = require('fs');
const path = require('path');
const h = require('./harness');

const OUT = path.join(h.TOP, 'backfill-data');
const WORK = path.join(h.TOP, 'build', 'demo');
const TENANT = 'sitetechnology';
const CW_KEYS = { company_id: 'sitetechnology', public_key: 'demo-public', private_key: 'demo-private-key',
                  client_id: '00000000-0000-4000-8000-000000000001' };
const INPUT = {
  tenant_id: TENANT, service: 'connectwise',
  tables: ['service/tickets', 'time/entries', 'company/companies', 'company/contacts',
           'procurement/products', 'finance/agreements', 'project/projects', 'system/members'],
  start_date: '2025-06-13T06:00:57.295053+00:00', end_date: '2025-06-20T06:00:57.295053+00:00',
  chunk_size_days: 2, max_concurrency: 4, heartbeat_seconds: 30,
};

function writeJson(file, obj) {
  fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n', { mode: 0o600 });
}

async function main() {
  const t0 = Date.now();
  fs.mkdirSync(WORK, { recursive: true });
  fs.mkdirSync(OUT, { recursive: true });
  console.log('demo: starting the local Step Functions runner and a fake ConnectWise on 127.0.0.1');
  const cw = await h.startFake(path.join(h.TOP, 'tests/support/fake/connectwise.js'), [
    '--seed', '42', '--start', '2025-06-10T00:00:00Z', '--days', '14',
    '--tickets', '1400', '--time-entries', '2800', '--companies', '140', '--contacts', '420',
    '--products', '700', '--agreements', '120', '--projects', '160', '--members', '60',
    '--keys', `${CW_KEYS.company_id}+${CW_KEYS.public_key}:${CW_KEYS.private_key}`,
    '--client-id', CW_KEYS.client_id, '--max-seconds', '600']);
  // Empty long polls are answered after 5 s instead of AWS's 60 s, so the
  // workers' SIGTERM drain (which never aborts a poll in flight) ends fast.
  const runner = await h.startRunner({ s3Dir: OUT, pollSeconds: 5, log: path.join(WORK, 'sfn-local.log') });
  const { activityArn, stateMachineArn } = await h.deployMachine(runner.url,
    { DataBucket: 'local', MetadataPrefix: '' });
  console.log(`demo: activity ${activityArn}`);

  writeJson(path.join(WORK, 'tenants.json'), [{ tenant_id: TENANT, service: 'connectwise', enabled: true,
                                                secret_name: `${TENANT}/dev` }]);
  writeJson(path.join(WORK, 'secrets.json'), { [`${TENANT}/dev`]: { connectwise: {
    api_base_url: `${cw.url}/v4_6_release/apis/3.0`, ...CW_KEYS } } });
  const env = {
    AWS_ENDPOINT_URL_SFN: runner.url, BACKFILL_ACTIVITY_ARN: activityArn,
    BACKFILL_OUTPUT: `file://${OUT}`, BACKFILL_TENANTS: `file://${WORK}/tenants.json`,
    BACKFILL_SECRETS: `file://${WORK}/secrets.json`, BACKFILL_CONCURRENCY: '2', BACKFILL_LOG_LEVEL: 'info',
  };
  const workers = [1, 2].map((n) => h.startWorker(env, { name: `demo-worker-${n}`, logFile: path.join(WORK, `worker-${n}.log`) }));
  console.log(`demo: started 2 workers (logs in build/demo/worker-*.log)`);

  const name = `demo-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;
  const arn = await h.startExecution(runner.url, stateMachineArn, name, INPUT);
  console.log(`demo: execution ${name}: ${INPUT.tables.length} tables, ${INPUT.start_date} .. ${INPUT.end_date}, ${INPUT.chunk_size_days}-day chunks`);
  const d = await h.waitForExecution(runner.url, arn, 300000);
  console.log(`demo: execution ${d.status} after ${(d.stopDate - d.startDate).toFixed(1)} s; stopping the workers (SIGTERM)`);

  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  printSummary(d);
  console.log(`demo: files under ./backfill-data/${TENANT}/ (raw/, canonical/, backfill_metadata/)`);
  console.log(`demo: ${d.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  h.stopAll();
  process.exit(d.status === 'SUCCEEDED' ? 0 : 1);
}

function printSummary(d) {
  if (!d.output) {
    console.log(`demo: ${d.status}: ${d.error || ''} ${d.cause || ''}`);
    return;
  }
  const s = JSON.parse(d.output);
  const tables = s.tables || s.per_table || {};
  const rows = Array.isArray(tables) ? tables : Object.entries(tables).map(([k, v]) => ({ table_name: k, ...v }));
  const pad = (x, n) => String(x).padEnd(n);
  const num = (x) => String(x === null || x === undefined ? '-' : x).padStart(10);
  console.log('');
  console.log(`${pad('table', 22)}${'chunks'.padStart(8)}${'ok'.padStart(6)}${num('ingested')}${num('canonical')}${num('rejected')}`);
  for (const r of rows) {
    console.log(`${pad(r.table_name || r.table, 22)}${String(r.chunks_total).padStart(8)}${String(r.chunks_succeeded).padStart(6)}` +
                `${num(r.records_ingested)}${num(r.records_transformed)}${num(r.records_rejected)}`);
  }
  const o = s.overall || s;
  console.log(`${pad('all', 22)}${String(o.chunks_total).padStart(8)}${String(o.chunks_succeeded).padStart(6)}` +
              `${num(o.records_ingested)}${num(o.records_transformed)}${num(o.records_rejected)}`);
  console.log('');
}

main().catch((e) => { console.error(`demo: ${e.stack || e}`); h.stopAll(); process.exit(1); });
