// lib.js -- what the hardening scripts (secret_hygiene.js, faults.js,
// header_injection.js) share: the pass/fail tally with the closing
// `N passed, N failed` line, the fakes' admin API, the valgrind wrapper's
// settings, and a recursive file listing.
'use strict';
const fs = require('fs');
const path = require('path');

// A tally: check() prints one line per assertion; finish() prints the
// closing line and exits non-zero when anything failed (or `crash` is set).
function tally() {
  let passed = 0;
  let failed = 0;
  return {
    check(name, ok, detail) {
      if (ok) passed++; else failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
    },
    finish(crash) {
      if (crash) {
        console.log(`FAIL ${crash.stack || crash}`);
        failed++;
      }
      console.log(`${passed} passed, ${failed} failed`);
      process.exit(failed ? 1 : 0);
    },
  };
}

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
