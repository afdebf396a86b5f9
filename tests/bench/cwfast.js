#!/usr/bin/env node
// cwfast.js -- a ConnectWise fake fast enough to benchmark the pipeline against.
//
//   node cwfast.js --tickets N [--seed S] [--start ISO] [--days D]
//        [--variants K] [--shape uniform|varied]
//        [--keys COMPANY+PUBLIC:PRIVATE] [--client-id ID]
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
// --shape uniform (the default) is that: every record ~2.5 KB, every page of
// 1,000 ~2.5 MB. --shape varied serves records that vary the way real
// tickets do (see buildVaried below): ~0.5 KB to ~30 KB with a long tail,
// customFields of any length, optional nested objects present or absent,
// now and then a ~200 KB record, and runs of large or small tickets, so the
// bytes of a page range from under 1 MB to tens of MB. Memory that grows
// with the largest page or record seen, or with the mix of sizes, does not
// show on uniform data.
// Protocol (the subset the worker and the Python baseline use, same as the
// shared fake): GET {codebase}/apis/3.0/service/tickets with conditions on
// _info/lastUpdated >= [a] and < [b], orderBy id, pageSize (<= 1000),
// forward-only paging (header pagination-type: forward-only, Link
// rel="next" with pageId) or page/pageSize; Basic auth plus clientId.
// Admin: GET /__admin/expected?start=ISO&end=ISO -> {count};
//        GET /__admin/stats -> {pages, records, bytes, max_page_bytes}.
'use strict';
const { listenAndServe } = require('../support/fake/serve.js');
const http = require('http');
const path = require('path');
const { makeTicket, parseConditions, buildMeta, iso } =
  require(path.join(__dirname, '..', 'support', 'fake', 'connectwise.js'));

const SENT_ID = 987654321;

function parseArgs(argv) {
  const a = { tickets: 1000, seed: 1, start: '2025-01-01T00:00:00Z', days: 30,
              variants: 4096, shape: 'uniform', keys: 'acme+pubkey:privkey', clientId: 'client-guid-1',
              maxSeconds: 1800, watchStdin: false };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--tickets') a.tickets = Number(v());
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--start') a.start = v();
    else if (k === '--days') a.days = Number(v());
    else if (k === '--variants') a.variants = Number(v());
    else if (k === '--shape') a.shape = v();
    else if (k === '--keys') a.keys = v();
    else if (k === '--client-id') a.clientId = v();
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--watch-stdin') a.watchStdin = true;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!['uniform', 'varied'].includes(a.shape)) throw new Error(`--shape: uniform or varied, not ${a.shape}`);
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

// ---- --shape varied ---------------------------------------------------------
// A record is assembled from precomputed pieces chosen by a hash of its index
// (deterministic for a seed, no per-record PRNG or JSON.stringify): a base
// ticket from makeTicket() with some optional references removed, then an
// initialDescription from one of SIZE_CLASSES length classes (64 B to 28 KB,
// geometric), maybe an initialInternalAnalysis and an initialResolution, a
// customFields array (0 to 60 entries), a set of optional nested objects
// (agreement, site, sla, currency, tasks, ...). The description's class is a
// per-record draw around a level that wanders (a random walk over stretches
// of 250 records: a mail import, a noisy alert board, a quiet week), so
// pages of 1,000 differ in size by 10x and more. About 1 record in 1,500 carries a ~200 KB
// description (a pasted log or mail thread).

function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}
function rngOf(seed) {
  let s = mix32(seed) || 1;
  return () => { s = mix32(s + 0x9e3779b9); return s / 4294967296; };
}

const TEXT_WORDS = ('printer network outage email server password reset vpn laptop ' +
  'monitor backup restore firewall switch router license install update patch user ' +
  'account locked access denied slow performance disk space memory cpu alert ticket ' +
  'client site office remote desktop outlook teams sharepoint onedrive mfa token ' +
  'certificate expired dns dhcp wifi signal cable port replaced escalated vendor ' +
  'warranty quote invoice scheduled maintenance window reboot rebooted resolved ' +
  'confirmed working customer called again regarding issue previous attempt failed').split(' ');
const TEXT_EXTRA = ['\u00e9', '\u00fc', '\u00f1', '\u2013', '\u201cquoted\u201d', '"q"',
                    '\\\\', '\t', 'C:\\\\Users\\\\', '<br>', '&amp;', '\u65e5\u672c'];

// Text of about n characters: words, punctuation, line breaks, a few
// non-ASCII and escaped characters, as pasted mail and notes have.
function text(r, n) {
  const out = [];
  let len = 0;
  while (len < n) {
    const x = r();
    let w;
    if (x < 0.03) w = TEXT_EXTRA[Math.floor(r() * TEXT_EXTRA.length)];
    else if (x < 0.05) w = String(Math.floor(r() * 100000));
    else w = TEXT_WORDS[Math.floor(r() * TEXT_WORDS.length)];
    const y = r();
    const sep = y < 0.06 ? '.\n' : y < 0.1 ? ', ' : y < 0.11 ? '\r\n\r\n' : ' ';
    out.push(w, sep);
    len += w.length + sep.length;
  }
  return out.join('');
}

const SIZE_CLASSES = 16;          // description lengths 64 B .. ~28 KB
const PER_CLASS = 96;
const CLASS_LEN = (c) => Math.round(64 * Math.pow(28000 / 64, c / (SIZE_CLASSES - 1)));
const OPTIONAL_REFS = ['contact', 'item', 'team', 'subType', 'type', 'owner', 'board',
                       'priority', 'closedBy', 'closedDate', 'requiredDate'];

function buildVaried(seed, k, startMs, tickets) {
  const r = rngOf(seed * 7919 + 17);
  const sentLu = startMs + 12345000;
  const sentIso = iso(sentLu);
  const re = new RegExp(`(${SENT_ID}|${sentIso.replace(/[.]/g, '\\.')})`);
  const bases = [];
  for (let v = 0; v < k; v++) {
    const t = makeTicket(seed * 100003 + v, SENT_ID, sentLu);
    delete t.initialDescription;
    delete t.customFields;
    // Real tickets lack references nobody filled in; keep id and summary.
    const drop = r();
    for (const f of OPTIONAL_REFS) if (r() < drop) delete t[f];
    const js = JSON.stringify(t);
    const parts = js.slice(0, -1).split(re);   // open: the rest is appended
    const pieces = [], holes = [];
    for (let j = 0; j < parts.length; j++) {
      if (j % 2 === 0) pieces.push(parts[j]);
      else holes.push(parts[j] === String(SENT_ID) ? 0 : 1);
    }
    bases.push({ pieces, holes });
  }
  const desc = [];
  for (let c = 0; c < SIZE_CLASSES; c++) {
    const row = [];
    for (let j = 0; j < PER_CLASS; j++)
      row.push(JSON.stringify(text(r, Math.round(CLASS_LEN(c) * (0.8 + 0.4 * r())))));
    desc.push(row);
  }
  const huge = [];
  for (let j = 0; j < 8; j++) huge.push(JSON.stringify(text(r, 150000 + Math.floor(r() * 100000))));
  const customs = [];
  for (let j = 0; j < 512; j++) {
    const n = r() < 0.15 ? 0 : Math.min(60, Math.floor(-Math.log(1 - r()) * 8));
    const cf = [];
    for (let q = 0; q < n; q++) {
      const type = ['Text', 'Checkbox', 'Number', 'Date', 'Hyperlink', 'TextArea'][Math.floor(r() * 6)];
      const value = r() < 0.2 ? null : type === 'Checkbox' ? r() < 0.5 : type === 'Number' ? Math.floor(r() * 1e6) / 100
        : type === 'Date' ? iso(startMs - Math.floor(r() * 4e10)) : type === 'TextArea' ? text(r, 20 + Math.floor(r() * 400))
        : text(r, 3 + Math.floor(r() * 30));
      cf.push({ id: q + 1, caption: `Field ${q + 1} ${TEXT_WORDS[q % TEXT_WORDS.length]}`, type,
                entryMethod: r() < 0.5 ? 'EntryField' : 'List', numberOfDecimals: 0, value });
    }
    customs.push(',"customFields":' + JSON.stringify(cf));
  }
  const extras = [];
  for (let j = 0; j < 256; j++) {
    const e = {};
    const ref = (id, name) => ({ id, name, _info: { href: `https://cw.example/x/${id}` } });
    if (r() < 0.4) e.agreement = { ...ref(300 + Math.floor(r() * 50), 'Managed Services'), type: 'MSA' };
    if (r() < 0.6) e.site = ref(700 + Math.floor(r() * 90), `${text(r, 8)} site`);
    if (r() < 0.5) e.location = ref(1 + Math.floor(r() * 5), 'Main');
    if (r() < 0.5) e.department = ref(1 + Math.floor(r() * 5), 'Service');
    if (r() < 0.3) e.currency = { id: 7, symbol: '$', currencyCode: 'USD', decimalSeparator: '.',
                                   numberOfDecimals: 2, thousandsSeparator: ',', negativeParenthesesFlag: false,
                                   displaySymbolFlag: true, currencyIdentifier: 'USD', displayIdFlag: false,
                                   rightAlign: false, name: 'US Dollars' };
    if (r() < 0.25) e.sla = { ...ref(1 + Math.floor(r() * 4), 'Standard SLA'), respondHours: 2, planWithinHours: 8,
                              resolutionHours: 24, slaStatus: 'Respond by' };
    if (r() < 0.1) e.mergedParentTicket = ref(20000 + Math.floor(r() * 5000), text(r, 30));
    if (r() < 0.3) {
      const n = 1 + Math.floor(r() * 12);
      e.tasks = [];
      for (let q = 0; q < n; q++) e.tasks.push({ id: q + 1, notes: text(r, 10 + Math.floor(r() * 200)),
                                                  closedFlag: r() < 0.5, priority: q, resolution: r() < 0.3 ? text(r, 60) : null });
    }
    if (r() < 0.2) e.contactEmailAddress = `user${Math.floor(r() * 1000)}@client.example`;
    if (r() < 0.2) e.escalationLevel = Math.floor(r() * 4);
    const js = JSON.stringify(e);
    extras.push(js === '{}' ? '' : ',' + js.slice(1, -1));
  }
  // Shortest first: a run of small tickets draws from the short end.
  customs.sort((x, y) => x.length - y.length);
  extras.sort((x, y) => x.length - y.length);
  bases.sort((x, y) => x.pieces.join('').length - y.pieces.join('').length);
  // A random walk, one step in 250 records at most: neighbouring tickets
  // are alike (a board, a season), distant ones are not.
  const levels = new Uint8Array(Math.ceil(tickets / 250) + 1);
  let lv = 3;
  for (let j = 0; j < levels.length; j++) {
    const x = r();
    if (x < 0.2) lv = lv > 0 ? lv - 1 : 1;
    else if (x < 0.4) lv = lv < 12 ? lv + 1 : 11;
    levels[j] = lv;
  }
  return { bases, desc, huge, customs, extras, levels };
}

function variedRecord(V, salt, i, id, lu) {
  const h = mix32(i ^ salt);
  // The level (0..12) of this record's stretch of 250, and its spread.
  const level = V.levels[Math.floor(i / 250)];
  // Pools are sorted shortest first; a low level draws from the short end.
  const reach = (n) => Math.max(1, Math.floor(n * (level + 4) / (SIZE_CLASSES + 4)));
  const b = V.bases[h % reach(V.bases.length)];
  let s = b.pieces[0];
  for (let j = 0; j < b.holes.length; j++) s += (b.holes[j] === 0 ? id : lu) + b.pieces[j + 1];
  const h2 = mix32(h);
  const spread = ((h2 & 7) + ((h2 >>> 3) & 7) - 7) >> 1;           // -3 .. +3, peaked at 0
  const c = Math.max(0, Math.min(SIZE_CLASSES - 1, level + spread));
  const h3 = mix32(h2);
  const dsc = (h3 % 1500) === 0 ? V.huge[(h3 >>> 12) % V.huge.length] : V.desc[c][(h3 >>> 8) % PER_CLASS];
  s += ',"initialDescription":' + dsc;
  const h4 = mix32(h3);
  if ((h4 & 3) === 0) s += ',"initialInternalAnalysis":' + V.desc[Math.max(0, c - 3)][(h4 >>> 4) % PER_CLASS];
  if ((h4 & 12) === 0) s += ',"initialResolution":' + V.desc[Math.max(0, c - 4)][(h4 >>> 8) % PER_CLASS];
  return s + V.customs[(h4 >>> 12) % reach(V.customs.length)] + V.extras[(h4 >>> 21) % reach(V.extras.length)] + '}';
}

function main() {
  const args = parseArgs(process.argv);
  const startMs = Date.parse(args.start);
  // The shared fake's ids (ascending, with gaps) and lastUpdated times.
  const meta = buildMeta(args.seed, 'service/tickets', args.tickets, startMs, args.days * 86400000);
  const variants = args.shape === 'uniform' ? buildVariants(args.seed, args.variants, startMs) : null;
  const varied = args.shape === 'varied' ? buildVaried(args.seed, args.variants, startMs, args.tickets) : null;
  const salt = mix32(args.seed * 0x27d4eb2d);
  const stats = { pages: 0, records: 0, bytes: 0, max_page_bytes: 0 };
  let cache = null;

  function record(i) {
    if (varied) return variedRecord(varied, salt, i, String(meta.ids[i]), iso(meta.lu[i]));
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
    const nb = send(res, 200, `[${parts.join(',')}]`, next ? { link: `<${next}>; rel="next"` } : {});
    stats.bytes += nb;
    if (nb > stats.max_page_bytes) stats.max_page_bytes = nb;
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
