#!/usr/bin/env node
// server.js -- one local fake for the AWS services the worker calls.
//
//   node server.js --services sfn,s3 [--keys AKID=SECRET[=TOKEN],...]
//                  [--config JSON] [--max-seconds N] [--watch-stdin]
//                  [--no-verify] [--port N] [--max-skew-ms N]
//                  [--tls-cert PEM --tls-key PEM]
//
// --max-skew-ms N rejects requests whose X-Amz-Date is more than N ms from
// the fake's clock (InvalidSignatureException "Signature expired", as AWS).
//
// --tls-cert/--tls-key serve HTTPS instead of HTTP (tests/support/fake/tls
// holds a test-only certificate for 127.0.0.1).
//
// A --services entry "module:signingName" loads services/module.js and hands
// create() a ctx whose `signingName` is set, so one module can stand in for
// a service under another signing name (tests use "generic:s3").
//
// Listens on 127.0.0.1 (port 0 by default) and prints one line to stdout:
// {"port": N}. Every request is checked with the reference SigV4 verifier
// (sigv4verify.js) and routed by the service name in its credential scope to
// a module in services/<name>.js. Bad signatures get AWS's error shape.
// The process stops by itself: after --max-seconds (default 900), and, with
// --watch-stdin, as soon as its standard input closes (the C test launcher,
// tests/support/fakesrv.c, holds that pipe, so a crashed test cannot leave a
// server behind).
//
// Test control, under /__admin/ (never signed):
//   GET  /__admin/calls[?service=s3]   every recorded call, oldest first:
//        {time, method, path, query, op, service, sigv4 ("ok"|"bad"|
//        "skipped"), headers (no authorization), body, bodyBytes,
//        conn (the client's port: equal ports = a kept-alive connection),
//        error?, fault?}
//   POST /__admin/faults               {"faults":[FAULT...]} appended
//   DELETE /__admin/faults             drop queued faults
//   POST /__admin/reset                calls, faults and service state
//   ANY  /__admin/svc/<name>/<path>    the service module's own admin API
// FAULT = {"service":"sfn", "op":"GetActivityTask", "method":"PUT",
//          "path":"regex", "times":1, "status":500, "headers":{},
//          "body":"..."|{...}, "delayMs":0, "reset":false, "hang":false,
//          "resetAfterHandle":false}
// A fault matches on the fields it gives; `times` (default 1) counts down.
// status/body answer instead of the service; delayMs alone slows the real
// answer; reset destroys the connection unanswered; hang never answers
// (until the client gives up); resetAfterHandle lets the service act, then
// destroys the connection instead of answering (the "lost reply" case).
'use strict';
const { listenAndServe } = require('./serve.js');
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const { verify } = require('./sigv4verify');

const DEFAULT_KEYS = 'AKIDEXAMPLE=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const MAX_BODY = 64 * 1024 * 1024;

function parseArgs(argv) {
  const a = { services: [], keys: DEFAULT_KEYS, config: {}, maxSeconds: 900,
              watchStdin: false, verify: true, port: 0 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--services') a.services = v().split(',').filter(Boolean);
    else if (k === '--keys') a.keys = v();
    else if (k === '--config') a.config = JSON.parse(v());
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--watch-stdin') a.watchStdin = true;
    else if (k === '--no-verify') a.verify = false;
    else if (k === '--port') a.port = Number(v());
    else if (k === '--max-skew-ms') a.maxSkewMs = Number(v());
    else if (k === '--tls-cert') a.tlsCert = v();
    else if (k === '--tls-key') a.tlsKey = v();
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function parseKeys(s) {
  const keys = {};
  for (const item of s.split(',').filter(Boolean)) {
    const [akid, secret, token] = item.split('=');
    keys[akid] = { secret, token };
  }
  return keys;
}

function sendJson(res, status, obj, headers = {}) {
  const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  res.writeHead(status, { 'content-type': 'application/json',
                          'content-length': body.length, ...headers });
  res.end(body);
}

function awsJsonError(res, status, type, message) {
  sendJson(res, status, { __type: type, message },
           { 'content-type': 'application/x-amz-json-1.0' });
}

function s3XmlError(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
               `<Message>${message}</Message><RequestId>fake</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml',
                          'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// The operation name for matching and recording: X-Amz-Target's last part
// for JSON protocols, "METHOD /path" otherwise.
function opOf(req) {
  const t = req.headers['x-amz-target'];
  if (t) return t.split('.').pop();
  return null;
}

function faultMatches(f, call) {
  if ((f.times ?? 1) <= 0) return false;
  if (f.service && f.service !== call.service) return false;
  if (f.op && f.op !== call.op) return false;
  if (f.method && f.method !== call.method) return false;
  if (f.path && !new RegExp(f.path).test(call.path)) return false;
  return true;
}

function main() {
  const args = parseArgs(process.argv);
  const keys = parseKeys(args.keys);
  const state = { calls: [], faults: [] };
  const services = {};
  const ctx = { config: args.config, sendJson, awsJsonError, s3XmlError, state };
  for (const spec of args.services) {
    const [name, signingAs] = spec.split(':');
    const mod = require(path.join(__dirname, 'services', `${name}.js`));
    const svc = mod.create(signingAs ? { ...ctx, signingName: signingAs } : ctx);
    services[svc.signingName] = svc;
    services[name] = svc;
  }

  async function admin(req, res, url, body) {
    const p = url.pathname;
    if (p === '/__admin/calls') {
      const s = url.searchParams.get('service');
      return sendJson(res, 200, state.calls.filter((c) => !s || c.service === s));
    }
    if (p === '/__admin/faults' && req.method === 'POST') {
      const f = JSON.parse(body.toString() || '{}').faults || [];
      state.faults.push(...f);
      return sendJson(res, 200, { queued: state.faults.length });
    }
    if (p === '/__admin/faults' && req.method === 'DELETE') {
      state.faults.length = 0;
      return sendJson(res, 200, {});
    }
    if (p === '/__admin/reset') {
      state.calls.length = 0;
      state.faults.length = 0;
      for (const svc of new Set(Object.values(services))) svc.reset && svc.reset();
      return sendJson(res, 200, {});
    }
    const m = /^\/__admin\/svc\/([^/]+)(\/.*)?$/.exec(p);
    if (m && services[m[1]] && services[m[1]].admin)
      return services[m[1]].admin(req, res, m[2] || '/', body, url);
    if (p === '/__admin/health') return sendJson(res, 200, { ok: true });
    return sendJson(res, 404, { error: 'no such admin path' });
  }

  async function handle(req, res, body) {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname.startsWith('/__admin/')) return admin(req, res, url, body);
    const call = { time: Date.now(), method: req.method, path: url.pathname,
                   query: url.search.slice(1), op: opOf(req), service: null,
                   sigv4: 'none', headers: { ...req.headers },
                   conn: req.socket.remotePort }; // same conn = kept alive
    delete call.headers.authorization; // never recorded, as in the worker
    call.body = body.length <= 65536 ? body.toString('utf8') : `<${body.length} bytes>`;
    call.bodyBytes = body.length;
    const v = args.verify ? await verify(req, body, keys, { maxSkewMs: args.maxSkewMs }) : { ok: true, service: null };
    call.service = v.service || null;
    call.sigv4 = args.verify ? (v.ok ? 'ok' : 'bad') : 'skipped';
    const svc = services[call.service] || (!args.verify && Object.values(services)[0]);
    if (svc && !call.op) call.op = svc.opOf ? svc.opOf(req, url) : null;
    if (svc && svc.name) call.service = svc.name;
    state.calls.push(call);
    if (!v.ok) {
      call.error = v.reason;
      const [code] = v.reason.split(':');
      if (v.service === 's3') return s3XmlError(res, 403, code, v.reason);
      return awsJsonError(res, 403, code, v.reason);
    }
    if (!svc) return awsJsonError(res, 400, 'UnknownService', `no fake for ${call.service}`);
    const idx = state.faults.findIndex((f) => faultMatches(f, call));
    if (idx >= 0) {
      const f = state.faults[idx];
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) state.faults.splice(idx, 1);
      call.fault = f;
      if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
      if (f.reset) return req.socket.destroy();
      if (f.hang) return; // never answered; the client's timeout ends it
      if (f.status) {
        const b = typeof f.body === 'string' ? f.body : JSON.stringify(f.body ?? {});
        res.writeHead(f.status, { 'content-type': 'application/x-amz-json-1.0',
                                  'content-length': Buffer.byteLength(b), ...(f.headers || {}) });
        return res.end(b);
      }
      if (f.resetAfterHandle) {
        res.end = () => req.socket.destroy();
        res.writeHead = () => res;
        res.write = () => true;
      }
    }
    return svc.handle(req, res, call, body, url);
  }

  const tls = args.tlsCert && args.tlsKey
    ? { cert: fs.readFileSync(args.tlsCert), key: fs.readFileSync(args.tlsKey) }
    : null;
  const onRequest = (req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { req.socket.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((e) => {
        process.stderr.write(`fake: ${e.stack}\n`);
        if (!res.headersSent) awsJsonError(res, 500, 'InternalFailure', String(e.message));
      });
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 30000;
  server.headersTimeout = 35000;
  server.requestTimeout = 0;
  listenAndServe(server, { port: args.port, maxSeconds: args.maxSeconds, watchStdin: args.watchStdin });
}

if (require.main === module) main();
module.exports = { sendJson, awsJsonError, s3XmlError, parseArgs };
