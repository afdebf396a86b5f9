#!/usr/bin/env node
// oracle.js -- the SigV4 oracle test: the C signer against @smithy/signature-v4.
//
//   node tests/sigv4/oracle.js <path to oracle_sign> [--count N] [--seed S]
//
// Generates a deterministic corpus (a seeded PRNG, so every run signs the
// same requests): all methods; paths with spaces, unicode, reserved
// characters, dot segments and double slashes; queries with repeated,
// empty and value-less keys and reserved characters; header values with
// runs of spaces and tabs, repeated and unsignable headers; session tokens;
// S3 (signed and UNSIGNED-PAYLOAD) and other services; empty, text and
// binary bodies. Each request is signed by the C program (oracle_sign.c,
// one JSON line per request on its stdin) and by the reference signer
// (smithy-sign.js); every signature must be equal. A node:test file run
// directly (it takes arguments): one test per request, so the runner's
// counts are the signatures compared.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('child_process');
const { sign } = require('./smithy-sign');

function prng(seed) {
  // mulberry32: small, deterministic, good enough for test data.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
const SERVICES = ['s3', 's3', 'states', 'dynamodb', 'lambda', 'secretsmanager',
                  'execute-api', 'iam', 'sts'];
const REGIONS = ['us-east-1', 'eu-west-2', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1'];
const SEGMENTS = ['a', 'b c', 'déjà vu', '日本語', 'x+y', 'key=value', 'semi;colon',
  '!*\'()', 'at@sign', 'dollar$', 'comma,list', '~tilde', 'under_score', '.', '..',
  '', 'file.txt', '%literal', 'quote"d', 'brackets[]', 'hash#tag', 'q?mark',
  'a..b', '...', 'space  twice', 'emoji😀', 'tab\tch', 'colon:x', 'amp&er'];
const QKEYS = ['a', 'b', 'A', 'list-type', 'prefix', 'max-keys', 'Action', 'Version',
  'key with space', 'ключ', 'x-amz-meta', 'k+plus', 'e=q', '', 'flag', 'Z', 'a-', 'a_'];
const QVALS = ['', '1', 'value', 'two words', 'a/b/c', 'ünïcödé', '+plus+', '%25',
  '*star*', "it's", '~', 'a=b', 'x&y', '2010-05-08', 'ListUsers', '   spaces  '];
const HNAMES = ['Content-Type', 'X-Amz-Target', 'X-Amz-Meta-Color', 'x-custom-a',
  'X-Custom-B', 'Accept', 'Content-MD5', 'User-Agent', 'X-Amzn-Trace-Id',
  'If-Match', 'Range', 'X-Amz-Acl', 'Cache-Control', 'X-Amz-Storage-Class'];
const HVALS = ['application/json', '  leading', 'trailing   ', 'runs   of    spaces',
  'tabs\t\tand  spaces', 'a,b,c', '"quoted   value"', 'bytes=0-99', '', ' ',
  'AWSStepFunctions.SendTaskSuccess', 'x'];

function encodeStrict(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
// How a client might put a string on the wire: strictly encoded, or with
// characters a URL allows raw left raw.
function wire(s, rnd) {
  const strict = encodeStrict(s);
  if (rnd() < 0.6) return strict;
  return strict.replace(/%(21|24|27|28|29|2A|2C|3A|3B|40)/g,
    (m, h) => String.fromCharCode(parseInt(h, 16)));
}

function pick(rnd, a) { return a[Math.floor(rnd() * a.length)]; }

function makePath(rnd, s3) {
  const n = 1 + Math.floor(rnd() * 5);
  const segs = [];
  for (let i = 0; i < n; i++) segs.push(wire(pick(rnd, SEGMENTS), rnd));
  let p = '/' + segs.join('/');
  if (rnd() < 0.2) p += '/';
  if (s3 && rnd() < 0.5) p = '/bucket-name' + p;
  return p;
}

function makeQuery(rnd) {
  if (rnd() < 0.25) return '';
  const n = 1 + Math.floor(rnd() * 6);
  const parts = [];
  for (let i = 0; i < n; i++) {
    // Repeat an earlier key now and then.
    const k = parts.length && rnd() < 0.3 ? parts[Math.floor(rnd() * parts.length)].k
                                          : pick(rnd, QKEYS);
    const r = rnd();
    if (r < 0.1) parts.push({ k, s: wire(k, rnd) });          // no '='
    else if (r < 0.2) parts.push({ k, s: wire(k, rnd) + '=' }); // empty value
    else parts.push({ k, s: wire(k, rnd) + '=' + wire(pick(rnd, QVALS), rnd) });
  }
  let q = parts.map((p) => p.s).join('&');
  if (rnd() < 0.1) q += '&'; // a stray separator
  return q;
}

function makeHeaders(rnd, host) {
  const h = [['Host', host]];
  const used = new Set(['host']);
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const name = pick(rnd, HNAMES);
    const l = name.toLowerCase();
    if (used.has(l) && rnd() < 0.5) continue;
    // A repeated header uses the same spelling (the reference takes an
    // object, so two spellings would be two keys there).
    const spelled = used.has(l) ? h.find(([x]) => x.toLowerCase() === l)[0] : name;
    used.add(l);
    h.push([spelled, pick(rnd, HVALS)]);
  }
  if (rnd() < 0.2) h.push(['X-Amz-Date', '20000101T000000Z']); // replaced by the signer
  return h;
}

function makeBody(rnd, method) {
  const r = rnd();
  if (method === 'GET' || method === 'HEAD' || r < 0.3) return Buffer.alloc(0);
  if (r < 0.6) return Buffer.from(JSON.stringify({ taskToken: 'tok' + Math.floor(rnd() * 1e6), output: 'ünï' }));
  if (r < 0.8) return Buffer.from('plain text body with  spaces\n');
  const b = Buffer.alloc(1 + Math.floor(rnd() * 300));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

function makeCorpus(count, seed) {
  const rnd = prng(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const service = SERVICES[i % SERVICES.length];
    const s3 = service === 's3';
    const region = pick(rnd, REGIONS);
    const method = pick(rnd, METHODS);
    const host = s3 ? (rnd() < 0.5 ? `bucket.s3.${region}.amazonaws.com` : '127.0.0.1:4566')
                    : `${service}.${region}.amazonaws.com`;
    out.push({
      method, path: makePath(rnd, s3), query: makeQuery(rnd),
      headers: makeHeaders(rnd, host), body: makeBody(rnd, method),
      region, service,
      time: 1420070400 + Math.floor(rnd() * 500000000),
      akid: rnd() < 0.5 ? 'AKIDEXAMPLE' : 'ASIA' + Math.floor(rnd() * 1e12),
      secret: rnd() < 0.5 ? 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
                          : 'secret/' + Math.floor(rnd() * 1e9) + '+=',
      token: rnd() < 0.4 ? 'FwoGZXIvYXdzE' + Math.floor(rnd() * 1e9) + '//////+/token==' : '',
      s3, unsigned: s3 && rnd() < 0.4,
    });
  }
  return out;
}

const args = process.argv.slice(2);
const bin = args[0];
let count = 240, seed = 20260101;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--count') count = Number(args[++i]);
  else if (args[i] === '--seed') seed = Number(args[++i]);
}
if (!bin) { console.error('usage: oracle.js <oracle_sign> [--count N] [--seed S]'); process.exit(2); }
const corpus = makeCorpus(count, seed);
let lines = [];

test('oracle_sign signs the whole corpus', () => {
  const input = corpus.map((r) => JSON.stringify({ ...r, body: undefined,
    body_hex: r.body.toString('hex') })).join('\n') + '\n';
  const run = spawnSync(bin, [], { input, maxBuffer: 256 * 1024 * 1024 });
  assert.equal(run.status, 0, `oracle_sign exited with ${run.status}: ${run.stderr}`);
  lines = run.stdout.toString('utf8').split('\n').filter(Boolean);
});

// The reference signs each request inside its test, so a mismatch names
// the request and shows both canonical requests.
corpus.forEach((req, i) => {
  test(`#${i}: ${req.method} ${req.path}?${req.query} (${req.service})`, async () => {
    const ref = await sign(req);
    const c = lines[i] ? JSON.parse(lines[i]) : { error: 'no output' };
    assert.equal(c.signature, ref.signature,
      `C error: ${c.error || '-'}\nreference canonical request:\n${ref.canonicalRequest}\n` +
      `C canonical request:\n${c.canonicalRequest}`);
  });
});

// Fewer requests than this would make the comparison say little.
test('at least 200 requests compared', () => {
  assert.ok(corpus.length >= 200, `only ${corpus.length} requests`);
});

test.after(() => {
  const s3n = corpus.filter((r) => r.s3).length;
  console.log(`corpus: ${corpus.length} requests (${s3n} S3, ${corpus.length - s3n} other; ` +
              `${corpus.filter((r) => r.token).length} with session tokens, ` +
              `${corpus.filter((r) => r.body.length).length} with bodies)`);
});
