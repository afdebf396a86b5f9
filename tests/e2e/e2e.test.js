#!/usr/bin/env node
// e2e.test.js -- the whole system end to end: the real backfill-worker
// binary and the real statemachine/backfill.asl.json on the local Step
// Functions runner, against the fake ConnectWise, writing to a directory.
//
// Scenarios: happy path with counts checked against the source;
// transient faults absorbed; a worker killed mid-chunk (heartbeat timeout,
// another worker finishes, no duplicates); a permanent failure, then a
// redrive that re-runs only the failed chunks; SIGTERM mid-run (prompt
// WorkerShutdown retry, nothing lost); an invalid input that fails before
// any task is scheduled. A node:test file, one test per scenario, run one
// after another (each owns ports and processes). Run:
// node tests/e2e/e2e.test.js [name ...] (names pick scenarios), or
// node --test tests/e2e/e2e.test.js (what `make check-e2e` runs).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const h = require('./harness');

const TENANT = 'acme';
const KEYS = { company_id: 'acme', public_key: 'pub-e2e', private_key: 'priv-e2e',
               client_id: '00000000-0000-4000-8000-00000000e2e0' };
const WINDOW = { start_date: '2025-03-01T00:00:00Z', end_date: '2025-03-07T00:00:00Z', chunk_size_days: 2 };
// Every enabled endpoint of the worker's endpoint table (all eight), with
// its canonical table: one list, read from the table itself.
const ENDPOINTS = JSON.parse(fs.readFileSync(path.join(h.TOP, 'src/catalog/endpoints.json'), 'utf8'))
  .connectwise.endpoints.filter((e) => e.enabled);
const TABLES = ENDPOINTS.map((e) => e.endpoint);
const CANONICAL = Object.fromEntries(ENDPOINTS.map((e) => [e.endpoint, e.canonical_table]));
const NEW_TABLES = ENDPOINTS.filter((e) => !e.default).map((e) => e.endpoint);

async function json(url, opts = {}) {
  const r = await fetch(url, opts);
  return r.json();
}

// One isolated system per scenario: its own runner, fake, output dir.
async function system(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `e2e-${name}-`));
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const cw = await h.startFake(path.join(h.TOP, 'tests/support/fake/connectwise.js'), [
    '--seed', '7', '--start', '2025-02-27T00:00:00Z', '--days', '10',
    '--tickets', '600', '--time-entries', '900', '--companies', '80', '--contacts', '200',
    '--keys', `${KEYS.company_id}+${KEYS.public_key}:${KEYS.private_key}`, '--client-id', KEYS.client_id,
    '--max-seconds', '600']);
  // Retry intervals run 20 times faster; heartbeat windows stay real, so
  // the worker's own cadence (heartbeat_seconds / 3) is what is tested.
  const runner = await h.startRunner({ retryScale: 20, pollSeconds: 2, s3Dir: out, log: path.join(dir, 'runner.log') });
  const sm = await h.deployMachine(runner.url, { DataBucket: 'local', MetadataPrefix: '' }, 'backfill');
  fs.writeFileSync(path.join(dir, 'tenants.json'), JSON.stringify([{ tenant_id: TENANT, service: 'connectwise', enabled: true }]));
  fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ [`${TENANT}/dev`]: { connectwise: {
    api_base_url: cw.url, ...KEYS } } }));
  const env = {
    AWS_ENDPOINT_URL_SFN: runner.url, BACKFILL_ACTIVITY_ARN: sm.activityArn, BACKFILL_OUTPUT: `file://${out}`,
    BACKFILL_TENANTS: `file://${dir}/tenants.json`, BACKFILL_SECRETS: `file://${dir}/secrets.json`,
    BACKFILL_CONCURRENCY: '2', BACKFILL_DRAIN_SECONDS: '1', BACKFILL_LOG_LEVEL: 'info', BACKFILL_SOURCE_RPS: '50',
  };
  let n = 0;
  const sys = {
    dir, out, cw, runner, sm, env,
    worker: (extra = {}) => h.startWorker({ ...env, ...extra }, { name: `${name}-w${++n}`, logFile: path.join(dir, `worker-${n}.log`) }),
    start: (input, execName = 'run1') => h.startExecution(runner.url, sm.stateMachineArn, execName,
      { tenant_id: TENANT, service: 'connectwise', heartbeat_seconds: 3, max_concurrency: 4, ...WINDOW, ...input }),
    wait: (arn, ms = 120000) => h.waitForExecution(runner.url, arn, ms),
    history: async (arn) => (await h.call(runner.url, 'GetExecutionHistory', { executionArn: arn })).events,
    faults: (faults) => json(`${cw.url}/__admin/faults`, { method: 'POST', body: JSON.stringify({ faults }) }),
    clearFaults: () => json(`${cw.url}/__admin/faults`, { method: 'DELETE' }),
    expected: (table, start, end) => json(`${cw.url}/__admin/expected?table=${encodeURIComponent(table)}&start=${start}&end=${end}`),
    stop: () => { h.stopAll(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
  return sys;
}

// Chunk windows of the plan, via the real `backfill-worker plan`.
function planOf(input) {
  const { execFileSync } = require('child_process');
  const out = execFileSync(h.BIN, ['plan', '--input', '-'], { input: JSON.stringify(input) });
  const p = JSON.parse(out);
  return p.chunks || p;
}

// Every record of a table's canonical output, through the manifests only.
function canonicalRecords(out, table) {
  const base = path.join(out, TENANT, 'canonical', CANONICAL[table], 'backfill');
  const recs = [];
  for (const chunk of fs.existsSync(base) ? fs.readdirSync(base) : []) {
    const man = JSON.parse(fs.readFileSync(path.join(base, chunk, '_manifest.json')));
    const listed = new Set(man.parts.map((p) => p.name));
    for (const f of fs.readdirSync(path.join(base, chunk))) {
      if (f.endsWith('.jsonl.gz')) assert.ok(listed.has(f), `${chunk}/${f} is not in the manifest (stale part left)`);
    }
    for (const p of man.parts.filter((x) => x.kind !== 'rejects')) {
      const text = zlib.gunzipSync(fs.readFileSync(path.join(base, chunk, p.name))).toString();
      for (const line of text.split('\n').filter(Boolean)) recs.push(JSON.parse(line));
    }
  }
  return recs;
}

async function expectedCount(sys, table) {
  const e = await sys.expected(table, WINDOW.start_date, WINDOW.end_date);
  return e.count;
}

const scenarios = {
  async happyPath() {
    const sys = await system('happy');
    try {
      sys.worker();
      sys.worker();
      const arn = await sys.start({ tables: TABLES });
      const d = await sys.wait(arn);
      assert.strictEqual(d.status, 'SUCCEEDED', `${d.error} ${d.cause}`);
      const s = JSON.parse(d.output);
      const chunks = planOf({ tenant_id: TENANT, service: 'connectwise', tables: TABLES, ...WINDOW });
      assert.strictEqual(s.chunks_total, chunks.length);
      assert.strictEqual(s.chunks_succeeded, chunks.length);
      for (const t of s.tables) {
        // Per window, what the source holds; summed over the plan's chunks.
        let want = 0;
        for (const c of chunks.filter((x) => x.table_name === t.table_name)) {
          want += (await sys.expected(t.table_name, c.start_date, c.end_date)).count;
        }
        assert.strictEqual(t.records_ingested, want, `${t.table_name}: ingested`);
        assert.strictEqual(t.records_transformed + t.records_rejected, want, `${t.table_name}: transformed + rejected`);
        assert.strictEqual(want, await expectedCount(sys, t.table_name));
        const ids = canonicalRecords(sys.out, t.table_name).map((r) => r.id);
        assert.strictEqual(new Set(ids).size, ids.length, 'no duplicates');
        assert.strictEqual(ids.length, t.records_transformed);
      }
      assert.strictEqual(s.tables.length, 8, 'all eight tables ran');
      assert.strictEqual(NEW_TABLES.length, 4);
      const newRejected = s.tables.filter((t) => NEW_TABLES.includes(t.table_name))
        .reduce((a, t) => a + t.records_rejected, 0);
      assert.ok(newRejected > 0, 'records of the new tables without a required field were rejected');
      for (const t of NEW_TABLES) {
        const recs = canonicalRecords(sys.out, t);
        assert.ok(recs.length > 0, `${t}: canonical records`);
        for (const r of recs) {
          assert.strictEqual(r.source_table, t);
          assert.strictEqual(r.canonical_table, CANONICAL[t]);
          assert.strictEqual(typeof r.record_hash, 'string');
        }
      }
      const meta = path.join(sys.out, TENANT, 'backfill_metadata', 'connectwise', 'run1.json');
      assert.strictEqual(JSON.parse(fs.readFileSync(meta)).chunks_succeeded, chunks.length, 'metadata written by the state machine');
    } finally { sys.stop(); }
  },

  async transientFaultsAbsorbed() {
    const sys = await system('transient');
    try {
      await sys.faults([
        { path: 'service/tickets', status: 429, headers: { 'Retry-After': '0' }, times: 3 },
        { path: 'time/entries', status: 500, times: 4 },
        { path: 'company/companies', status: 503, times: 2 },
      ]);
      sys.worker();
      const arn = await sys.start({ tables: TABLES });
      const d = await sys.wait(arn);
      assert.strictEqual(d.status, 'SUCCEEDED', `${d.error} ${d.cause}`);
      const calls = await json(`${sys.cw.url}/__admin/calls`);
      const faulted = calls.filter((c) => c.fault || [429, 500, 503].includes(c.status));
      assert.ok(faulted.length >= 9 || calls.length > 12, 'the faults were served');
      const s = JSON.parse(d.output);
      for (const t of s.tables) assert.strictEqual(t.records_ingested, await expectedCount(sys, t.table_name));
    } finally { sys.stop(); }
  },

  async killedWorkerChunkCompletedElsewhere() {
    const sys = await system('kill');
    try {
      // Slow pages, so the first worker is surely mid-chunk when killed.
      await sys.faults([{ path: 'service/tickets', delayMs: 2500, times: 100 }]);
      const a = sys.worker({ BACKFILL_CONCURRENCY: '1' });
      const arn = await sys.start({ table_name: 'service/tickets' });
      let started = false;
      for (let i = 0; i < 100 && !started; i++) {
        started = (await sys.history(arn)).some((e) => e.type === 'ActivityStarted');
        if (!started) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(started, 'worker A took a chunk');
      await new Promise((r) => setTimeout(r, 500));
      a.kill('SIGKILL');
      await a.exited;
      sys.worker({ BACKFILL_CONCURRENCY: '2' });
      const d = await sys.wait(arn);
      assert.strictEqual(d.status, 'SUCCEEDED', `${d.error} ${d.cause}`);
      const ev = await sys.history(arn);
      assert.ok(ev.some((e) => e.type === 'ActivityTimedOut' && e.details.error === 'States.HeartbeatTimeout'),
        'the dead worker was noticed by its heartbeat timeout');
      const recs = canonicalRecords(sys.out, 'service/tickets');
      const ids = recs.map((r) => r.id);
      assert.strictEqual(new Set(ids).size, ids.length, 'no duplicate records');
      assert.strictEqual(ids.length + JSON.parse(d.output).records_rejected, await expectedCount(sys, 'service/tickets'));
    } finally { sys.stop(); }
  },

  async permanentFailureThenRedrive() {
    const sys = await system('redrive');
    try {
      // The tenant's API member lacks the Company module (ConnectWise
      // security roles are per module): contacts answer 401 until fixed.
      await sys.faults([{ path: 'company/contacts', status: 401, body: '{"code":"Unauthorized"}', times: 1000 }]);
      sys.worker();
      const arn = await sys.start({ tables: TABLES });
      const d = await sys.wait(arn);
      assert.strictEqual(d.status, 'FAILED');
      const meta = JSON.parse(fs.readFileSync(path.join(sys.out, TENANT, 'backfill_metadata', 'connectwise', 'run1.json')));
      const contacts = planOf({ tenant_id: TENANT, service: 'connectwise', table_name: 'company/contacts', ...WINDOW });
      assert.strictEqual(meta.chunks_failed, contacts.length);
      assert.ok(meta.failed_chunks.every((c) => c.table_name === 'company/contacts' && c.error === 'Backfill.SourceAuthFailed'));
      const before = (await sys.history(arn)).length;
      await sys.clearFaults(); // the role is fixed
      await h.call(sys.runner.url, 'RedriveExecution', { executionArn: arn });
      const d2 = await sys.wait(arn);
      assert.strictEqual(d2.status, 'SUCCEEDED', `${d2.error} ${d2.cause}`);
      assert.strictEqual(d2.redriveCount, 1);
      const rerun = (await sys.history(arn)).slice(before).filter((e) => e.type === 'ActivityScheduled');
      assert.strictEqual(rerun.length, contacts.length, 'only the failed chunks ran again');
      assert.ok(rerun.every((e) => JSON.parse(e.details.input).table_name === 'company/contacts'));
      const s = JSON.parse(d2.output);
      const all = planOf({ tenant_id: TENANT, service: 'connectwise', tables: TABLES, ...WINDOW });
      assert.strictEqual(s.chunks_total, all.length, 'the final summary covers all chunks');
      assert.strictEqual(s.chunks_succeeded, all.length);
      for (const t of s.tables) assert.strictEqual(t.records_ingested, await expectedCount(sys, t.table_name));
    } finally { sys.stop(); }
  },

  async sigtermMidRunRetriedPromptly() {
    const sys = await system('sigterm');
    try {
      await sys.faults([{ path: 'service/tickets', delayMs: 2000, times: 2 }]);
      const a = sys.worker({ BACKFILL_CONCURRENCY: '2', BACKFILL_DRAIN_SECONDS: '1' });
      const arn = await sys.start({ table_name: 'service/tickets' });
      let started = false;
      for (let i = 0; i < 100 && !started; i++) {
        started = (await sys.history(arn)).some((e) => e.type === 'ActivityStarted');
        if (!started) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(started);
      a.kill('SIGTERM');
      const exit = await a.exited;
      assert.strictEqual(exit.code, 0, 'clean exit after the drain');
      sys.worker();
      const d = await sys.wait(arn);
      assert.strictEqual(d.status, 'SUCCEEDED', `${d.error} ${d.cause}`);
      const ev = await sys.history(arn);
      assert.ok(ev.some((e) => e.type === 'ActivityFailed' && e.details.error === 'Backfill.WorkerShutdown'),
        'the drained task was failed with WorkerShutdown');
      assert.ok(!ev.some((e) => e.type === 'ActivityTimedOut'), 'retried at once, not after a heartbeat timeout');
      const ids = canonicalRecords(sys.out, 'service/tickets').map((r) => r.id);
      assert.strictEqual(new Set(ids).size, ids.length);
      assert.strictEqual(ids.length + JSON.parse(d.output).records_rejected, await expectedCount(sys, 'service/tickets'));
    } finally { sys.stop(); }
  },

  async invalidInputFailsBeforeAnyTask() {
    const sys = await system('invalid');
    try {
      sys.worker();
      for (const [field, input] of [['chunk_size_days', { chunk_size_days: 0 }], ['end_date', { end_date: '2025-02-01T00:00:00Z' }],
                                    ['table_name', { table_name: 'service/nope' }]]) {
        const arn = await sys.start(input, `bad-${field}`);
        const d = await sys.wait(arn);
        assert.strictEqual(d.status, 'FAILED');
        assert.strictEqual(d.error, 'Backfill.InvalidInput');
        assert.ok(d.cause.includes(field), `cause names ${field}: ${d.cause}`);
        assert.ok(!(await sys.history(arn)).some((e) => e.type === 'ActivityScheduled'), 'no task scheduled');
      }
    } finally { sys.stop(); }
  },
};

// Names on the command line pick scenarios (when the file is run directly).
const only = process.argv.slice(2);
for (const [name, fn] of Object.entries(scenarios)) {
  if (only.length && !only.includes(name)) continue;
  test(name, fn);
}
