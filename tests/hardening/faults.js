#!/usr/bin/env node
// faults.js -- fault-injection rows of tests/README.md "Fault injection" that
// no other suite covers.
//
//   sfnBadPollAnswers  GetActivityTask answers 200 with truncated JSON, then
//                      with a 3 MiB body (over the response cap): the worker
//                      logs a clear error, keeps polling, and the real task
//                      queued behind them is answered exactly once.
//   fullDiskTmpfs      the file sink's directory is a 32 KiB tmpfs (needs
//                      mount; as root a failed mount fails, a non-root run
//                      says SKIP and logs it to $BF_SKIP_LOG): the
//                      chunk fails with a Backfill.* error naming the sink,
//                      exit 1, and no chunk is visible as complete (no
//                      manifest); after space is freed the same input
//                      succeeds (idempotent re-run).
//   fileSizeLimit      the same write failure without privileges: the
//                      worker runs with RLIMIT_FSIZE = 32 KiB (SIGXFSZ
//                      ignored), so writes past it fail with EFBIG.
// Run: node tests/hardening/faults.js [name ...]. A node:test file, one test
// per scenario with its checks as subtests; a skipped scenario is reported
// as skipped.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { TOP, BIN, KEYS, startFake } = require('../e2e/harness');
const { tally, adminJson: admin, passThrough, walk } = require('./lib');

const ARN = 'arn:aws:states:us-east-1:123456789012:activity:backfill-faults';
const INPUT = { tenant_id: 'acme', service: 'connectwise', table_name: 'service/tickets',
                start_date: '2025-01-01', end_date: '2025-01-11', backfill_id: 'faults-1' };
const { check, run } = tally();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {
  async sfnBadPollAnswers() {
    const sfn = await startFake(path.join(TOP, 'tests/support/fake/server.js'),
                                ['--services', 'sfn', '--max-seconds', '120']);
    await admin(sfn.url, 'POST', 'svc/sfn/config', { longPollMs: 500 });
    const big = `{"taskToken":"tok-big","input":"${'x'.repeat(3 * 1024 * 1024)}"}`;
    await admin(sfn.url, 'POST', 'faults', { faults: [
      { service: 'sfn', op: 'GetActivityTask', times: 2, status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: '{"taskToken":"tok-truncated","input":"{\\"tenant_id\\":\\"ac' },
      { service: 'sfn', op: 'GetActivityTask', times: 1, status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' }, body: big },
    ] });
    await admin(sfn.url, 'POST', 'svc/sfn/tasks', { input: JSON.stringify(INPUT), count: 1 });
    const logFile = path.join(os.tmpdir(), `bf-faults-${process.pid}.log`);
    const log = fs.openSync(logFile, 'w');
    const w = spawn(BIN, ['worker', '--activity-arn', ARN, '--handler', 'noop',
                          '--concurrency', '1', '--log-level', 'debug'], {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...KEYS, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_SFN: sfn.url,
             AWS_EC2_METADATA_DISABLED: 'true' },
    });
    let exited = null;
    w.on('exit', (code, sig) => { exited = code ?? sig; });
    let tasks = [];
    for (let i = 0; i < 300 && exited === null; i++) {
      tasks = await admin(sfn.url, 'GET', 'svc/sfn/tasks');
      if (tasks.length && tasks.every((t) => t.answers && t.answers.length > 0)) break;
      await sleep(100);
    }
    check('sfn bad polls: the worker survived them', exited === null, `exited ${exited}`);
    const t = tasks[0] || {};
    check('sfn bad polls: the real task was answered exactly once',
          (t.answers || []).length === 1 && t.state === 'succeeded',
          JSON.stringify({ state: t.state, answers: t.answers }).slice(0, 300));
    w.kill('SIGTERM');
    for (let i = 0; i < 100 && exited === null; i++) await sleep(100);
    check('sfn bad polls: SIGTERM then exits', exited !== null, 'still running');
    if (exited === null) w.kill('SIGKILL');
    fs.closeSync(log);
    const text = fs.readFileSync(logFile, 'utf8');
    const lines = text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const pollErrs = lines.filter((l) => /poll/.test(l.event) && l.level !== 'info' && l.level !== 'debug');
    check('sfn bad polls: each bad answer logged as a poll error (>= 3)', pollErrs.length >= 3,
          `${pollErrs.length} poll error lines: ${text.slice(0, 600)}`);
    check('sfn bad polls: no answer sent for the bogus tokens',
          !(await admin(sfn.url, 'GET', 'calls?service=sfn')).some((c) =>
            /SendTask/.test(c.op) && /tok-(truncated|big)/.test(String(c.body))),
          'a Send* call carried a bogus token');
    fs.unlinkSync(logFile);
    sfn.proc.stdin.end();
  },

  async fullDiskTmpfs(t) {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-fulldisk-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32k', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      fs.rmdirSync(mnt);
      // As root (how `make check` runs) a tmpfs that will not mount is a
      // failure; only a non-root run may skip, and says so in the list
      // `make check` prints last.
      if (process.getuid() === 0) throw new Error(`mount -t tmpfs failed as root: ${(m.stderr || '').trim()}`);
      t.skip('mounting a tmpfs needs root; fileSizeLimit covers the write failure');
      if (process.env.BF_SKIP_LOG) fs.appendFileSync(process.env.BF_SKIP_LOG, 'check-faults: fullDiskTmpfs (needs root to mount a tmpfs)\n');
      return;
    }
    try {
      await sinkFailureScenario('full disk (tmpfs 32 KiB)', mnt, null, async () => {
        spawnSync('mount', ['-o', 'remount,size=64m', mnt]);
      });
    } finally {
      spawnSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    }
  },

  async fileSizeLimit() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-fsize-'));
    try {
      await sinkFailureScenario('file size limit (RLIMIT_FSIZE 32 KiB)', dir, 32, null);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

let cw = null;
async function connectwise() {
  if (cw) return cw;
  cw = await startFake(path.join(TOP, 'tests/support/fake/connectwise.js'),
    ['--seed', '7', '--start', '2025-01-01T00:00:00Z', '--days', '10', '--tickets', '3000',
     '--max-seconds', '300']);
  return cw;
}

// Run one chunk into `dir` (under `ulimitKb` when set); expect a clean
// failure, nothing visible as complete; then, after `fix`, a success.
async function sinkFailureScenario(label, dir, ulimitKb, fix) {
  const src = await connectwise();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-faults-cfg-'));
  fs.writeFileSync(path.join(work, 'tenants.json'), JSON.stringify([
    { tenant_id: 'acme', service: 'connectwise', enabled: true, secret_name: 'acme/dev' }]));
  fs.writeFileSync(path.join(work, 'secrets.json'), JSON.stringify({ 'acme/dev': { connectwise: {
    api_base_url: src.url, company_id: 'acme', public_key: 'pubkey', private_key: 'privkey',
    client_id: 'client-guid-1' } } }));
  const env = { PATH: process.env.PATH, HOME: os.tmpdir(), AWS_EC2_METADATA_DISABLED: 'true',
                BACKFILL_TENANTS: `file://${work}/tenants.json`,
                BACKFILL_SECRETS: `file://${work}/secrets.json`,
                BACKFILL_OUTPUT: `file://${dir}/lake`, BACKFILL_SOURCE_RPS: '100',
                ...passThrough() };
  const run = () => {
    const cmd = ulimitKb
      ? ['bash', ['-c', `trap '' XFSZ; ulimit -f ${ulimitKb}; exec "$0" run-chunk --input -`, BIN]]
      : [BIN, ['run-chunk', '--input', '-']];
    return spawnSync(cmd[0], cmd[1], { input: JSON.stringify(INPUT), encoding: 'utf8', env,
                                       timeout: 120000 });
  };
  let r = run();
  let out = {};
  try { out = JSON.parse(r.stdout); } catch (e) { /* checked below */ }
  check(`${label}: the chunk fails (exit 1, no crash)`, r.status === 1 && r.signal === null,
        `status ${r.status} signal ${r.signal}: ${r.stdout.slice(0, 200)} ${r.stderr.slice(-300)}`);
  check(`${label}: a clear error name`, /^Backfill\.Sink(Unavailable|AccessDenied)$/.test(out.error || ''),
        `error ${out.error}, cause ${String(out.cause).slice(0, 200)}`);
  console.log(`     (${out.error}: ${String(out.cause).slice(0, 160)})`);
  const files = walk(dir);
  const manifests = files.filter((f) => /manifest/.test(path.basename(f)));
  check(`${label}: nothing visible as complete (no manifest among ${files.length} files)`,
        manifests.length === 0, manifests.join(', '));
  if (!fix && !ulimitKb) return;
  if (fix) await fix();
  else ulimitKb = null;
  r = run();
  check(`${label}: with room again the same chunk succeeds`,
        r.status === 0 && r.stdout.includes('"SUCCEEDED"'),
        `status ${r.status}: ${r.stdout.slice(0, 200)} ${r.stderr.slice(-300)}`);
  const total = walk(dir).reduce((n, f) => n + fs.statSync(f).size, 0);
  check(`${label}: and its manifests exist (${total} bytes written)`,
        walk(dir).some((f) => /manifest/.test(path.basename(f))) && total > 32 * 1024,
        walk(dir).join(', '));
  fs.rmSync(work, { recursive: true, force: true });
}

// One test per scenario; names on the command line pick scenarios (when
// the file is run directly).
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(scenarios);
for (const n of names) {
  run(n, async (t) => {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} not built`);
    if (!scenarios[n]) throw new Error(`unknown scenario ${n}`);
    await scenarios[n](t);
  });
}
