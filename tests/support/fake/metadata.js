#!/usr/bin/env node
// metadata.js -- a local fake of the two credential metadata services:
// EC2 instance metadata (IMDSv2) and the ECS/EKS container credentials
// endpoint.
//
//   node metadata.js [--max-seconds N] [--watch-stdin] [--port N]
//
// Listens on 127.0.0.1 and prints {"port": N}, like server.js; stops after
// --max-seconds (default 300) or, with --watch-stdin, when stdin closes.
// Tests reach it through AWS_EC2_METADATA_SERVICE_ENDPOINT and
// AWS_CONTAINER_CREDENTIALS_FULL_URI, never through 169.254.x.x.
//
// IMDSv2: PUT /latest/api/token (needs X-aws-ec2-metadata-token-ttl-seconds)
// gives a session token; GET /latest/meta-data/iam/security-credentials/
// (role name) and .../<role> (credentials JSON) need that token in
// X-aws-ec2-metadata-token, else 401.
// Container: any other GET path answers the credentials JSON; when an
// authorization token is configured, the Authorization header must equal it.
//
// Test control, under /__admin/:
//   POST /__admin/config  {accessKeyId, secretAccessKey, token, role,
//                          expiration (ISO) | expiresInSeconds,
//                          authToken (container), rotate (bool: number
//                          each issued AccessKeyId, "-1", "-2", ...)}
//   POST /__admin/faults  {"faults":[{path (regex), method, status, body,
//                          times (default 1), delayMs}]}
//   GET  /__admin/calls   {calls:[{method, path, auth, imdsToken}], issued: N}
//   POST /__admin/reset   default config, no faults, no calls
'use strict';
const http = require('http');
const crypto = require('crypto');
const { listenAndServe } = require('./serve.js');

function defaults() {
  return { accessKeyId: 'ASIAMETADATAEXAMPLE', secretAccessKey: 'metadataSecretKeyExample/+=',
           token: 'metadata-session-token//+==', role: 'backfill-role',
           expiresInSeconds: 6 * 3600, expiration: null, authToken: null, rotate: false };
}

let cfg = defaults();
let faults = [];
let calls = [];
let issued = 0;
const sessions = new Set();

function parseArgs(argv) {
  const a = { maxSeconds: 300, watchStdin: false, port: 0 };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--max-seconds') a.maxSeconds = Number(argv[++i]);
    else if (argv[i] === '--watch-stdin') a.watchStdin = true;
    else if (argv[i] === '--port') a.port = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

function send(res, status, body, type = 'application/json') {
  const b = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'content-type': type, 'content-length': b.length });
  res.end(b);
}

function credsDoc(imds) {
  issued++;
  const exp = cfg.expiration || new Date(Date.now() + cfg.expiresInSeconds * 1000).toISOString();
  const doc = { AccessKeyId: cfg.rotate ? `${cfg.accessKeyId}-${issued}` : cfg.accessKeyId,
                SecretAccessKey: cfg.secretAccessKey, Token: cfg.token, Expiration: exp };
  if (imds) return { Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC', ...doc };
  return { RoleArn: `arn:aws:iam::123456789012:role/${cfg.role}`, ...doc };
}

function takeFault(req, path) {
  for (const f of faults) {
    if (f.method && f.method !== req.method) continue;
    if (f.path && !new RegExp(f.path).test(path)) continue;
    if ((f.times ?? 1) <= 0) continue;
    f.times = (f.times ?? 1) - 1;
    return f;
  }
  return null;
}

function admin(req, res, sub, body) {
  if (sub === 'config' && req.method === 'POST') {
    cfg = { ...cfg, ...JSON.parse(body || '{}') };
    return send(res, 200, { ok: true });
  }
  if (sub === 'faults' && req.method === 'POST') {
    faults.push(...(JSON.parse(body || '{}').faults || []));
    return send(res, 200, { ok: true });
  }
  if (sub === 'calls') return send(res, 200, { calls, issued });
  if (sub === 'reset') {
    cfg = defaults(); faults = []; calls = []; issued = 0; sessions.clear();
    return send(res, 200, { ok: true });
  }
  return send(res, 404, { error: 'unknown admin path' });
}

function imds(req, res, path) {
  if (path === '/latest/api/token') {
    if (req.method !== 'PUT') return send(res, 405, 'PUT only', 'text/plain');
    if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(res, 400, 'missing ttl', 'text/plain');
    const t = crypto.randomBytes(24).toString('base64');
    sessions.add(t);
    return send(res, 200, t, 'text/plain');
  }
  if (!sessions.has(req.headers['x-aws-ec2-metadata-token'])) return send(res, 401, 'Unauthorized', 'text/plain');
  const base = '/latest/meta-data/iam/security-credentials/';
  if (path === base) return send(res, 200, cfg.role + '\n', 'text/plain');
  if (path === base + cfg.role) return send(res, 200, credsDoc(true));
  return send(res, 404, 'Not Found', 'text/plain');
}

function container(req, res) {
  if (req.method !== 'GET') return send(res, 405, { message: 'GET only' });
  if (cfg.authToken && req.headers.authorization !== cfg.authToken)
    return send(res, 401, { message: 'bad authorization token' });
  return send(res, 200, credsDoc(false));
}

async function handle(req, res, body) {
  const path = req.url.split('?')[0];
  if (path.startsWith('/__admin/')) return admin(req, res, path.slice(9), body);
  calls.push({ method: req.method, path, auth: req.headers.authorization || null,
               imdsToken: !!req.headers['x-aws-ec2-metadata-token'] });
  const f = takeFault(req, path);
  if (f && f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
  if (f && f.status) return send(res, f.status, f.body ?? { message: 'injected fault' });
  if (path.startsWith('/latest/')) return imds(req, res, path);
  return container(req, res);
}

function main() {
  const args = parseArgs(process.argv);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((e) => {
        process.stderr.write(`metadata fake: ${e.stack}\n`);
        if (!res.headersSent) send(res, 500, { message: String(e.message) });
      });
    });
  });
  listenAndServe(server, { port: args.port, maxSeconds: args.maxSeconds, watchStdin: args.watchStdin });
}

if (require.main === module) main();
