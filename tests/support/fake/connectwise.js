#!/usr/bin/env node
// connectwise.js -- a local fake ConnectWise Manage REST API (3.0).
//
//   node connectwise.js [--seed N] [--start ISO] [--days D]
//        [--tickets N] [--time-entries N] [--companies N] [--contacts N]
//        [--products N] [--agreements N] [--projects N] [--members N]
//        [--extra ENDPOINT=MODULE.js:N]
//        [--keys COMPANY+PUBLIC:PRIVATE[,...]] [--client-id ID]
//        [--mode auto|forward|navigable|nolink] [--max-seconds N]
//        [--watch-stdin] [--port N]
//
// Serves GET /{codebase}/apis/3.0/{service/tickets|time/entries|
// company/companies|company/contacts|procurement/products|finance/agreements|
// project/projects|system/members} on 127.0.0.1 and prints {"port": N}.
// --extra serves one more endpoint whose records come from the function a
// module exports ((seed, id, lastUpdatedMs) -> record), e.g. a test-only
// endpoint from a fixtures directory. The records of the eight endpoints
// follow the field names, nesting and types of ConnectWise's models; a few
// lack a field the canonical mapping requires, a few carry numbers or
// flags as strings.
// Records are generated deterministically from the seed (same seed, same
// bytes); _info.lastUpdated is spread over [start, start + days) in whole
// seconds. Only the metadata (id, lastUpdated) is kept in memory; a record's
// body is built when served, so 200,000 tickets cost a few MB.
// Honours `conditions` (_info/lastUpdated >= [a] and ... < [b]), orderBy
// id, pageSize (max 1000), forward-only paging (request header
// pagination-type: forward-only, Link rel="next" with pageId) and
// page/pageSize paging (Link rel="next"/"last" unless --mode nolink).
// Checks Authorization (Basic base64(company+public:private)) and clientId.
//
// Test control, under /__admin/:
//   GET  /__admin/expected?table=service/tickets&start=ISO&end=ISO[&noids=1]
//        -> {count, ids} the records whose lastUpdated is in [start, end)
//   GET  /__admin/record?table=...&id=N  -> the exact bytes served for a record
//   GET  /__admin/calls                  -> recorded requests (no auth header)
//   POST /__admin/faults {"faults":[F...]}; DELETE /__admin/faults
//   POST /__admin/keys {"keys":["c+p:k"], "clientId":"..."}  rotate credentials
//   POST /__admin/mode {"mode":"nolink"}
//   POST /__admin/reset                  calls, faults, mode and keys
// F = {"times":1, "skip":0, "path":"regex", "status":429, "headers":{},
//      "body":"...", "delayMs":0, "truncate":false, "invalid":false,
//      "repeatLink":false, "foreignLink":false, "reset":false,
//      "hostile":false}
// A fault applies to data requests whose path matches; `skip` lets that many
// matching requests through first; `times` counts down. status/body answer
// instead of the API; delayMs slows the real answer; truncate cuts the real
// page in half; invalid serves non-JSON; repeatLink serves the real page
// with a Link that points back at the same request; reset drops the
// connection. hostile serves the real page with poison records: the
// first record gains "hostileNote":"pasted \ud800 text" (a lone high
// surrogate escape, as text pasted from other tools has), the second a
// duplicate "id" member, the third "hostileNote2":"\udc00" (a lone low
// surrogate).
'use strict';
const { listenAndServe } = require('./serve.js');
const http = require('http');

const TABLES = ['service/tickets', 'time/entries', 'company/companies',
                'company/contacts', 'procurement/products', 'finance/agreements',
                'project/projects', 'system/members'];

function parseArgs(argv) {
  const a = { seed: 1, start: '2025-01-01T00:00:00Z', days: 30,
              counts: { 'service/tickets': 1000, 'time/entries': 500,
                        'company/companies': 200, 'company/contacts': 300,
                        'procurement/products': 300, 'finance/agreements': 60,
                        'project/projects': 80, 'system/members': 40 },
              extra: [],
              keys: 'acme+pubkey:privkey', clientId: 'client-guid-1',
              mode: 'auto', maxSeconds: 900, watchStdin: false, port: 0 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--seed') a.seed = Number(v());
    else if (k === '--start') a.start = v();
    else if (k === '--days') a.days = Number(v());
    else if (k === '--tickets') a.counts['service/tickets'] = Number(v());
    else if (k === '--time-entries') a.counts['time/entries'] = Number(v());
    else if (k === '--companies') a.counts['company/companies'] = Number(v());
    else if (k === '--contacts') a.counts['company/contacts'] = Number(v());
    else if (k === '--products') a.counts['procurement/products'] = Number(v());
    else if (k === '--agreements') a.counts['finance/agreements'] = Number(v());
    else if (k === '--projects') a.counts['project/projects'] = Number(v());
    else if (k === '--members') a.counts['system/members'] = Number(v());
    else if (k === '--extra') {
      const m = /^([A-Za-z0-9_/-]+)=(.+):(\d+)$/.exec(v() || '');
      if (!m) throw new Error('--extra wants ENDPOINT=MODULE.js:N');
      a.extra.push({ table: m[1], module: m[2], n: Number(m[3]) });
    }
    else if (k === '--keys') a.keys = v();
    else if (k === '--client-id') a.clientId = v();
    else if (k === '--mode') a.mode = v();
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--watch-stdin') a.watchStdin = true;
    else if (k === '--port') a.port = Number(v());
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

// A small, fast deterministic PRNG (mulberry32).
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashSeed(seed, table, i) {
  let h = (seed * 2654435761) >>> 0;
  for (const c of table) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return (Math.imul(h ^ i, 2246822519) + i) >>> 0;
}

const WORDS = ('printer network outage email server password reset vpn laptop ' +
  'firewall backup restore license install update patch monitor phone ' +
  'switch router wireless access account locked slow disk space warning ' +
  'critical client user office remote desktop citrix sharepoint teams ' +
  'outlook calendar sync mobile device replacement quote invoice').split(' ');
const FIRST = ['Ana', 'Ben', 'Chloe', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun'];
const LAST = ['Smith', 'Okafor', 'Novak', 'Garcia', 'Tanaka', 'Berg', 'Rossi', 'Khan'];
const STATUSES = ['New', 'In Progress', 'Waiting on Client', 'Completed', 'Closed'];
const PRIORITIES = ['Priority 1 - Critical', 'Priority 2 - High',
                    'Priority 3 - Normal', 'Priority 4 - Low'];
const BOARDS = ['Service Desk', 'Projects', 'Alerts', 'Onboarding'];

function pick(r, arr) { return arr[Math.floor(r() * arr.length)]; }
function words(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(pick(r, WORDS));
  return out.join(' ');
}
function iso(ms) { return new Date(ms).toISOString().replace('.000Z', 'Z'); }
function ref(r, id, name) { return { id, name, _info: { href: `https://cw.example/x/${id}` } }; }

// The metadata of one table: ids ascending (with gaps) and lastUpdated.
function buildMeta(seed, table, n, startMs, spanMs) {
  const r = rng(hashSeed(seed, table, 0));
  const ids = new Int32Array(n);
  const lu = new Float64Array(n);
  let id = 100;
  for (let i = 0; i < n; i++) {
    id += 1 + Math.floor(r() * 3);
    ids[i] = id;
    lu[i] = startMs + Math.floor(r() * (spanMs / 1000)) * 1000;
  }
  return { ids, lu };
}

function makeTicket(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'service/tickets', id));
  const company = 1000 + Math.floor(r() * 200);
  const entered = luMs - Math.floor(r() * 90) * 86400000;
  const closed = r() < 0.4;
  const rec = {
    id,
    summary: `${words(r, 4)} #${id}`,
    recordType: 'ServiceTicket',
    board: ref(r, 1 + Math.floor(r() * 4), pick(r, BOARDS)),
    status: ref(r, 1 + Math.floor(r() * 5), pick(r, STATUSES)),
    company: { id: company, identifier: `C${company}`, name: `Company ${company} Ltd`,
               _info: { company_href: `https://cw.example/company/${company}` } },
    contact: ref(r, 5000 + Math.floor(r() * 500), `${pick(r, FIRST)} ${pick(r, LAST)}`),
    priority: { id: 1 + Math.floor(r() * 4), name: pick(r, PRIORITIES), sort: Math.floor(r() * 10) },
    type: ref(r, 10 + Math.floor(r() * 5), pick(r, ['Incident', 'Request', 'Problem'])),
    subType: ref(r, 20 + Math.floor(r() * 5), pick(r, ['Hardware', 'Software', 'Network'])),
    item: ref(r, 30 + Math.floor(r() * 5), pick(r, ['Laptop', 'Server', 'Printer'])),
    team: ref(r, 40 + Math.floor(r() * 3), pick(r, ['Tier 1', 'Tier 2', 'NOC'])),
    owner: ref(r, 60 + Math.floor(r() * 20), `${pick(r, FIRST)} ${pick(r, LAST)}`),
    severity: pick(r, ['Low', 'Medium', 'High']),
    impact: pick(r, ['Low', 'Medium', 'High']),
    urgency: pick(r, ['Low', 'Medium', 'High']),
    closedFlag: closed,
    closedDate: closed ? iso(luMs) : null,
    closedBy: closed ? `${pick(r, FIRST).toLowerCase()}` : null,
    requiredDate: iso(entered + 7 * 86400000),
    budgetHours: Math.round(r() * 80) / 4,
    actualHours: Math.round(r() * 120) / 4,
    approved: r() < 0.8,
    enteredBy: pick(r, FIRST).toLowerCase(),
    dateEntered: iso(entered),
    initialDescription: `${words(r, 150)} \u00e9\u00e8 "quoted" \\ line\nbreak`,
    customFields: [{ id: 1, caption: 'Asset Tag', type: 'Text', value: `AT-${id}` },
                   { id: 2, caption: 'Billable', type: 'Checkbox', value: r() < 0.5 }],
    _info: { lastUpdated: iso(luMs), updatedBy: pick(r, FIRST).toLowerCase(),
             dateEntered: iso(entered), enteredBy: 'portal' },
  };
  return rec;
}

function makeTimeEntry(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'time/entries', id));
  const start = luMs - Math.floor(r() * 8) * 3600000;
  const hours = Math.round(r() * 32) / 4;
  const company = 1000 + Math.floor(r() * 200);
  return {
    id,
    company: { id: company, identifier: `C${company}`, name: `Company ${company} Ltd` },
    chargeToId: 20000 + Math.floor(r() * 5000),
    chargeToType: pick(r, ['ServiceTicket', 'ProjectTicket', 'ChargeCode']),
    member: ref(r, 60 + Math.floor(r() * 20), `${pick(r, FIRST)} ${pick(r, LAST)}`),
    locationId: 1, businessUnitId: 10,
    workType: ref(r, 1 + Math.floor(r() * 3), pick(r, ['Remote', 'Onsite'])),
    workRole: ref(r, 1 + Math.floor(r() * 3), pick(r, ['Engineer', 'Technician'])),
    agreement: r() < 0.5 ? ref(r, 300 + Math.floor(r() * 50), 'Managed Services') : null,
    timeStart: iso(start), timeEnd: iso(start + hours * 3600000),
    hoursDeduct: 0, actualHours: hours,
    billableOption: pick(r, ['Billable', 'DoNotBill', 'NoCharge']),
    notes: words(r, 40), internalNotes: words(r, 10),
    enteredBy: 'api', dateEntered: iso(start),
    _info: { lastUpdated: iso(luMs), updatedBy: 'api' },
  };
}

function makeCompany(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'company/companies', id));
  return {
    id, identifier: `C${id}`, name: `Company ${id} ${pick(r, LAST)} Ltd`,
    status: ref(r, 1, pick(r, ['Active', 'Inactive'])),
    type: ref(r, 1, pick(r, ['Client', 'Prospect', 'Vendor'])),
    addressLine1: `${Math.floor(r() * 999)} ${pick(r, LAST)} Street`, addressLine2: null,
    city: pick(r, ['Austin', 'Leeds', 'Lyon']), state: 'TX', zip: `${10000 + Math.floor(r() * 89999)}`,
    country: ref(r, 1, 'United States'), phoneNumber: `555-${1000 + Math.floor(r() * 8999)}`,
    faxNumber: '', website: `www.company${id}.example`, territory: ref(r, 2, 'North'),
    market: ref(r, 3, 'Technology'), accountNumber: `A-${id}`,
    defaultContact: ref(r, 5000 + Math.floor(r() * 500), `${pick(r, FIRST)} ${pick(r, LAST)}`),
    dateAcquired: iso(luMs - 400 * 86400000), annualRevenue: Math.floor(r() * 1e7),
    numberOfEmployees: Math.floor(r() * 500), leadFlag: false, unsubscribeFlag: false,
    timeZone: ref(r, 1, 'US Central'),
    _info: { lastUpdated: iso(luMs), updatedBy: 'admin', dateEntered: iso(luMs - 86400000) },
  };
}

function makeContact(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'company/contacts', id));
  const company = 1000 + Math.floor(r() * 200);
  const first = pick(r, FIRST);
  return {
    id, firstName: r() < 0.02 ? null : first, lastName: pick(r, LAST),
    company: { id: company, identifier: `C${company}`, name: `Company ${company} Ltd` },
    title: pick(r, ['CEO', 'Office Manager', 'IT Lead']),
    department: ref(r, 1, 'Operations'), inactiveFlag: false,
    addressLine1: `${Math.floor(r() * 999)} Main St`, city: 'Austin', state: 'TX', zip: '73301',
    country: ref(r, 1, 'United States'),
    defaultPhoneType: 'Direct', defaultPhoneNumber: `555-${1000 + Math.floor(r() * 8999)}`,
    defaultEmailAddress: `${first.toLowerCase()}${id}@example.com`,
    communicationItems: [{ id: 1, type: { id: 1, name: 'Email' }, value: `${first.toLowerCase()}@example.com`, defaultFlag: true }],
    _info: { lastUpdated: iso(luMs), updatedBy: 'admin' },
  };
}


// procurement/products: ProductItem (a catalog item placed on a ticket,
// project, agreement or opportunity).
function makeProduct(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'procurement/products', id));
  const company = 1000 + Math.floor(r() * 200);
  const qty = 1 + Math.floor(r() * 20);
  const price = Math.round(r() * 200000) / 100;
  const cost = Math.round(price * 70) / 100;
  const cat = 300 + Math.floor(r() * 40);
  const onTicket = r() < 0.6;
  const cancelled = r() < 0.1;
  return {
    id,
    catalogItem: r() < 0.03 ? null : { id: cat, identifier: `SKU-${cat}`, _info: { catalog_href: `https://cw.example/procurement/catalog/${cat}` } },
    description: `${pick(r, ['Laptop', 'Switch', 'Licence', 'Monitor', 'Backup'])} ${words(r, 2)}`,
    sequenceNumber: 1 + Math.floor(r() * 5),
    quantity: r() < 0.1 ? String(qty) : qty,
    unitOfMeasure: ref(r, 1, 'Each'),
    price: r() < 0.1 ? price.toFixed(2) : price, cost,
    extPrice: Math.round(price * qty * 100) / 100, extCost: Math.round(cost * qty * 100) / 100,
    discount: 0, margin: Math.round((price - cost) * qty * 100) / 100,
    priceMethod: 'FlatRateForRange', billableOption: pick(r, ['Billable', 'DoNotBill', 'NoCharge']),
    locationId: 2, businessUnitId: 10,
    vendor: { id: 19, identifier: 'Ingram', name: 'Ingram Micro' }, vendorSku: `IM-${cat}`,
    taxableFlag: r() < 0.5 ? 'true' : true, dropshipFlag: false, specialOrderFlag: false,
    cancelledFlag: cancelled, quantityCancelled: cancelled ? qty : 0,
    cancelledDate: cancelled ? iso(luMs) : null,
    customerDescription: words(r, 6), productClass: pick(r, ['Inventory', 'NonInventory', 'Service']),
    ticket: onTicket ? { id: 20000 + Math.floor(r() * 5000), summary: words(r, 3) } : null,
    agreement: onTicket ? null : ref(r, 300 + Math.floor(r() * 50), 'Managed Services'),
    company: { id: company, identifier: `C${company}`, name: `Company ${company} Ltd` },
    purchaseDate: iso(luMs - Math.floor(r() * 30) * 86400000),
    _info: { lastUpdated: iso(luMs), updatedBy: pick(r, FIRST).toLowerCase() },
  };
}

// finance/agreements: Agreement.
function makeAgreement(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'finance/agreements', id));
  const company = 1000 + Math.floor(r() * 200);
  const start = luMs - Math.floor(r() * 700) * 86400000;
  const amount = Math.round(r() * 1000000) / 100;
  return {
    id,
    name: r() < 0.04 ? null : `${pick(r, ['Managed Services', 'Block Hours', 'Backup', 'Security'])} ${id}`,
    type: ref(r, 1 + Math.floor(r() * 4), pick(r, ['MSP Gold', 'MSP Silver', 'Prepaid', 'Break/Fix'])),
    company: { id: company, identifier: `C${company}`, name: `Company ${company} Ltd` },
    contact: ref(r, 5000 + Math.floor(r() * 500), `${pick(r, FIRST)} ${pick(r, LAST)}`),
    startDate: iso(start), endDate: r() < 0.3 ? null : iso(start + 365 * 86400000),
    noEndingDateFlag: r() < 0.3, cancelledFlag: false,
    applicationUnits: pick(r, ['Amount', 'Hours', 'Incidents']),
    applicationLimit: r() < 0.1 ? String(Math.floor(r() * 100)) : Math.floor(r() * 100),
    applicationCycle: 'CalendarMonth', applicationUnlimitedFlag: false, oneTimeFlag: false,
    coverAgreementTime: true, coverAgreementProduct: false, coverAgreementExpense: false,
    carryOverUnused: false, allowOverruns: r() < 0.5,
    billingCycle: ref(r, 2, 'Monthly'), billingTerms: ref(r, 1, 'Net 30'),
    invoicingCycle: 'ContractYear', billAmount: r() < 0.1 ? amount.toFixed(2) : amount,
    taxable: r() < 0.5 ? 1 : 0, billStartDate: iso(start),
    workRole: ref(r, 3, 'Engineer'), workType: ref(r, 1, 'Remote'),
    billTime: 'Billable', billExpenses: 'Billable', billProducts: 'Billable',
    currency: { id: 7, symbol: '$', isoCode: 'USD', name: 'US Dollars' },
    agreementStatus: pick(r, ['Active', 'Active', 'Cancelled', 'Expired']),
    _info: { lastUpdated: iso(luMs), updatedBy: 'billing' },
  };
}

// project/projects: Project.
function makeProject(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'project/projects', id));
  const company = 1000 + Math.floor(r() * 200);
  const start = luMs - Math.floor(r() * 120) * 86400000;
  const budget = Math.round(r() * 400) / 2;
  const closed = r() < 0.3;
  return {
    id,
    name: r() < 0.04 ? null : `${pick(r, ['Migration', 'Rollout', 'Refresh', 'Audit'])} ${words(r, 2)}`,
    board: ref(r, 1, 'Projects'),
    status: ref(r, 1 + Math.floor(r() * 4), closed ? 'Closed' : pick(r, ['New', 'In Progress', 'On Hold'])),
    closedFlag: closed,
    company: { id: company, identifier: `C${company}`, name: `Company ${company} Ltd` },
    contact: ref(r, 5000 + Math.floor(r() * 500), `${pick(r, FIRST)} ${pick(r, LAST)}`),
    manager: { id: 60 + Math.floor(r() * 20), identifier: pick(r, FIRST).toLowerCase(), name: `${pick(r, FIRST)} ${pick(r, LAST)}` },
    billingMethod: pick(r, ['ActualRates', 'FixedFee', 'NotToExceed']), billingRateType: 'WorkRole',
    billingAmount: Math.round(r() * 5000000) / 100,
    budgetFlag: true, budgetHours: budget, estimatedHours: budget,
    actualHours: r() < 0.1 ? String(Math.round(r() * budget * 4) / 4) : Math.round(r() * budget * 4) / 4,
    scheduledHours: budget, percentComplete: Math.round(r() * 100) / 100,
    estimatedStart: iso(start), estimatedEnd: iso(start + 60 * 86400000),
    actualStart: iso(start), actualEnd: closed ? iso(luMs) : null,
    type: ref(r, 1 + Math.floor(r() * 3), pick(r, ['Migration', 'Install', 'Consulting'])),
    _info: { lastUpdated: iso(luMs), updatedBy: 'pm' },
  };
}

// system/members: Member (password, token and clientId exist in the model
// and are never mapped).
function makeMember(seed, id, luMs) {
  const r = rng(hashSeed(seed, 'system/members', id));
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const cost = Math.round(r() * 6000) / 100;
  return {
    id,
    identifier: r() < 0.05 ? null : `${first.toLowerCase()}${id}`,
    firstName: first, lastName: last, title: pick(r, ['Engineer', 'Technician', 'Service Manager']),
    licenseClass: pick(r, ['F', 'F', 'A']), inactiveFlag: r() < 0.1 ? 'false' : false,
    hireDate: iso(luMs - Math.floor(r() * 2000) * 86400000),
    primaryEmail: `${first.toLowerCase()}.${last.toLowerCase()}@msp.example`,
    officePhone: `512555${1000 + Math.floor(r() * 8999)}`,
    type: ref(r, 1, 'Employee'), securityRole: ref(r, 6, pick(r, ['Technician', 'Admin'])),
    defaultLocation: ref(r, 2, 'Austin'), defaultDepartment: ref(r, 10, 'Managed Services'),
    reportsTo: { id: 1, identifier: 'admin', name: 'Admin' },
    workRole: ref(r, 3, 'Engineer'), workType: ref(r, 1, 'Remote'),
    timeZone: ref(r, 1, 'US Central'), country: ref(r, 1, 'United States'),
    hourlyCost: r() < 0.1 ? cost.toFixed(2) : cost, hourlyRate: 150, dailyCapacity: 8,
    serviceDefaultBoard: ref(r, 1, 'Service Desk'),
    password: null, token: null, clientId: null,
    _info: { lastUpdated: iso(luMs), updatedBy: 'admin' },
  };
}

const MAKERS = { 'service/tickets': makeTicket, 'time/entries': makeTimeEntry,
                 'company/companies': makeCompany, 'company/contacts': makeContact,
                 'procurement/products': makeProduct, 'finance/agreements': makeAgreement,
                 'project/projects': makeProject, 'system/members': makeMember };

function sendJson(res, status, obj, headers = {}) {
  const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8',
                          'content-length': body.length, ...headers });
  res.end(body);
}

function parseConditions(c) {
  if (!c) return { lo: -Infinity, hi: Infinity };
  const lo = /_info\/lastUpdated\s*>=\s*\[([^\]]+)\]/.exec(c);
  const hi = /_info\/lastUpdated\s*<\s*\[([^\]]+)\]/.exec(c);
  if (!lo && !hi) return null;
  const a = lo ? Date.parse(lo[1]) : -Infinity;
  const b = hi ? Date.parse(hi[1]) : Infinity;
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return { lo: a, hi: b };
}

function main() {
  const args = parseArgs(process.argv);
  const startMs = Date.parse(args.start);
  const spanMs = args.days * 86400000;
  const meta = {};
  for (const t of TABLES) meta[t] = buildMeta(args.seed, t, args.counts[t], startMs, spanMs);
  for (const x of args.extra) {
    MAKERS[x.table] = require(require('path').resolve(x.module));
    meta[x.table] = buildMeta(args.seed, x.table, x.n, startMs, spanMs);
  }
  const state = { calls: [], faults: [], mode: args.mode,
                  keys: args.keys.split(',').filter(Boolean), clientId: args.clientId,
                  cache: null };

  // Indices of the records in [lo, hi), ascending id; the last query is
  // cached because a chunk asks the same window once per page.
  function window(table, lo, hi) {
    const c = state.cache;
    if (c && c.table === table && c.lo === lo && c.hi === hi) return c.idx;
    const m = meta[table];
    const tmp = new Int32Array(m.ids.length);
    let n = 0;
    for (let i = 0; i < m.ids.length; i++) if (m.lu[i] >= lo && m.lu[i] < hi) tmp[n++] = i;
    const idx = tmp.slice(0, n);
    state.cache = { table, lo, hi, idx };
    return idx;
  }

  function recordText(table, i) {
    const m = meta[table];
    return JSON.stringify(MAKERS[table](args.seed, m.ids[i], m.lu[i]));
  }

  function authOk(req) {
    const a = req.headers.authorization || '';
    if (!a.startsWith('Basic ')) return false;
    const user = Buffer.from(a.slice(6), 'base64').toString('utf8');
    return state.keys.includes(user) && req.headers.clientid === state.clientId;
  }

  function takeFault(path) {
    for (let k = 0; k < state.faults.length; k++) {
      const f = state.faults[k];
      if (f.path && !new RegExp(f.path).test(path)) continue;
      if ((f.skip || 0) > 0) { f.skip--; return null; }
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) state.faults.splice(k, 1);
      return f;
    }
    return null;
  }

  // Rewrites the first three records of a page (see the header).
  function poison(parts) {
    const add = ['"hostileNote":"pasted \\ud800 text",', null, '"hostileNote2":"\\udc00",'];
    for (let k = 0; k < Math.min(3, parts.length); k++) {
      const id = /^\{"id":(\d+),/.exec(parts[k]);
      if (!id) continue;
      parts[k] = '{"id":' + id[1] + ',' + (add[k] || `"id":${id[1]},`) + parts[k].slice(id[0].length);
    }
  }

  function pageOf(req, url, table, hostile) {
    const cond = parseConditions(url.searchParams.get('conditions'));
    if (!cond) return { error: 'bad conditions' };
    const idx = window(table, cond.lo, cond.hi);
    let size = Number(url.searchParams.get('pageSize') || 25);
    if (!(size >= 1)) size = 25;
    if (size > 1000) size = 1000;
    const forward = state.mode === 'forward' ||
      (state.mode === 'auto' && req.headers['pagination-type'] === 'forward-only');
    const m = meta[table];
    const origin = `http://${req.headers.host}`;
    let from, next = null, last = null;
    if (forward) {
      const pageId = Number(url.searchParams.get('pageId') || 0);
      let lo = 0, hi = idx.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (m.ids[idx[mid]] > pageId) hi = mid; else lo = mid + 1; }
      from = lo;
      if (from + size < idx.length) {
        const q = new URLSearchParams(url.searchParams);
        q.set('pageId', String(m.ids[idx[from + size - 1]]));
        next = `${origin}${url.pathname}?${q}`;
      }
    } else {
      const page = Math.max(1, Number(url.searchParams.get('page') || 1));
      from = (page - 1) * size;
      const pages = Math.max(1, Math.ceil(idx.length / size));
      if (page < pages) {
        const q = new URLSearchParams(url.searchParams);
        q.set('page', String(page + 1));
        next = `${origin}${url.pathname}?${q}`;
      }
      const q = new URLSearchParams(url.searchParams);
      q.set('page', String(pages));
      last = `${origin}${url.pathname}?${q}`;
    }
    const parts = [];
    for (let k = from; k < Math.min(from + size, idx.length); k++) parts.push(recordText(table, idx[k]));
    if (hostile) poison(parts);
    const links = [];
    if (state.mode !== 'nolink') {
      if (next) links.push(`<${next}>; rel="next"`);
      if (last) links.push(`<${last}>; rel="last"`);
    }
    return { body: `[${parts.join(',')}]`, link: links.join(', ') || null, count: parts.length };
  }

  async function api(req, res, url, call) {
    const mm = /\/apis\/3\.0\/(.+)$/.exec(url.pathname);
    const table = mm && mm[1].replace(/\/$/, '');
    if (!table || !meta[table]) return sendJson(res, 404, { code: 'NotFound', message: 'no such endpoint' });
    const f = takeFault(url.pathname);
    call.fault = f || undefined;
    if (f && f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f && f.reset) return req.socket.destroy();
    if (f && f.status) {
      call.status = f.status;
      const b = f.body !== undefined ? (typeof f.body === 'string' ? f.body : JSON.stringify(f.body))
                                     : JSON.stringify({ code: 'Fault', message: `injected ${f.status}` });
      res.writeHead(f.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b),
                                ...(f.headers || {}) });
      return res.end(b);
    }
    if (!authOk(req)) {
      call.status = 401;
      return sendJson(res, 401, { code: 'Unauthorized', message: 'Authentication failed' });
    }
    const p = pageOf(req, url, table, !!(f && f.hostile));
    if (p.error) { call.status = 400; return sendJson(res, 400, { code: 'InvalidObject', message: p.error }); }
    let body = p.body;
    const headers = {};
    if (p.link) headers.link = p.link;
    if (f && f.repeatLink) headers.link = `<http://${req.headers.host}${req.url}>; rel="next"`;
    if (f && f.foreignLink) headers.link = '<http://198.51.100.7/v4_6_release/apis/3.0/service/tickets?x=1>; rel="next"';
    if (f && f.truncate) body = body.slice(0, Math.floor(body.length / 2));
    if (f && f.invalid) body = '<html><body>502 Bad Gateway</body></html>';
    call.status = 200;
    call.records = p.count;
    return sendJson(res, 200, body, headers);
  }

  function admin(req, res, url, body) {
    const p = url.pathname;
    if (p === '/__admin/expected') {
      const table = url.searchParams.get('table');
      if (!meta[table]) return sendJson(res, 404, { error: 'no such table' });
      const lo = Date.parse(url.searchParams.get('start'));
      const hi = Date.parse(url.searchParams.get('end'));
      const m = meta[table];
      const ids = [];
      for (let i = 0; i < m.ids.length; i++) if (m.lu[i] >= lo && m.lu[i] < hi) ids.push(m.ids[i]);
      return sendJson(res, 200, url.searchParams.get('noids') ? { count: ids.length }
                                                              : { count: ids.length, ids });
    }
    if (p === '/__admin/record') {
      const table = url.searchParams.get('table');
      const id = Number(url.searchParams.get('id'));
      const m = meta[table];
      const i = m ? m.ids.indexOf(id) : -1;
      if (i < 0) return sendJson(res, 404, { error: 'no such record' });
      return sendJson(res, 200, recordText(table, i));
    }
    if (p === '/__admin/calls') return sendJson(res, 200, state.calls);
    if (p === '/__admin/faults' && req.method === 'POST') {
      state.faults.push(...(JSON.parse(body || '{}').faults || []));
      return sendJson(res, 200, { queued: state.faults.length });
    }
    if (p === '/__admin/faults' && req.method === 'DELETE') {
      state.faults.length = 0;
      return sendJson(res, 200, {});
    }
    if (p === '/__admin/keys') {
      const b = JSON.parse(body || '{}');
      if (b.keys) state.keys = b.keys;
      if (b.clientId) state.clientId = b.clientId;
      return sendJson(res, 200, {});
    }
    if (p === '/__admin/mode') {
      state.mode = JSON.parse(body || '{}').mode || 'auto';
      return sendJson(res, 200, {});
    }
    if (p === '/__admin/reset') {
      state.calls.length = 0;
      state.faults.length = 0;
      state.mode = args.mode;
      state.keys = args.keys.split(',').filter(Boolean);
      state.clientId = args.clientId;
      return sendJson(res, 200, {});
    }
    if (p === '/__admin/health') return sendJson(res, 200, { ok: true });
    return sendJson(res, 404, { error: 'no such admin path' });
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => { if (chunks.length < 64) chunks.push(c); });
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const body = Buffer.concat(chunks).toString('utf8');
      if (url.pathname.startsWith('/__admin/')) return admin(req, res, url, body);
      const headers = { ...req.headers };
      delete headers.authorization;
      const call = { time: Date.now(), method: req.method, path: url.pathname,
                     query: url.search.slice(1), headers,
                     hasAuth: Boolean(req.headers.authorization) };
      if (state.calls.length < 20000) state.calls.push(call);
      api(req, res, url, call).catch((e) => {
        process.stderr.write(`fake connectwise: ${e.stack}\n`);
        if (!res.headersSent) sendJson(res, 500, { code: 'Internal', message: String(e.message) });
      });
    });
  });
  server.keepAliveTimeout = 30000;
  listenAndServe(server, { port: args.port, maxSeconds: args.maxSeconds, watchStdin: args.watchStdin });
}

if (require.main === module) main();
module.exports = { parseConditions, makeTicket, buildMeta, iso };
