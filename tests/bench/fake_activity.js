#!/usr/bin/env node
// fake_activity.js -- a fast Step Functions activity endpoint for `make bench`.
//
//   node fake_activity.js [--mode tasks|idle] [--long-poll-ms N]
//        [--token-bytes N] [--ref-sample N] [--max-seconds N] [--watch-stdin]
//
// The shared fake (tests/support/fake/server.js) records every call and
// checks signatures with @smithy/signature-v4 over a pure-JS SHA-256, which
// makes it, not the worker, the bottleneck of a dispatch benchmark. This one
// keeps no history and verifies EVERY request's SigV4 signature itself with
// Node's native crypto (HMAC-SHA256 chain, cached signing key), and checks
// its own verifier against the reference one (tests/support/fake/
// sigv4verify.js) on the first --ref-sample requests and every 1000th after:
// a disagreement is counted in stats.refMismatch and fails the benchmark.
//
// mode tasks: GetActivityTask answers at once with a new task (an endless
//   queue); SendTaskSuccess/Failure close it; answering an unknown or closed
//   token is TaskDoesNotExist / TaskTimedOut, counted as an error.
// mode idle: GetActivityTask is held --long-poll-ms (60 s, like the service)
//   and answered with no task; stats.openPolls says how many are held, and
//   stats.openByWorker how many per workerName (a trailing -N dropped).
//
// Listens on 127.0.0.1 (port 0), prints {"port": N}. Admin (never signed):
//   GET /__admin/stats -> counters;  POST /__admin/reset -> zero counters.
'use strict';
const { listenAndServe } = require('../support/fake/serve.js');
const crypto = require('crypto');
const http = require('http');
const path = require('path');

const KEYS = { AKIDEXAMPLE: { secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' } };
const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;\-_.]+), ?Signature=([0-9a-f]{64})$/;
const TASK_INPUT = JSON.stringify({
  tenant_id: 'bench', service: 'connectwise', table_name: 'service/tickets',
  start_date: '2025-01-01T00:00:00.000Z', end_date: '2025-01-02T00:00:00.000Z',
  chunk_number: 1, total_chunks: 1, backfill_id: 'bench-dispatch',
  backfill_mode: true, force_full_sync: false, heartbeat_seconds: 300,
  attempt: 1, redrive_count: 0,
});

function parseArgs(argv) {
  const a = { mode: 'tasks', longPollMs: 60000, tokenBytes: 512, refSample: 50,
              maxSeconds: 1800, watchStdin: false };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--mode') a.mode = v();
    else if (k === '--long-poll-ms') a.longPollMs = Number(v());
    else if (k === '--token-bytes') a.tokenBytes = Number(v());
    else if (k === '--ref-sample') a.refSample = Number(v());
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--watch-stdin') a.watchStdin = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function hmac(key, s) { return crypto.createHmac('sha256', key).update(s).digest(); }
function sha256hex(b) { return crypto.createHash('sha256').update(b).digest('hex'); }

// SigV4 for the JSON protocol: POST / with no query string, the case every
// activity call is. Anything else goes to the reference verifier.
function makeVerifier() {
  const keyCache = new Map();
  function signingKey(secret, date, region, service) {
    const id = `${secret}/${date}/${region}/${service}`;
    let k = keyCache.get(id);
    if (!k) {
      k = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
      keyCache.set(id, k);
    }
    return k;
  }
  return function fastVerify(req, body) {
    const auth = req.headers.authorization;
    if (!auth) return { ok: false, reason: 'MissingAuthenticationToken' };
    const m = AUTH_RE.exec(auth);
    if (!m) return { ok: false, reason: 'IncompleteSignature' };
    const [, akid, date, region, service, signedList, signature] = m;
    const key = KEYS[akid];
    if (!key) return { ok: false, reason: 'UnrecognizedClientException' };
    const amzDate = req.headers['x-amz-date'];
    if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate) ||
        amzDate.slice(0, 8) !== date)
      return { ok: false, reason: 'IncompleteSignature: x-amz-date' };
    const signed = signedList.split(';');
    if (!signed.includes('host')) return { ok: false, reason: 'IncompleteSignature: host' };
    const lines = [];
    for (const h of signed) {
      const v = req.headers[h];
      if (v === undefined) return { ok: false, reason: `IncompleteSignature: ${h} absent` };
      lines.push(`${h}:${String(v).trim().replace(/\s+/g, ' ')}`);
    }
    const sha = req.headers['x-amz-content-sha256'];
    const bodyHash = sha256hex(body);
    if (sha && sha !== 'UNSIGNED-PAYLOAD' && sha !== bodyHash)
      return { ok: false, reason: 'XAmzContentSHA256Mismatch' };
    const creq = `${req.method}\n/\n\n${lines.join('\n')}\n\n${signedList}\n` +
                 `${sha === 'UNSIGNED-PAYLOAD' ? sha : bodyHash}`;
    const scope = `${date}/${region}/${service}/aws4_request`;
    const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256hex(creq)}`;
    const expect = hmac(signingKey(key.secret, date, region, service), sts).toString('hex');
    if (expect !== signature) return { ok: false, reason: 'SignatureDoesNotMatch', service };
    return { ok: true, service };
  };
}

function main() {
  const args = parseArgs(process.argv);
  const fastVerify = makeVerifier();
  let refVerify = null;
  try {
    // The reference verifier lives with the shared fake; its npm packages
    // are in tests/node_modules.
    refVerify = require(path.join(__dirname, '..', 'support', 'fake', 'sigv4verify.js')).verify;
  } catch (e) {
    process.stderr.write(`fake_activity: reference verifier unavailable: ${e.message}\n`);
  }
  const pad = 'x'.repeat(Math.max(0, args.tokenBytes - 24));
  let stats, open, seq = 0, held = new Set();
  function reset() {
    stats = { requests: 0, polls: 0, delivered: 0, succeeded: 0, failed: 0,
              heartbeats: 0, emptyPolls: 0, badSig: 0, badRequest: 0,
              unknownToken: 0, refChecked: 0, refMismatch: 0, openPolls: 0,
              maxOpenPolls: 0, signingServices: {} };
    open = new Map();
  }
  reset();

  function send(res, status, obj) {
    const b = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0',
                            'content-length': Buffer.byteLength(b) });
    res.end(b);
  }
  function awsError(res, status, type, message) {
    send(res, status, { __type: type, message });
  }

  function refCheck(req, body, fast) {
    if (!refVerify) return;
    const n = stats.requests;
    if (n > args.refSample && n % 1000 !== 0) return;
    stats.refChecked++;
    refVerify(req, body, KEYS).then((r) => {
      if (Boolean(r.ok) !== Boolean(fast.ok)) {
        stats.refMismatch++;
        process.stderr.write(`fake_activity: verifier mismatch: fast=${fast.reason || 'ok'} ref=${r.reason || 'ok'}\n`);
      }
    }, () => { stats.refMismatch++; });
  }

  function getActivityTask(req, res, body) {
    stats.polls++;
    if (typeof body.activityArn !== 'string' || !body.activityArn.startsWith('arn:'))
      return awsError(res, 400, 'InvalidArn', 'Invalid Arn');
    if (args.mode === 'idle') {
      const id = ++seq;
      const who = String(body.workerName || '').replace(/-\d+$/, '');
      const timer = setTimeout(() => {
        open.delete(id);
        stats.openPolls = open.size;
        stats.emptyPolls++;
        send(res, 200, {});
      }, args.longPollMs);
      open.set(id, { timer, who });
      stats.openPolls = open.size;
      if (open.size > stats.maxOpenPolls) stats.maxOpenPolls = open.size;
      req.socket.on('close', () => {
        const o = open.get(id);
        if (o) { clearTimeout(o.timer); open.delete(id); }
        stats.openPolls = open.size;
      });
      return;
    }
    const token = `tok-${++seq}-${pad}`;
    held.add(token);
    stats.delivered++;
    send(res, 200, { taskToken: token, input: TASK_INPUT });
  }

  function answer(res, body, kind) {
    if (!held.delete(body.taskToken)) {
      stats.unknownToken++;
      return awsError(res, 400, 'TaskDoesNotExist', 'Task Does Not Exist');
    }
    if (kind === 'success') {
      if (typeof body.output !== 'string' || Buffer.byteLength(body.output) > 262144) {
        stats.badRequest++;
        return awsError(res, 400, 'InvalidOutput', 'output');
      }
      stats.succeeded++;
    } else {
      stats.failed++;
    }
    send(res, 200, {});
  }

  function handle(req, res, raw) {
    stats.requests++;
    const v = fastVerify(req, raw);
    refCheck(req, raw, v);
    if (!v.ok) {
      stats.badSig++;
      return awsError(res, 403, v.reason.split(':')[0], v.reason);
    }
    stats.signingServices[v.service] = (stats.signingServices[v.service] || 0) + 1;
    let body;
    try { body = JSON.parse(raw.toString('utf8') || '{}'); } catch (e) {
      stats.badRequest++;
      return awsError(res, 400, 'SerializationException', 'bad JSON');
    }
    const op = String(req.headers['x-amz-target'] || '').split('.').pop();
    if (op === 'GetActivityTask') return getActivityTask(req, res, body);
    if (op === 'SendTaskSuccess') return answer(res, body, 'success');
    if (op === 'SendTaskFailure') return answer(res, body, 'failure');
    if (op === 'SendTaskHeartbeat') {
      stats.heartbeats++;
      return send(res, 200, {});
    }
    stats.badRequest++;
    return awsError(res, 400, 'UnknownOperationException', op);
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url.startsWith('/__admin/')) {
        const by = {};
        for (const o of open.values()) by[o.who] = (by[o.who] || 0) + 1;
        const now = { ...stats, openByWorker: by };
        if (req.url === '/__admin/reset') reset();
        return send(res, 200, now);
      }
      handle(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
  });
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 125000;
  server.requestTimeout = 0;
  listenAndServe(server, { port: 0, maxSeconds: args.maxSeconds, watchStdin: args.watchStdin });
}

main();
