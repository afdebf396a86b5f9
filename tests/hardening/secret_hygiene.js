#!/usr/bin/env node
// secret_hygiene.js -- no secret reaches a log line, a result, a failure
// cause or an output file (tests/README.md "Secret hygiene").
//
// Runs `backfill-worker run-chunk` (the worker's exact task code path)
// against the fake ConnectWise and the fake AWS (S3 + Secrets Manager),
// with recognisable secret values: the ConnectWise private key, the AWS
// secret access key and session token, and the Basic credential the source
// sends. Scenarios: success to S3 with the secret from Secrets Manager;
// success to files with the secret from a file; a rejected private key
// (Backfill.SourceAuthFailed); a wrong AWS secret key (the AWS call fails).
// Each run is at debug log level; stdout (result or {error, cause}), stderr
// (logs) and every output object/file (gunzipped) are searched for each
// secret. A node:test file: one test whose subtests are the checks.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');
const { TOP, BIN, startFake } = require('../e2e/harness');
const { tally, admin, passThrough, walk } = require('./lib');

const PRIVATE_KEY = 'SECRET-PRIVATE-KEY-4f1e';
const AWS_SECRET = 'SECRET-AWS-KEY-9c2d';
const AWS_TOKEN = 'SECRET-SESSION-TOKEN-77aa';
const AWS_AKID = 'AKIDHYGIENE0001';
const WRONG_AWS_SECRET = 'SECRET-AWS-WRONG-KEY-3b8e';
const ROTATED_KEY = 'SECRET-ROTATED-KEY-6a0c';
const BASIC = Buffer.from(`acme+pubkey:${PRIVATE_KEY}`).toString('base64');
const SECRETS = [PRIVATE_KEY, AWS_SECRET, AWS_TOKEN, WRONG_AWS_SECRET, ROTATED_KEY, BASIC];
const BUCKET = 'hygiene-bucket';

const { check, run } = tally();

// Every secret found in `text` (a Buffer or string), as a list.
function leaks(text) {
  const s = Buffer.isBuffer(text) ? text.toString('latin1') : String(text);
  return SECRETS.filter((x) => s.includes(x));
}

function maybeGunzip(buf) {
  if (buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b) return zlib.gunzipSync(buf);
  return buf;
}

function runChunk(env, input) {
  const r = spawnSync(BIN, ['run-chunk', '--input', '-'], {
    input: JSON.stringify(input), encoding: 'latin1', timeout: 120000,
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), AWS_EC2_METADATA_DISABLED: 'true',
           AWS_REGION: 'us-east-1', BACKFILL_LOG_LEVEL: 'debug', BACKFILL_WORKER_NAME: 'hygiene',
           ...passThrough(), ...env },
  });
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

function assertClean(label, run, files) {
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('{')).length;
  check(`${label}: the run logged (${lines} JSON log lines searched)`, lines >= 1,
        `stderr: ${run.stderr.slice(0, 200)}`);
  check(`${label}: stdout (result/cause) holds no secret`, leaks(run.stdout).length === 0,
        leaks(run.stdout).join(','));
  check(`${label}: log lines hold no secret`, leaks(run.stderr).length === 0,
        leaks(run.stderr).join(','));
  check(`${label}: no Authorization header value is logged`,
        !/authorization"?\s*[:=]\s*"?(Basic|AWS4-HMAC)/i.test(run.stderr) && !run.stderr.includes('Signature='),
        'an Authorization value appears in the logs');
  const bad = [];
  for (const f of files) {
    const l = leaks(maybeGunzip(f.body));
    if (l.length) bad.push(`${f.name}: ${l.join(',')}`);
  }
  check(`${label}: ${files.length} output files hold no secret`, bad.length === 0, bad.join('; '));
}

async function s3Objects(aws) {
  const list = JSON.parse(await admin(aws.url, 'GET', `svc/s3/objects?bucket=${BUCKET}`));
  const out = [];
  for (const o of list) {
    const body = await admin(aws.url, 'GET',
      `svc/s3/object?bucket=${BUCKET}&key=${encodeURIComponent(o.key)}`);
    out.push({ name: `s3://${BUCKET}/${o.key}`, body });
  }
  return out;
}

async function main() {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} not built`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-hygiene-'));
  const cw = await startFake(path.join(TOP, 'tests/support/fake/connectwise.js'),
    ['--seed', '5', '--start', '2025-01-01T00:00:00Z', '--days', '10', '--tickets', '300',
     '--keys', `acme+pubkey:${PRIVATE_KEY}`, '--max-seconds', '300']);
  const aws = await startFake(path.join(TOP, 'tests/support/fake/server.js'),
    ['--services', 's3,secretsmanager', '--keys', `${AWS_AKID}=${AWS_SECRET}=${AWS_TOKEN}`,
     '--max-seconds', '300']);
  const secretValue = { connectwise: { api_base_url: cw.url, company_id: 'acme',
    public_key: 'pubkey', private_key: PRIVATE_KEY, client_id: 'client-guid-1' } };
  await admin(aws.url, 'POST', 'svc/secretsmanager/secrets', { name: 'acme/dev', value: secretValue });
  fs.writeFileSync(path.join(work, 'tenants.json'), JSON.stringify([
    { tenant_id: 'acme', service: 'connectwise', enabled: true, secret_name: 'acme/dev' }]));
  fs.writeFileSync(path.join(work, 'secrets.json'), JSON.stringify({ 'acme/dev': secretValue }));
  const input = { tenant_id: 'acme', service: 'connectwise', table_name: 'service/tickets',
                  start_date: '2025-01-01', end_date: '2025-01-06', backfill_id: 'hygiene-1' };
  const awsEnv = { AWS_ACCESS_KEY_ID: AWS_AKID, AWS_SECRET_ACCESS_KEY: AWS_SECRET,
                   AWS_SESSION_TOKEN: AWS_TOKEN, AWS_ENDPOINT_URL_S3: aws.url,
                   AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url };
  const tenants = `file://${path.join(work, 'tenants.json')}`;
  // The detector itself: it must see the secrets where they are meant to be.
  check('detector finds the secrets in the secrets file',
        leaks(fs.readFileSync(path.join(work, 'secrets.json'))).includes(PRIVATE_KEY));

  // 1. success: Secrets Manager -> ConnectWise -> S3
  let run = runChunk({ ...awsEnv, BACKFILL_TENANTS: tenants, BACKFILL_SECRETS: 'secretsmanager:',
                       BACKFILL_OUTPUT: `s3://${BUCKET}/lake` }, input);
  check('s3 run succeeds', run.status === 0 && run.stdout.includes('"SUCCEEDED"'),
        `exit ${run.status}: ${run.stdout.slice(0, 300)} ${run.stderr.slice(-300)}`);
  const objs = await s3Objects(aws);
  check('s3 run wrote objects', objs.length >= 2, `${objs.length} objects`);
  assertClean('s3 run', run, objs);

  // 2. success: secrets file -> ConnectWise -> files
  const outDir = path.join(work, 'out');
  run = runChunk({ BACKFILL_TENANTS: tenants, BACKFILL_SECRETS: `file://${path.join(work, 'secrets.json')}`,
                   BACKFILL_OUTPUT: `file://${outDir}` }, input);
  check('file run succeeds', run.status === 0 && run.stdout.includes('"SUCCEEDED"'),
        `exit ${run.status}: ${run.stdout.slice(0, 300)} ${run.stderr.slice(-300)}`);
  let files = walk(outDir).map((f) => ({ name: f, body: fs.readFileSync(f) }));
  check('file run wrote files', files.length >= 2, `${files.length} files`);
  assertClean('file run', run, files);

  // 3. the source rejects the private key: Backfill.SourceAuthFailed
  await admin(cw.url, 'POST', 'keys', { keys: [`acme+pubkey:${ROTATED_KEY}`], clientId: 'client-guid-1' });
  const badDir = path.join(work, 'out-bad');
  run = runChunk({ BACKFILL_TENANTS: tenants, BACKFILL_SECRETS: `file://${path.join(work, 'secrets.json')}`,
                   BACKFILL_OUTPUT: `file://${badDir}` }, input);
  check('bad private key fails with Backfill.SourceAuthFailed',
        run.status !== 0 && run.stdout.includes('Backfill.SourceAuthFailed'),
        `exit ${run.status}: ${run.stdout.slice(0, 300)}`);
  files = walk(badDir).map((f) => ({ name: f, body: fs.readFileSync(f) }));
  assertClean('bad private key', run, files);
  await admin(cw.url, 'POST', 'reset', {});

  // 4. a wrong AWS secret key: the Secrets Manager call is refused
  run = runChunk({ ...awsEnv, AWS_SECRET_ACCESS_KEY: WRONG_AWS_SECRET, BACKFILL_TENANTS: tenants,
                   BACKFILL_SECRETS: 'secretsmanager:', BACKFILL_OUTPUT: `s3://${BUCKET}/lake2` }, input);
  check('wrong AWS secret key fails with a Backfill.* error',
        run.status !== 0 && /"Backfill\.[A-Za-z]+"/.test(run.stdout),
        `exit ${run.status}: ${run.stdout.slice(0, 300)}`);
  assertClean('wrong AWS key', run, []);

  fs.rmSync(work, { recursive: true, force: true });
}

run('secret hygiene through run-chunk', main);
