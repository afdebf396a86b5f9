// harness.js -- start and stop the whole system locally: the local Step
// Functions runner, the fake ConnectWise, worker processes. Used by
// `make demo` (demo.js) and the end-to-end tests (e2e.test.js).
//
// Everything listens on 127.0.0.1; every child is started with its stdin as
// a pipe that we hold (the fakes exit when it closes) and is killed by
// stopAll(), which also runs on exit and on SIGINT/SIGTERM.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { call, waitForExecution } = require('../sfn-local/client');

const TOP = path.resolve(__dirname, '..', '..');
const BIN = process.env.BF_BIN || path.join(TOP, 'build', 'backfill-worker');
const ACTIVITY = 'avesa-backfill-local';
const KEYS = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

const children = new Set();

function stopAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch (e) { /* already gone */ }
  }
  children.clear();
}
process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopAll(); process.exit(130); });

// Start a Node fake that prints {"port":N}; resolves { proc, port, url }.
function startFake(script, args = [], opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, ...args, '--watch-stdin'],
                    { stdio: ['pipe', 'pipe', opts.stderr || 'inherit'], cwd: opts.cwd || TOP });
    children.add(p);
    let buf = '';
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      p.stdout.off('data', onData);
      const port = JSON.parse(buf.slice(0, nl)).port;
      resolve({ proc: p, port, url: `http://127.0.0.1:${port}` });
    };
    p.stdout.on('data', onData);
    p.on('exit', (code) => { children.delete(p); reject(new Error(`${script} exited ${code}`)); });
    p.on('error', reject);
  });
}

function startRunner({ timeScale = 1, retryScale = 0, s3Dir, pollSeconds = 60, log } = {}) {
  const args = ['--time-scale', String(timeScale), '--retry-scale', String(retryScale || timeScale), '--poll-seconds', String(pollSeconds), '--max-seconds', '1800'];
  if (s3Dir) args.push('--s3-bucket', `local=${s3Dir}`);
  if (log) args.push('--log', log);
  return startFake(path.join(TOP, 'tests/sfn-local/server.js'), args);
}

// Start one worker process; env is merged over the base environment.
function startWorker(env, { logFile, name } = {}) {
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const p = spawn(BIN, ['worker'], {
    cwd: env.BF_CWD || TOP,
    env: { PATH: process.env.PATH, HOME: process.env.HOME || '/root', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true',
           ...KEYS, BACKFILL_WORKER_NAME: name || `worker-${children.size}`, ...env },
    stdio: ['ignore', out, out],
  });
  children.add(p);
  p.exited = new Promise((resolve) => p.on('exit', (code, sig) => { children.delete(p); resolve({ code, sig }); }));
  return p;
}

async function deployMachine(runnerUrl, subst, name = 'backfill', file = 'backfill.asl.json') {
  const act = await call(runnerUrl, 'CreateActivity', { name: ACTIVITY });
  let def = fs.readFileSync(path.join(TOP, 'statemachine', file), 'utf8');
  const pairs = { BackfillActivityArn: act.activityArn, ...subst };
  def = def.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, k) => {
    if (!(k in pairs)) throw new Error(`no value for definition substitution \${${k}}`);
    return pairs[k];
  });
  const sm = await call(runnerUrl, 'CreateStateMachine', { name, definition: def,
    roleArn: 'arn:aws:iam::123456789012:role/local', type: 'STANDARD' });
  return { activityArn: act.activityArn, stateMachineArn: sm.stateMachineArn };
}

async function startExecution(runnerUrl, smArn, name, input) {
  const r = await call(runnerUrl, 'StartExecution', { stateMachineArn: smArn, name, input: JSON.stringify(input) });
  return r.executionArn;
}

module.exports = { TOP, BIN, KEYS, ACTIVITY, startFake, startRunner, startWorker, deployMachine,
                   startExecution, waitForExecution, call, stopAll };
