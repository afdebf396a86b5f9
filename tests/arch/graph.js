#!/usr/bin/env node
// graph.js -- checks the dependency rule of src/README.md from the sources.
//
// Every `#include "<module>/..."` in src/<module>/ or include/<module>/ is
// an edge from that module to <module> (src/main.c is the module `main`).
// The rule: an edge may only point to a module LOWER in LAYERS, and the
// graph has no cycle. Edges that break the rule today and wait for a later
// restructuring step are listed in ALLOWED with the reason; the test fails
// on any other violation, and also on an allowed edge that has disappeared
// (so the list cannot go stale).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');

const TOP = path.resolve(__dirname, '..', '..');

// Bottom first. Keep in step with src/README.md, "The dependency rule".
const LAYERS = ['util', 'aws', 'config', 'catalog', 'tenant', 'task', 'plan', 'transform',
  'sink', 'source', 'chunk', 'fleet', 'worker', 'main'];

// Edges that break the rule and wait for a later restructuring step, with
// the reason. Empty: the rule holds.
const ALLOWED = {};

function files(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (/\.[ch]$/.test(e.name)) out.push(p);
  }
  return out;
}

function moduleOf(file) {
  const rel = path.relative(TOP, file).split(path.sep);
  if (rel.length === 2) return path.basename(rel[1], '.c');  // src/main.c
  return rel[1];
}

const edges = new Map();  // "a -> b" -> first file seen
for (const root of ['src', 'include']) {
  for (const f of files(path.join(TOP, root))) {
    const from = moduleOf(f);
    const text = fs.readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^\s*#\s*include\s+"([a-z_]+)\//gm)) {
      const to = m[1];
      if (to === from) continue;
      const key = `${from} -> ${to}`;
      if (!edges.has(key)) edges.set(key, path.relative(TOP, f));
    }
  }
}

// Each test lists every offending edge or cycle, not just the first.
function none(problems) {
  assert.ok(problems.length === 0, problems.join('\n'));
}

test('every edge points downward in LAYERS or is allowed', () => {
  const problems = [];
  const fail = (msg) => problems.push(msg);
  for (const [key, file] of [...edges].sort()) {
    const [from, to] = key.split(' -> ');
    const a = LAYERS.indexOf(from);
    const b = LAYERS.indexOf(to);
    if (a < 0 || b < 0) { fail(`${key} (${file}): module not in LAYERS`); continue; }
    if (b < a) continue;
    if (ALLOWED[key]) console.log(`ALLOW ${key} (${file}): ${ALLOWED[key]}`);
    else fail(`${key} (${file}): points upward`);
  }
  none(problems);
});

test('every allowed edge still exists', () => {
  none(Object.keys(ALLOWED).filter((key) => !edges.has(key))
    .map((key) => `${key}: allowed but gone; remove it from ALLOWED`));
});

// Cycle check over all edges, allowed ones included, so an allowed edge
// that closes a loop is still reported.
const adj = new Map();
for (const key of edges.keys()) {
  const [from, to] = key.split(' -> ');
  if (!adj.has(from)) adj.set(from, []);
  adj.get(from).push(to);
}
const state = new Map();
const cycles = [];
function visit(n, stack) {
  state.set(n, 1);
  stack.push(n);
  for (const m of adj.get(n) || []) {
    if (state.get(m) === 1) cycles.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
    else if (!state.has(m)) visit(m, stack);
  }
  stack.pop();
  state.set(n, 2);
}
for (const n of [...adj.keys()].sort()) if (!state.has(n)) visit(n, []);
test('no cycle except through an allowed edge', () => {
  const problems = [];
  for (const c of cycles) {
    const allowed = c.split(' -> ').some((x, i, arr) => i + 1 < arr.length &&
      ALLOWED[`${x} -> ${arr[i + 1]}`]);
    if (allowed) console.log(`ALLOW cycle ${c} (through an allowed edge)`);
    else problems.push(`cycle ${c}`);
  }
  none(problems);
});

test.after(() => console.log(`module graph: ${edges.size} edges, ${Object.keys(ALLOWED).length} allowed upward`));
