// rules.test.js -- the house rules that src/README.md states and a grep
// can check, read from the sources (node:test).
//
// - Sleeping: every wait goes through util (time_sleep_ms, waker_wait,
//   task_cancel_sleep), so no other module calls nanosleep and friends.
// - Backoff: one formula with its PRNG (util/backoff.h); no other module
//   calls rand() and friends.
// - Configuration: BACKFILL_* variables are read by config alone and
//   handed down; nothing below main() reads them.
// - The repository explains itself: no file cites a document that is not
//   in it, an issue number, or which helper produced the code.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');

const TOP = path.resolve(__dirname, '..', '..');
const SKIP = new Set(['node_modules', 'build', '.git', 'corpus', 'fixtures']);

function files(dir, re) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name) || e.name.startsWith('build')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, re));
    else if (e.isFile() && re.test(e.name)) out.push(p);
  }
  return out;
}

// Lines of the C sources under `roots` matching `re`, as "file:line: text",
// outside the directories in `allowed`.
function offenders(roots, re, allowed) {
  const hits = [];
  for (const root of roots)
    for (const f of files(path.join(TOP, root), /\.[ch]$/)) {
      const rel = path.relative(TOP, f);
      if (allowed.some((a) => rel.startsWith(a))) continue;
      fs.readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        if (re.test(line)) hits.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
    }
  return hits;
}

test('no module but util sleeps on its own', () => {
  const hits = offenders(['src', 'include'],
    /\b(nanosleep|clock_nanosleep|usleep)\s*\(|\bsleep\s*\(\s*\d/, ['src/util/']);
  assert.deepEqual(hits, []);
});

test('one backoff with jitter: no module draws its own random numbers', () => {
  const hits = offenders(['src', 'include'], /\b(rand_r|rand|random|drand48)\s*\(/,
    ['src/util/']);
  assert.deepEqual(hits, []);
});

test('BACKFILL_* settings are read only in config', () => {
  const hits = offenders(['src', 'include'], /getenv\s*\(\s*"BACKFILL_/,
    ['src/config/']);
  assert.deepEqual(hits, []);
});

test('the repository cites nothing outside itself', () => {
  const re = /\b(DESIGN|FACTS)\.md\b|\bissues? #?\d+\b|\b(added|written|produced) by the [\w -]*helper\b/i;
  const hits = [];
  for (const f of files(TOP, /\.(c|h|js|md|sh|mk|json|py|ya?ml)$|^Makefile$/)) {
    const rel = path.relative(TOP, f);
    if (rel === path.join('tests', 'arch', 'rules.test.js')) continue;
    fs.readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if (re.test(line)) hits.push(`${rel}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, []);
});

test('the rules catch what they are for', () => {
  // The patterns themselves, on lines they must flag and lines they must not.
  assert.ok(/\b(nanosleep|clock_nanosleep|usleep)\s*\(/.test('    nanosleep(&ts, NULL);'));
  assert.ok(!/\b(nanosleep|clock_nanosleep|usleep)\s*\(/.test('    time_sleep_ms(10);'));
  assert.ok(/getenv\s*\(\s*"BACKFILL_/.test('x = getenv("BACKFILL_CA_BUNDLE");'));
  assert.ok(!/getenv\s*\(\s*"BACKFILL_/.test('x = getenv("AWS_CA_BUNDLE");'));
});
