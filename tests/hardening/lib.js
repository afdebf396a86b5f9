// lib.js -- what the hardening scripts (secret_hygiene.js, faults.js,
// header_injection.js) share: the checks as node:test subtests, the fakes'
// admin API, the valgrind wrapper's settings, and a recursive file listing.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { stopAll } = require('../e2e/harness');

// A tally: check() records one assertion; run() makes a node:test test of a
// scenario whose subtests are the checks it recorded. A check does not stop
// its scenario (each run of the worker is costly and the later checks still
// say something), so the checks are kept and reported, each as a passing or
// failing subtest, once the scenario is over; a scenario that throws fails
// its test after its checks are reported.
function tally() {
  let checks = [];
  return {
    check(name, ok, detail) {
      checks.push({ name, ok: Boolean(ok), detail });
    },
    run(name, scenario) {
      test(name, async (t) => {
        let crash = null;
        try { await scenario(t); } catch (e) { crash = e; }
        const mine = checks;
        checks = [];
        for (const c of mine) await t.test(c.name, () => assert.ok(c.ok, c.detail || c.name));
        if (crash) throw crash;
      });
    },
  };
}

// The fakes a scenario started stay up until the process ends (harness.js
// kills them on exit); node:test ends the process only once nothing is left
// running, so they are stopped when the last test is over.
test.after(() => stopAll());

// The fakes' admin API (tests/support/fake/*.js); the raw answer body.
async function admin(url, method, sub, body) {
  const r = await fetch(`${url}/__admin/${sub}`, {
    method, headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const buf = Buffer.from(await r.arrayBuffer());
  if (!r.ok) throw new Error(`admin ${method} ${sub}: ${r.status} ${buf.toString().slice(0, 200)}`);
  return buf;
}

async function adminJson(url, method, sub, body) {
  const buf = await admin(url, method, sub, body);
  return buf.length ? JSON.parse(buf.toString()) : null;
}

// The valgrind wrapper's settings (tests/hardening/vg-wrap.sh as BF_BIN)
// survive the clean environments the runs use.
function passThrough() {
  const out = {};
  for (const k of ['VG_LOG_DIR', 'VG_REAL_BIN']) if (process.env[k]) out[k] = process.env[k];
  return out;
}

// Every file under `dir` (none when it does not exist).
function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

module.exports = { tally, admin, adminJson, passThrough, walk };
