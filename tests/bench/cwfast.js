#!/usr/bin/env node
// cwfast.js -- a ConnectWise fake fast enough to benchmark the pipeline against.
//
//   node cwfast.js --tickets N [--seed S] [--start ISO] [--days D]
//        [--variants K] [--keys COMPANY+PUBLIC:PRIVATE] [--client-id ID]
//        [--max-seconds N] [--watch-stdin]
//
// The shared fake (tests/support/fake/connectwise.js) builds every ticket
// from its PRNG when it is served: about 10,000 tickets/s on one core, which
// would make it, not the worker, the bottleneck. This one renders K distinct
// tickets once with the shared fake's own makeTicket() (so the records have
// exactly its shape, size and text), cuts each at the places where the id and
// the lastUpdated time appear, and serves ticket i as variant i % K with its
// own id and lastUpdated spliced in. K defaults to 4096 (~10 MB of distinct
// text between repeats), far more than gzip's 32 KB window, so compression
// sees no artificial repetition.
// Protocol (the subset the worker and the Python baseline use, same as the
// shared fake): GET {codebase}/apis/3.0/service/tickets with conditions on
// _info/lastUpdated >= [a] and < [b], orderBy id, pageSize (<= 1000),
// forward-only paging (header pagination-type: forward-only, Link
// rel="next" with pageId) or page/pageSize; Basic auth plus clientId.
// Admin: GET /__admin/expected?start=ISO&end=ISO -> {count};
//        GET /__admin/stats -> {pages, records, bytes}.
'use strict';
const { listenAndServe } = require('../support/fake/serve.js');
const http = require('http');
const path = require('path');
const { makeTicket, parseConditions, buildMeta, iso } =
  require(path.join(__dirname, '..', 'support', 'fake', 'connectwise.js'));

const SENT_ID = 987654321;

function parseArgs(argv) {
  const a = { tickets: 1000, seed: 1, start: '2025-01-01T00:00:00Z', days: 30,
              variants: 4096, keys: 'acme+pubkey:privkey', clientId: 'client-guid-1',
              maxSeconds: 1800, watchStdin: false };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--tickets') a.tickets = Number(v());
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--start') a.start = v();
    else if (k === '--days') a.days = Number(v());
    else if (k === '--variants') a.variants = Number(v());
    else if (k === '--keys') a.keys = v();
    else if (k === '--client-id') a.clientId = v();
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--watch-stdin') a.watchStdin = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

// Each variant: text pieces with holes for the id (kind 0) and the
// lastUpdated time (kind 1) between them.
function buildVariants(seed, k, startMs) {
  const sentLu = startMs + 12345000; // an odd time no derived date hits
  const sentIso = iso(sentLu);
  const re = new RegExp(`(${SENT_ID}|${sentIso.replace(/[.]/g, '\\.')})`);
  const out = [];
  for (let v = 0; v < k; v++) {
    const parts = JSON.stringify(makeTicket(seed * 100003 + v, SENT_ID, sentLu)).split(re);
    const pieces = [], holes = [];
    for (let j = 0; j < parts.length; j++) {
      if (j % 2 === 0) pieces.push(parts[j]);
      else holes.push(parts[j] === String(SENT_ID) ? 0 : 1);
    }
    out.push({ pieces, holes });
  }
  return out;
}

function main() {
  const args = parseArgs(process.argv);
  const startMs = Date.parse(args.start);
  // The shared fake's ids (ascending, with gaps) and lastUpdated times.
  const meta = buildMeta(args.seed, 'service/tickets', args.tickets, startMs, args.days * 86400000);
  const variants = buildVariants(args.seed, args.variants, startMs);
  const stats = { pages: 0, records: 0, bytes: 0 };
  let cache = null;

  function record(i) {
    const v = variants[i % variants.length];
    const id = String(meta.ids[i]);
    const lu = iso(meta.lu[i]);
    let s = v.pieces[0];
    for (let j = 0; j < v.holes.length; j++)
      s += (v.holes[j] === 0 ? id : lu) + v.pieces[j + 1];
    return s;
  }

  function windowOf(lo, hi) {
    if (cache && cache.lo === lo && cache.hi === hi) return cache.idx;
    const tmp = new Int32Array(meta.ids.length);
    let n = 0;
    for (let i = 0; i < meta.ids.length; i++) if (meta.lu[i] >= lo && meta.lu[i] < hi) tmp[n++] = i;
    cache = { lo, hi, idx: tmp.slice(0, n) };
    return cache.idx;
  }

  function send(res, status, body, headers = {}) {
    const b = Buffer.from(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8',
                            'content-length': b.length, ...headers });
    res.end(b);
    return b.length;
  }

  function authOk(req) {
    const a = req.headers.authorization || '';
    if (!a.startsWith('Basic ')) return false;
    const user = Buffer.from(a.slice(6), 'base64').toString('utf8');
    return args.keys.split(',').includes(user) && req.headers.clientid === args.clientId;
  }

  function api(req, res, url) {
    if (!/\/apis\/3\.0\/service\/tickets\/?$/.test(url.pathname))
      return send(res, 404, '{"code":"NotFound","message":"only service/tickets here"}');
    if (!authOk(req)) return send(res, 401, '{"code":"Unauthorized","message":"Authentication failed"}');
    const cond = parseConditions(url.searchParams.get('conditions'));
    if (!cond) return send(res, 400, '{"code":"InvalidObject","message":"bad conditions"}');
    const idx = windowOf(cond.lo, cond.hi);
    let size = Number(url.searchParams.get('pageSize') || 25);
    if (!(size >= 1)) size = 25;
    if (size > 1000) size = 1000;
    const origin = `http://${req.headers.host}`;
    let from, next = null;
    if (req.headers['pagination-type'] === 'forward-only') {
      const pageId = Number(url.searchParams.get('pageId') || 0);
      let lo = 0, hi = idx.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (meta.ids[idx[mid]] > pageId) hi = mid; else lo = mid + 1; }
      from = lo;
      if (from + size < idx.length) {
        const q = new URLSearchParams(url.searchParams);
        q.set('pageId', String(meta.ids[idx[from + size - 1]]));
        next = `${origin}${url.pathname}?${q}`;
      }
    } else {
      const page = Math.max(1, Number(url.searchParams.get('page') || 1));
      from = (page - 1) * size;
      if (from + size < idx.length) {
        const q = new URLSearchParams(url.searchParams);
        q.set('page', String(page + 1));
        next = `${origin}${url.pathname}?${q}`;
      }
    }
    const parts = [];
    const to = Math.min(from + size, idx.length);
    for (let k = from; k < to; k++) parts.push(record(idx[k]));
    stats.pages++;
    stats.records += parts.length;
    stats.bytes += send(res, 200, `[${parts.join(',')}]`, next ? { link: `<${next}>; rel="next"` } : {});
  }

  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname === '/__admin/expected') {
        const lo = Date.parse(url.searchParams.get('start'));
        const hi = Date.parse(url.searchParams.get('end'));
        return send(res, 200, JSON.stringify({ count: windowOf(lo, hi).length }));
      }
      if (url.pathname === '/__admin/stats') return send(res, 200, JSON.stringify(stats));
      return api(req, res, url);
    });
  });
  server.keepAliveTimeout = 60000;
  listenAndServe(server, { port: 0, maxSeconds: args.maxSeconds, watchStdin: args.watchStdin });
}

main();
