// runner.test.js -- tests of the local Step Functions runner itself, with a
// scripted worker written here in JS (the C worker is tested against it in
// tests/e2e). Run: node tests/sfn-local/test/runner.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { call, waitForExecution } = require('../client');

const ARN = 'arn:aws:states:us-east-1:123456789012:activity:work';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sfn-local-test-'));

function startRunner(extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(__dirname, '..', 'server.js'), '--time-scale', '20',
      '--poll-seconds', '2', '--s3-root', tmp, '--max-seconds', '300', '--watch-stdin', ...extra],
      { stdio: ['pipe', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ proc: p, url: `http://127.0.0.1:${JSON.parse(d).port}` }));
    p.on('error', reject);
  });
}

// A scripted worker: behaviour(input, token, n) returns
// {success: obj} | {failure: [error, cause]} | {hold: ms} | 'ignore'.
function worker(url, behaviour, { stopAfter = Infinity } = {}) {
  const w = { stopped: false, seen: [], active: 0, maxActive: 0 };
  (async () => {
    while (!w.stopped && w.seen.length < stopAfter) {
      let t;
      try { t = await call(url, 'GetActivityTask', { activityArn: ARN, workerName: 'js' }); } catch (e) { break; }
      if (!t.taskToken) continue;
      const input = JSON.parse(t.input);
      w.seen.push(input);
      w.active++;
      w.maxActive = Math.max(w.maxActive, w.active);
      (async () => {
        const b = await behaviour(input, t.taskToken, w.seen.length);
        if (b.hold) await new Promise((r) => setTimeout(r, b.hold));
        try {
          if (b.success !== undefined) await call(url, 'SendTaskSuccess', { taskToken: t.taskToken, output: JSON.stringify(b.success) });
          else if (b.failure) await call(url, 'SendTaskFailure', { taskToken: t.taskToken, error: b.failure[0], cause: b.failure[1] });
        } catch (e) { w.lastSendError = e.type; }
        w.active--;
      })();
    }
  })();
  return w;
}

const J = (o) => JSON.stringify(o);
const machine = (states, startAt, extra = {}) => J({ QueryLanguage: 'JSONata', StartAt: startAt, States: states, ...extra });
let smCounter = 0;
async function run(url, definition, input) {
  const name = `sm${++smCounter}`;
  const sm = await call(url, 'CreateStateMachine', { name, definition, roleArn: 'arn:aws:iam::123456789012:role/x' });
  const ex = await call(url, 'StartExecution', { stateMachineArn: sm.stateMachineArn, name: 'e1', input: J(input) });
  return ex.executionArn;
}

const taskState = (extra = {}) => ({ Type: 'Task', Resource: ARN, Arguments: '{% $states.input %}', End: true, ...extra });

const tests = {
  async refusesUnsupportedFeatures(url) {
    await assert.rejects(call(url, 'CreateStateMachine', { name: 'bad', definition: machine({ P: { Type: 'Parallel', Branches: [], End: true } }, 'P') }),
      (e) => e.type === 'InvalidDefinition' && /Parallel/.test(e.message));
    await assert.rejects(call(url, 'CreateStateMachine', { name: 'bad2', definition: J({ StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }) }),
      (e) => e.type === 'InvalidDefinition' && /JSONata/.test(e.message));
    await assert.rejects(call(url, 'CreateStateMachine', { name: 'bad3', definition: machine({ A: { Type: 'Wait', Seconds: 1, End: true } }, 'A') }),
      (e) => /Wait/.test(e.message));
  },

  async passAssignOutput(url) {
    const arn = await run(url, machine({
      A: { Type: 'Pass', Assign: { x: '{% $states.input.n * 2 %}' }, Output: { v: '{% $states.input.n %}' }, Next: 'B' },
      B: { Type: 'Pass', Output: '{% {"sum": $x + $states.input.v, "name": $states.context.Execution.Name} %}', End: true },
    }, 'A'), { n: 5 });
    const d = await waitForExecution(url, arn);
    assert.strictEqual(d.status, 'SUCCEEDED');
    assert.deepStrictEqual(JSON.parse(d.output), { sum: 15, name: 'e1' });
  },

  async activityRetryThenSuccess(url) {
    const attempts = [];
    const w = worker(url, (input) => {
      attempts.push(input.attempt);
      return input.attempt < 2 ? { failure: ['Backfill.SourceUnavailable', '{}'] } : { success: { ok: input.attempt } };
    });
    const arn = await run(url, machine({
      T: taskState({ Arguments: { attempt: '{% $states.context.State.RetryCount %}' },
        Retry: [{ ErrorEquals: ['Backfill.SourceUnavailable'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }] }),
    }, 'T'), {});
    const d = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d.status, 'SUCCEEDED');
    assert.deepStrictEqual(attempts, [0, 1, 2]);
    assert.deepStrictEqual(JSON.parse(d.output), { ok: 2 });
  },

  async catchRoutesError(url) {
    const w = worker(url, () => ({ failure: ['Backfill.InvalidInput', '{"message":"tenant_id"}'] }));
    const arn = await run(url, machine({
      T: taskState({ End: undefined, Next: 'Ok', Retry: [{ ErrorEquals: ['Backfill.SourceUnavailable'] }],
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Ok', Output: '{% {"err": $states.errorOutput.Error} %}' }] }),
      Ok: { Type: 'Succeed' },
    }, 'T'), {});
    const d = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d.status, 'SUCCEEDED');
    assert.deepStrictEqual(JSON.parse(d.output), { err: 'Backfill.InvalidInput' });
  },

  async heartbeatTimeoutIsRetried(url) {
    // First taker never heartbeats (a dead worker); the retry is completed.
    let n = 0;
    const w = worker(url, () => (++n === 1 ? 'ignore' : { success: { n } }));
    const arn = await run(url, machine({
      T: taskState({ HeartbeatSeconds: 20, TimeoutSeconds: 600,
        Retry: [{ ErrorEquals: ['States.HeartbeatTimeout', 'States.Timeout'], IntervalSeconds: 1, MaxAttempts: 2 }] }),
    }, 'T'), {});
    const d = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d.status, 'SUCCEEDED');
    const h = await call(url, 'GetExecutionHistory', { executionArn: arn });
    assert.ok(h.events.some((e) => e.type === 'ActivityTimedOut' && e.details.error === 'States.HeartbeatTimeout'));
  },

  async heartbeatKeepsTaskAlive(url) {
    const w = worker(url, async (input, token) => {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 400));
        await call(url, 'SendTaskHeartbeat', { taskToken: token });
      }
      return { success: { alive: true } };
    });
    const arn = await run(url, machine({ T: taskState({ HeartbeatSeconds: 20 }) }, 'T'), {}); // 1 s scaled
    const d = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d.status, 'SUCCEEDED');
  },

  async mapConcurrencyAndOrder(url) {
    const w = worker(url, (input) => ({ success: { i: input.i }, hold: 150 }));
    const arn = await run(url, machine({
      M: { Type: 'Map', Items: '{% $states.input.items %}', MaxConcurrency: 2,
           ItemSelector: { i: '{% $states.context.Map.Item.Value %}', idx: '{% $states.context.Map.Item.Index %}' },
           ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'T', States: { T: taskState() } }, End: true },
    }, 'M'), { items: [10, 11, 12, 13, 14] });
    const d = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d.status, 'SUCCEEDED');
    assert.deepStrictEqual(JSON.parse(d.output).map((x) => x.i), [10, 11, 12, 13, 14]);
    assert.ok(w.maxActive <= 2, `max concurrency ${w.maxActive}`);
  },

  async mapFailureAbortsSiblingsAndRedriveRerunsOnlyFailed(url) {
    let fixed = false;
    const runs = [];
    const w = worker(url, async (input) => {
      runs.push(input.i);
      // Fail 2 only once 3 is in a worker's hands, whatever order the
      // tasks were handed out in (under load 2 can come first).
      for (let k = 0; input.i === 2 && !fixed && !runs.includes(3) && k < 100; k++) await new Promise((r) => setTimeout(r, 20));
      if (input.i === 2 && !fixed) return { failure: ['Backfill.SourceAuthFailed', '{}'] };
      if (input.i === 3 && !fixed) return { hold: 3000, success: { i: 3 } }; // in flight when 2 fails
      return { success: { i: input.i } };
    });
    const arn = await run(url, machine({
      M: { Type: 'Map', Items: '{% $states.input.items %}', MaxConcurrency: 4,
           ItemProcessor: { StartAt: 'T', States: { T: taskState({ Arguments: { i: '{% $states.input %}' } }) } }, End: true },
    }, 'M'), { items: [0, 1, 2, 3] });
    const d = await waitForExecution(url, arn);
    assert.strictEqual(d.status, 'FAILED');
    assert.strictEqual(d.error, 'Backfill.SourceAuthFailed');
    await new Promise((r) => setTimeout(r, 3200));
    assert.strictEqual(w.lastSendError, 'TaskTimedOut', 'the aborted sibling token must be closed');
    fixed = true;
    const before = runs.length;
    await call(url, 'RedriveExecution', { executionArn: arn });
    const d2 = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d2.status, 'SUCCEEDED');
    assert.strictEqual(d2.redriveCount, 1);
    assert.deepStrictEqual(runs.slice(before).sort(), [2, 3], 'only the failed and the aborted iteration run again');
    assert.deepStrictEqual(JSON.parse(d2.output).map((x) => x.i), [0, 1, 2, 3]);
  },

  async redriveOfALoopRunsLaterEntriesAnew(url) {
    // Sum -> Round2 (fails) ; redrive: Round2 succeeds -> Sum entered a
    // second time must run with the new data, not replay the first entry.
    let fixed = false;
    const w = worker(url, () => (fixed ? { success: { ok: true } } : { failure: ['Backfill.SourceAuthFailed', '{}'] }));
    const arn = await run(url, machine({
      Start: { Type: 'Pass', Output: { round: 1 }, Next: 'Sum' },
      Sum: { Type: 'Pass', Output: '{% {"round": $states.input.round, "seen": $states.input.round} %}', Next: 'Check' },
      Check: { Type: 'Choice', Choices: [{ Condition: '{% $states.input.round = 2 %}', Next: 'Done' }], Default: 'Round2' },
      Round2: { Type: 'Task', Resource: ARN, Arguments: {}, Output: { round: 2 }, Next: 'Sum' },
      Done: { Type: 'Succeed' },
    }, 'Start'), {});
    const d = await waitForExecution(url, arn);
    assert.strictEqual(d.status, 'FAILED');
    fixed = true;
    await call(url, 'RedriveExecution', { executionArn: arn });
    const d2 = await waitForExecution(url, arn, 20000);
    w.stopped = true;
    assert.strictEqual(d2.status, 'SUCCEEDED');
    assert.deepStrictEqual(JSON.parse(d2.output), { round: 2, seen: 2 });
  },

  async executionTimeoutWithoutWorkers(url) {
    const arn = await run(url, machine({ T: taskState() }, 'T', { TimeoutSeconds: 20 }), {}); // 1 s scaled
    const d = await waitForExecution(url, arn);
    assert.strictEqual(d.status, 'TIMED_OUT');
  },

  async s3PutObjectWritesLocally(url) {
    const arn = await run(url, machine({
      P: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:s3:putObject',
           Arguments: { Bucket: 'bkt', Key: '{% "t/backfill_metadata/" & $states.input.id & ".json" %}', Body: '{% $states.input %}' }, End: true },
    }, 'P'), { id: 'x1' });
    const d = await waitForExecution(url, arn);
    assert.strictEqual(d.status, 'SUCCEEDED');
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(tmp, 'bkt/t/backfill_metadata/x1.json'))), { id: 'x1' });
  },

  async distributedMapToleratesThenRedrivesOnlyFailedChildren(url) {
    // Items 0..5 as JSON Lines in the local bucket; item 4 fails until fixed.
    fs.mkdirSync(path.join(tmp, 'bkt/dm'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'bkt/dm/items.jsonl'), [0, 1, 2, 3, 4, 5].map((i) => J({ i })).join('\n') + '\n');
    let fixed = false;
    const runs = [];
    worker(url, (input) => {
      runs.push(input);
      if (input.i === 4 && !fixed) return { failure: ['Backfill.SourceAuthFailed', '{}'] };
      return { success: { i: input.i, redrive: input.rc } };
    });
    const dmap = (tolerated) => ({
      Type: 'Map', MaxConcurrency: 2, ToleratedFailurePercentage: tolerated, Label: 'Items',
      ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSONL' },
                    Arguments: { Bucket: 'bkt', Key: 'dm/items.jsonl' } },
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'T',
        States: { T: taskState({ Arguments: { i: '{% $states.input.i %}', rc: '{% $states.context.Execution.RedriveCount %}' } }) } },
      ResultWriter: { Resource: 'arn:aws:states:::s3:putObject', Arguments: { Bucket: 'bkt', Prefix: 'dm/out' } },
    });
    const readRun = (res) => {
      const m = JSON.parse(fs.readFileSync(path.join(tmp, 'bkt', res.ResultWriterDetails.Key)));
      const rows = (kind) => m.ResultFiles[kind].flatMap((f) => JSON.parse(fs.readFileSync(path.join(tmp, 'bkt', f.Key))));
      return { succeeded: rows('SUCCEEDED'), failed: rows('FAILED') };
    };
    // 1 failure in 6 is 16.7 %: tolerated at 20 %, not at 10 %.
    const a = await run(url, machine({ M: { ...dmap(20), End: true } }, 'M'), {});
    const da = await waitForExecution(url, a);
    assert.strictEqual(da.status, 'SUCCEEDED', `${da.error}`);
    const ra = readRun(JSON.parse(da.output));
    assert.strictEqual(ra.succeeded.length, 5);
    assert.strictEqual(ra.failed.length, 1);
    assert.strictEqual(JSON.parse(ra.failed[0].Input).i, 4);
    assert.strictEqual(ra.failed[0].Error, 'Backfill.SourceAuthFailed');
    const b = await run(url, machine({ M: { ...dmap(10), End: true } }, 'M'), {});
    const db = await waitForExecution(url, b);
    assert.strictEqual(db.status, 'FAILED');
    assert.strictEqual(db.error, 'States.ExceedToleratedFailureThreshold');
    // The failed Map Run's files are written too: what succeeded in it.
    const keyA = JSON.parse(da.output).ResultWriterDetails.Key;
    const runDir = fs.readdirSync(path.join(tmp, 'bkt/dm/out')).find((d) => !keyA.includes(d));
    const failedRun = readRun({ ResultWriterDetails: { Key: `dm/out/${runDir}/manifest.json` } });
    const before = new Set(failedRun.succeeded.map((r) => JSON.parse(r.Input).i));
    assert.ok(!before.has(4));
    // Redrive after the fix: only the unsuccessful children run, redriven.
    const done = runs.length;
    fixed = true;
    await call(url, 'RedriveExecution', { executionArn: b });
    const db2 = await waitForExecution(url, b);
    assert.strictEqual(db2.status, 'SUCCEEDED', `${db2.error} ${db2.cause}`);
    const again = runs.slice(done);
    for (const x of again) assert.ok(!before.has(x.i), `item ${x.i}, which succeeded, was not run again`);
    assert.strictEqual(new Set([...before, ...again.map((x) => x.i)]).size, 6, 'every item ran to success');
    assert.ok(again.some((x) => x.i === 4 && x.rc === 1), 'the failed child is redriven (its RedriveCount is 1)');
    const rb = readRun(JSON.parse(db2.output));
    assert.strictEqual(rb.succeeded.length, 6, 'the manifest after the redrive lists every child');
    assert.strictEqual(rb.failed.length, 0);
  },

  async stopExecutionClosesTokens(url) {
    let token;
    const w = worker(url, (input, t) => { token = t; return 'ignore'; }, { stopAfter: 1 });
    const arn = await run(url, machine({ T: taskState() }, 'T'), {});
    while (!token) await new Promise((r) => setTimeout(r, 20));
    await call(url, 'StopExecution', { executionArn: arn, cause: 'operator' });
    const d = await waitForExecution(url, arn);
    w.stopped = true;
    assert.strictEqual(d.status, 'ABORTED');
    await assert.rejects(call(url, 'SendTaskHeartbeat', { taskToken: token }), (e) => e.type === 'TaskTimedOut');
  },

  async failStateAndChoice(url) {
    const arn = await run(url, machine({
      C: { Type: 'Choice', Choices: [{ Condition: '{% $states.input.ok %}', Next: 'Done' }], Default: 'F' },
      F: { Type: 'Fail', Error: 'Backfill.InvalidInput', Cause: '{% "field: " & $states.input.field %}' },
      Done: { Type: 'Succeed' },
    }, 'C'), { ok: false, field: 'tenant_id' });
    const d = await waitForExecution(url, arn);
    assert.strictEqual(d.status, 'FAILED');
    assert.strictEqual(d.error, 'Backfill.InvalidInput');
    assert.strictEqual(d.cause, 'field: tenant_id');
  },

  async rejectsBadSignature(url) {
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong';
    delete require.cache[require.resolve('../client')];
    const bad = require('../client');
    await assert.rejects(bad.call(url, 'ListExecutions', {}), (e) => e.status === 403 && e.type === 'SignatureDoesNotMatch');
    if (saved === undefined) delete process.env.AWS_SECRET_ACCESS_KEY; else process.env.AWS_SECRET_ACCESS_KEY = saved;
    delete require.cache[require.resolve('../client')];
  },
};

// One test per entry, one after another, each against a runner of its own.
for (const [name, fn] of Object.entries(tests)) {
  test(name, async () => {
    const r = await startRunner();
    try {
      await call(r.url, 'CreateActivity', { name: 'work' });
      await fn(r.url);
    } finally {
      r.proc.kill();
    }
  });
}

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
