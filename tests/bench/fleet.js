// fleet.js -- benchmark 5 of `make bench` (tests/bench/README.md): the fleet
// state machine (statemachine/backfill-fleet.asl.json) on the local runner's
// Distributed Map at two sizes, to show that the cost of a fleet run grows
// linearly with its number of chunks: per chunk, neither the workers' CPU
// nor the wall time may grow when the run is five times larger.
//
// The system is the one `make check-fleet` drives (tests/e2e/harness.js):
// the real worker binary (two processes, 8 slots each), the fake ConnectWise,
// and a directory that is both the worker's file:// output and the runner's
// S3 bucket. The fake's records are spread so that every chunk holds the same
// number of records at both sizes (the per-day counts are fixed and only the
// window grows), so "per chunk" compares like with like.
//
// Worker CPU is utime+stime of both worker processes from /proc/<pid>/stat,
// read when the execution starts and when it has ended (their idle polls
// before and after are outside the window). Wall time runs from StartExecution
// to the terminal status. Every run must end SUCCEEDED with every planned
// chunk succeeded and record counts equal to what the fake holds; otherwise
// the benchmark is broken, not slow.
'use strict';
const fs = require('fs');
const path = require('path');
const h = require('../e2e/harness');

const TENANTS = ['t01', 't02', 't03', 't04', 't05'];
const START = '2025-01-01T00:00:00Z';
// Records per day in the fake, per table. Each chunk is one day of one
// table of one tenant (all tenants read the same fake).
const PER_DAY = { tickets: 40, 'time-entries': 60, companies: 4, contacts: 8, products: 4,
                  agreements: 2, projects: 4, members: 2 };
const KEYS = { company_id: 'bench', public_key: 'pub-bench', private_key: 'priv-bench',
               client_id: '00000000-0000-4000-8000-00000000be4c' };

function tables() {
  return JSON.parse(fs.readFileSync(path.join(h.TOP, 'src/catalog/endpoints.json'), 'utf8'))
    .connectwise.endpoints.filter((e) => e.enabled).map((e) => e.endpoint);
}

function cpuOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // clock ticks
}

async function fleetRun(days, work, clkTck) {
  const names = tables();
  const dir = fs.mkdtempSync(path.join(work, `fleet-${days}d-`));
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const fakeDays = days + 2;
  const counts = [];
  for (const [k, v] of Object.entries(PER_DAY)) counts.push(`--${k}`, String(v * fakeDays));
  try {
    const cw = await h.startFake(path.join(h.TOP, 'tests/support/fake/connectwise.js'), [
      '--seed', '5', '--start', START, '--days', String(fakeDays), ...counts,
      '--keys', `${KEYS.company_id}+${KEYS.public_key}:${KEYS.private_key}`, '--client-id', KEYS.client_id,
      '--max-seconds', '1800'], { stderr: 'ignore' });
    const runner = await h.startRunner({ retryScale: 50, pollSeconds: 2, s3Dir: out, log: path.join(dir, 'runner.log') });
    const sm = await h.deployMachine(runner.url, { DataBucket: 'local', MetadataPrefix: '' }, 'fleet',
                                     'backfill-fleet.asl.json');
    fs.writeFileSync(path.join(dir, 'tenants.json'), JSON.stringify(
      TENANTS.map((t) => ({ tenant_id: t, service: 'connectwise', enabled: true }))));
    const secrets = {};
    for (const t of TENANTS) secrets[`${t}/dev`] = { connectwise: { api_base_url: cw.url, ...KEYS } };
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify(secrets));
    const env = {
      AWS_ENDPOINT_URL_SFN: runner.url, BACKFILL_ACTIVITY_ARN: sm.activityArn, BACKFILL_OUTPUT: `file://${out}`,
      BACKFILL_TENANTS: `file://${dir}/tenants.json`, BACKFILL_SECRETS: `file://${dir}/secrets.json`,
      BACKFILL_CONCURRENCY: '8', BACKFILL_DRAIN_SECONDS: '1', BACKFILL_LOG_LEVEL: 'warn', BACKFILL_SOURCE_RPS: '1000',
    };
    const workers = [1, 2].map((i) => h.startWorker(env, { name: `bench-w${i}`, logFile: path.join(dir, `worker-${i}.log`) }));
    await new Promise((r) => setTimeout(r, 500)); // both are polling
    const end = new Date(Date.parse(START) + days * 86400000).toISOString().replace('.000Z', 'Z');
    const cpu0 = workers.map((w) => cpuOf(w.pid));
    const t0 = process.hrtime.bigint();
    const arn = await h.startExecution(runner.url, sm.stateMachineArn, 'bench', {
      tenants: TENANTS, service: 'connectwise', tables: names, start_date: START, end_date: end,
      chunk_size_days: 1, max_concurrency: 16, heartbeat_seconds: 30 });
    const d = await h.waitForExecution(runner.url, arn, 1500000);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = workers.reduce((s, w, i) => s + cpuOf(w.pid) - cpu0[i], 0) / clkTck;
    if (d.status !== 'SUCCEEDED') throw new Error(`fleet run of ${days} days: ${d.status} ${d.error} ${d.cause}`);
    const fleet = JSON.parse(d.output);
    const chunks = TENANTS.length * names.length * days;
    if (fleet.chunks_total !== chunks || fleet.chunks_succeeded !== chunks)
      throw new Error(`fleet run of ${days} days: ${fleet.chunks_succeeded}/${fleet.chunks_total} chunks, expected ${chunks}`);
    let records = 0;
    for (const t of TENANTS) {
      const meta = JSON.parse(fs.readFileSync(path.join(out, t, 'backfill_metadata/connectwise/bench.json'), 'utf8'));
      for (const row of meta.tables) {
        const e = await (await fetch(`${cw.url}/__admin/expected?table=${encodeURIComponent(row.table_name)}&start=${START}&end=${end}`)).json();
        if (row.records_ingested !== e.count)
          throw new Error(`${t} ${row.table_name}: ingested ${row.records_ingested}, the fake holds ${e.count}`);
        records += row.records_ingested;
      }
    }
    const stats = await h.call(runner.url, 'LocalGetExecutionStats', { executionArn: arn });
    return { chunks, days, tenants: TENANTS.length, tables: names.length, records, wall_s: wall, worker_cpu_s: cpu,
             worker_cpu_ms_per_chunk: cpu * 1000 / chunks, wall_ms_per_chunk: wall * 1000 / chunks,
             largest_state_payload_bytes: stats.maxPayloadBytes, parent_history_events: stats.historyEvents,
             max_events_per_child_execution: stats.eventsPerChild };
  } catch (e) {
    for (const i of [1, 2]) {
      const f = path.join(dir, `worker-${i}.log`);
      if (fs.existsSync(f)) e.message += `\nworker-${i}.log (tail): ${fs.readFileSync(f, 'utf8').slice(-600)}`;
    }
    throw e;
  } finally {
    h.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// a: bench.js's arguments (quick); ctx: its work directory; lib: its table
// printer, number formatter and verdict.
async function benchFleet(a, ctx, lib) {
  const clkTck = lib.clkTck;
  const sizes = a.quick ? [1, 5] : [25, 125]; // days: 5 tenants x 8 tables x days chunks
  const rows = [];
  for (const days of sizes) rows.push(await fleetRun(days, ctx.work, clkTck));
  lib.table('5. Fleet run (statemachine/backfill-fleet.asl.json on the local Distributed Map; 2 workers x 8 slots)',
    ['chunks', 'records', 'wall s', 'wall ms/chunk', 'worker CPU s', 'worker CPU ms/chunk', 'largest payload B', 'parent events', 'events/child'],
    rows.map((r) => ({ chunks: r.chunks, records: r.records, 'wall s': lib.fix(r.wall_s, 1),
      'wall ms/chunk': lib.fix(r.wall_ms_per_chunk, 2), 'worker CPU s': lib.fix(r.worker_cpu_s, 2),
      'worker CPU ms/chunk': lib.fix(r.worker_cpu_ms_per_chunk, 2), 'largest payload B': r.largest_state_payload_bytes,
      'parent events': r.parent_history_events, 'events/child': r.max_events_per_child_execution })));
  const [small, large] = rows;
  const cpuRatio = large.worker_cpu_ms_per_chunk / small.worker_cpu_ms_per_chunk;
  const wallRatio = large.wall_ms_per_chunk / small.wall_ms_per_chunk;
  // Linear means a constant cost per chunk; 1.25 leaves room for the noise
  // of a 2-core machine while catching anything that grows with the run
  // (a quadratic scan would be ~5x here).
  const targets = [
    lib.verdict('fleet: worker CPU per chunk constant (5x chunks: ratio <= 1.25)', cpuRatio <= 1.25,
      `${lib.fix(small.worker_cpu_ms_per_chunk)} ms at ${small.chunks}, ${lib.fix(large.worker_cpu_ms_per_chunk)} ms at ${large.chunks} (x${lib.fix(cpuRatio)})`),
    lib.verdict('fleet: wall time per chunk constant (5x chunks: ratio <= 1.25)', wallRatio <= 1.25,
      `${lib.fix(small.wall_ms_per_chunk)} ms at ${small.chunks}, ${lib.fix(large.wall_ms_per_chunk)} ms at ${large.chunks} (x${lib.fix(wallRatio)})`),
  ];
  return { rows, targets, problems: [] };
}

module.exports = { benchFleet };
