// distributed.js -- the Distributed Map state for the local runner
// (DEVELOPMENT AND TESTING ONLY). Held to what the Step Functions developer
// guide documents for it:
//
// - ItemReader: arn:aws:states:::s3:getObject with ReaderConfig.InputType
//   JSONL (one item per non-empty line; a line that is not JSON fails the
//   state with States.ItemReaderFailed).
// - Each item runs as a child execution of its own (ProcessorConfig
//   ExecutionType STANDARD): its own $states.context.Execution (Name, Id,
//   Input, StartTime, RedriveCount), its own history, and no access to the
//   parent's variables.
// - MaxConcurrency bounds the running children. ToleratedFailurePercentage
//   and ToleratedFailureCount (default 0): when the failed children (FAILED
//   or TIMED_OUT) exceed either, the Map Run fails with
//   States.ExceedToleratedFailureThreshold, children still running are
//   aborted and no new one starts.
// - ResultWriter (arn:aws:states:::s3:putObject, Arguments Bucket and
//   Prefix): under {Prefix}/{map run id}/ a manifest.json and result files
//   SUCCEEDED_0.json, FAILED_0.json (FAILED, ABORTED, TIMED_OUT children) and
//   PENDING_0.json (never started), each a JSON array of child executions
//   ({ExecutionArn, Name, Input, Output | Error + Cause, Status, ...} with
//   Input and Output as JSON text). The state's result is
//   {MapRunArn, ResultWriterDetails: {Bucket, Key}}. The files are written
//   whether the Map Run succeeded or failed.
// - Redrive: a redriven parent that reaches a Map Run which failed redrives
//   that Map Run: children that SUCCEEDED are not run again, unsuccessful
//   children are redriven (their completed states are replayed, their
//   RedriveCount grows by one), never-started items start. The manifest
//   written after a redrive lists every child of the Map Run. (A Retry of
//   the Map state in the same run starts a new Map Run.)
//
// Runner-only figures for the limits table: every child's event count and
// the largest state payload are kept in `exec.stats`.
'use strict';
const crypto = require('crypto');
const { setMaxListeners } = require('events');

const S3_GET = 'arn:aws:states:::s3:getObject';
const S3_PUT_RESULTS = 'arn:aws:states:::s3:putObject';
const MAP_FIELDS = ['ItemReader', 'ItemSelector', 'ItemProcessor', 'MaxConcurrency',
                    'ToleratedFailurePercentage', 'ToleratedFailureCount', 'ResultWriter',
                    'Label', 'Retry', 'Catch'];

// Problems with a DISTRIBUTED Map definition, in validate()'s words.
function validateDistributed(st, where, problems) {
  for (const k of Object.keys(st)) {
    if (!['Type', 'Comment', 'Next', 'End', 'Output', 'Assign', 'QueryLanguage', ...MAP_FIELDS].includes(k))
      problems.push(`${where}: field ${k} is not implemented for a Distributed Map`);
  }
  const cfg = (st.ItemProcessor || {}).ProcessorConfig || {};
  if (cfg.ExecutionType !== 'STANDARD')
    problems.push(`${where}: Distributed Map ExecutionType ${cfg.ExecutionType} is not implemented (STANDARD only)`);
  const r = st.ItemReader;
  if (!r) problems.push(`${where}: a Distributed Map without ItemReader is not implemented`);
  else {
    if (r.Resource !== S3_GET) problems.push(`${where}: ItemReader resource ${r.Resource} is not implemented (${S3_GET} only)`);
    if (((r.ReaderConfig || {}).InputType) !== 'JSONL')
      problems.push(`${where}: ItemReader InputType ${(r.ReaderConfig || {}).InputType} is not implemented (JSONL only)`);
    for (const k of Object.keys(r)) if (!['Resource', 'ReaderConfig', 'Arguments'].includes(k))
      problems.push(`${where}: ItemReader field ${k} is not implemented`);
    for (const k of Object.keys(r.ReaderConfig || {})) if (k !== 'InputType')
      problems.push(`${where}: ReaderConfig field ${k} is not implemented`);
  }
  const w = st.ResultWriter;
  if (w) {
    if (w.Resource !== S3_PUT_RESULTS) problems.push(`${where}: ResultWriter resource ${w.Resource} is not implemented (${S3_PUT_RESULTS} only)`);
    for (const k of Object.keys(w)) if (!['Resource', 'Arguments'].includes(k))
      problems.push(`${where}: ResultWriter field ${k} is not implemented`);
  }
}

function parseJsonl(text, key, StatesError) {
  const items = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    try { items.push(JSON.parse(lines[i])); } catch (e) {
      throw new StatesError('States.ItemReaderFailed', `${key} line ${i + 1} is not JSON`);
    }
  }
  return items;
}

const FAILED_STATES = ['FAILED', 'TIMED_OUT'];

function childEntry(run, c) {
  const e = {
    ExecutionArn: c.arn, Name: c.name, StateMachineArn: run.childSmArn, Status: c.status,
    Input: JSON.stringify(c.input), InputDetails: { Included: true },
    RedriveCount: c.redriveCount,
    RedriveStatus: c.status === 'SUCCEEDED' ? 'NOT_REDRIVABLE' : 'REDRIVABLE',
  };
  if (c.startDate) e.StartDate = new Date(c.startDate).toISOString();
  if (c.stopDate) e.StopDate = new Date(c.stopDate).toISOString();
  if (c.status === 'SUCCEEDED') {
    e.Output = JSON.stringify(c.output === undefined ? null : c.output);
    e.OutputDetails = { Included: true };
  } else if (c.status !== 'PENDING') {
    e.Error = c.error;
    e.Cause = c.cause;
  }
  return e;
}

// Write the manifest and the result files; the state's result.
function writeResults(exec, run, writer) {
  const dir = `${String(writer.Prefix || '').replace(/\/+$/, '')}/${run.id}`.replace(/^\//, '');
  const groups = { SUCCEEDED: [], FAILED: [], PENDING: [] };
  for (const c of run.children) {
    const g = c.status === 'SUCCEEDED' ? 'SUCCEEDED' : c.status === 'PENDING' ? 'PENDING' : 'FAILED';
    groups[g].push(childEntry(run, c));
  }
  const files = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const [g, list] of Object.entries(groups)) {
    if (!list.length) continue;
    const key = `${dir}/${g}_0.json`;
    const body = JSON.stringify(list);
    exec.hooks.putObject(writer.Bucket, key, body);
    files[g].push({ Key: key, Size: Buffer.byteLength(body) });
  }
  const manifestKey = `${dir}/manifest.json`;
  exec.hooks.putObject(writer.Bucket, manifestKey, JSON.stringify({
    DestinationBucket: writer.Bucket, MapRunArn: run.arn, ResultFiles: files }));
  return { MapRunArn: run.arn, ResultWriterDetails: { Bucket: writer.Bucket, Key: manifestKey } };
}

// The Map Run record for this entry of the state: reused by a redrive,
// new on the first run and on a Retry of the state.
function mapRunFor(exec, st, name, key, items) {
  const memoKey = `${key}:maprun`;
  const old = exec.memo.get(memoKey);
  if (old && old.owner !== exec && old.status !== 'SUCCEEDED') {
    old.owner = exec;
    old.redriveCount += 1;
    for (const c of old.children) {
      if (c.status === 'SUCCEEDED' || c.status === 'PENDING') continue;
      c.status = 'PENDING';
      c.redriveCount += 1;
      c.redriven = true;
    }
    exec.hooks.event('MapRunRedriven', { name, redriveCount: old.redriveCount });
    return old;
  }
  const id = crypto.randomUUID();
  const smName = exec.context.StateMachine.Name;
  const label = st.Label || name;
  const run = {
    id, owner: exec, status: 'RUNNING', redriveCount: 0,
    arn: `arn:aws:states:us-east-1:123456789012:mapRun:${smName}/${label}:${id}`,
    childSmArn: `${exec.context.StateMachine.Id}/${label}`,
    children: items.map((item, i) => ({
      index: i, item, name: `${id.slice(0, 8)}-${i}`, status: 'PENDING', redriveCount: 0,
      memo: new Map(), history: [],
    })),
  };
  for (const c of run.children) c.arn = `arn:aws:states:us-east-1:123456789012:execution:${smName}/${label}:${c.name}`;
  exec.memo.set(memoKey, run);
  return run;
}

async function runChild(exec, run, c, proc, input, signal) {
  const { Execution, StatesError } = require('./interpreter');
  c.input = input;
  c.status = 'RUNNING';
  if (!c.startDate) c.startDate = Date.now();
  c.stopDate = undefined;
  const context = {
    Execution: { Id: c.arn, Name: c.name, Input: input, StartTime: new Date(c.startDate).toISOString(),
                 RoleArn: exec.context.Execution.RoleArn || '', RedriveCount: c.redriveCount },
    StateMachine: { Id: run.childSmArn, Name: run.childSmArn.split(':').pop() },
  };
  const hooks = { ...exec.hooks, event: (type, d) => { c.history.push({ type, d }); exec.stats.childEvents += 1; } };
  if (exec.hooks.childHooks) Object.assign(hooks, exec.hooks.childHooks(c));
  const child = new Execution({
    def: { QueryLanguage: 'JSONata', StartAt: proc.StartAt, States: proc.States }, input, context, hooks,
    timeScale: exec.scale, retryScale: exec.retryScale, memo: c.memo, stats: exec.stats,
  });
  const onAbort = () => child.abort(new StatesError('States.Aborted', 'the Map Run failed or the execution stopped'));
  if (signal.aborted) onAbort(); else signal.addEventListener('abort', onAbort, { once: true });
  try {
    c.output = await child.run();
    c.status = 'SUCCEEDED';
  } catch (err) {
    const e = err instanceof StatesError ? err : new StatesError('States.Runtime', String(err && err.message || err));
    c.status = e.error === 'States.Aborted' ? 'ABORTED' : e.error === 'States.Timeout' ? 'TIMED_OUT' : 'FAILED';
    c.error = e.error;
    c.cause = e.cause;
  } finally {
    signal.removeEventListener('abort', onAbort);
    c.stopDate = Date.now();
    exec.stats.eventsPerChild = Math.max(exec.stats.eventsPerChild, c.history.length);
  }
}

async function runDistributedMap(exec, st, name, path, key, base, vars, signal) {
  const { evalValue, StatesError } = require('./interpreter');
  const readArgs = await evalValue(st.ItemReader.Arguments || {}, base, vars);
  if (typeof readArgs.Bucket !== 'string' || typeof readArgs.Key !== 'string')
    throw new StatesError('States.ItemReaderFailed', 'ItemReader needs Bucket and Key');
  let text;
  try { text = exec.hooks.getObject(readArgs.Bucket, readArgs.Key); } catch (e) {
    throw new StatesError('States.ItemReaderFailed', `s3://${readArgs.Bucket}/${readArgs.Key}: ${e.message}`);
  }
  const items = parseJsonl(text, readArgs.Key, StatesError);
  let max = st.MaxConcurrency !== undefined ? await evalValue(st.MaxConcurrency, base, vars) : 0;
  if (!max || max < 1) max = 10000;
  const pct = st.ToleratedFailurePercentage !== undefined ? await evalValue(st.ToleratedFailurePercentage, base, vars) : 0;
  const cnt = st.ToleratedFailureCount !== undefined ? await evalValue(st.ToleratedFailureCount, base, vars) : 0;
  const writer = st.ResultWriter ? await evalValue(st.ResultWriter.Arguments || {}, base, vars) : null;
  const run = mapRunFor(exec, st, name, key, items);
  run.status = 'RUNNING';
  const total = run.children.length;
  const hasPct = st.ToleratedFailurePercentage !== undefined;
  const hasCnt = st.ToleratedFailureCount !== undefined;
  // Neither set: no failure is tolerated. Both set: exceeding either fails.
  const exceeded = () => {
    const failed = run.children.filter((c) => FAILED_STATES.includes(c.status)).length;
    const overPct = (failed * 100) / total > pct;
    const overCnt = failed > cnt;
    if (hasPct && hasCnt) return overPct || overCnt;
    if (hasPct) return overPct;
    if (hasCnt) return overCnt;
    return failed > 0;
  };
  const runAbort = new AbortController();
  setMaxListeners(0, runAbort.signal);
  const onParent = () => runAbort.abort(signal.reason);
  if (signal.aborted) onParent(); else signal.addEventListener('abort', onParent, { once: true });
  exec.hooks.event('MapRunStarted', { name, path, mapRunArn: run.arn, items: total });
  let failedRun = false;
  const todo = run.children.filter((c) => c.status === 'PENDING');
  let next = 0;
  const lane = async () => {
    while (!failedRun && !runAbort.signal.aborted && next < todo.length) {
      const c = todo[next++];
      const mapCtx = { Item: { Index: c.index, Value: c.item } };
      const itemBase = { input: base.input, context: { ...base.context, Map: mapCtx } };
      const input = st.ItemSelector !== undefined ? await evalValue(st.ItemSelector, itemBase, vars) : c.item;
      await runChild(exec, run, c, st.ItemProcessor, input, runAbort.signal);
      if (!failedRun && exceeded()) {
        failedRun = true;
        runAbort.abort(new StatesError('States.Aborted', 'the Map Run failed'));
      }
    }
  };
  const lanes = [];
  for (let k = 0; k < Math.min(max, Math.max(todo.length, 1)); k++) lanes.push(lane());
  await Promise.all(lanes);
  signal.removeEventListener('abort', onParent);
  const result = writer ? writeResults(exec, run, writer) : run.children.map((c) => c.output);
  if (signal.aborted) throw signal.reason;
  if (failedRun) {
    run.status = 'FAILED';
    exec.hooks.event('MapRunFailed', { name, path, mapRunArn: run.arn });
    throw new StatesError('States.ExceedToleratedFailureThreshold',
      'The specified tolerated failure threshold was exceeded');
  }
  run.status = 'SUCCEEDED';
  exec.hooks.event('MapRunSucceeded', { name, path, mapRunArn: run.arn });
  return result;
}

module.exports = { runDistributedMap, validateDistributed, parseJsonl, S3_GET, S3_PUT_RESULTS };
