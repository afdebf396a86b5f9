#!/usr/bin/env node
// fake_aws.js -- a stand-in for the `aws` CLI in tests/deploy/check.js.
//
// Answers `aws [--region R] [--profile P] SERVICE OPERATION --opt value ...`
// from canned API responses (the JSON AWS returns, not pre-formatted text),
// applies --query with the reference JMESPath implementation and prints
// --output text the way the CLI does (a list of lists: one tab-separated row
// each; a list of scalars: one tab-separated row; null: None), so the
// scripts' own query strings are evaluated against the real response shapes.
// Never talks to the network.
//
// FAKE_AWS_STATE: a JSON file {"OPERATION ARGVALUE": response, "OPERATION":
// response, ...}: the first key tried is the operation with the value of its
// identifying option (--execution-arn, --map-run-arn, --stack-name), then the
// operation alone. A response {"__error": "Code", "message": "..."} fails like
// the CLI (exit 254). FAKE_AWS_LOG: every call is appended as one line.
'use strict';
const fs = require('fs');
const path = require('path');

const NM = path.join(process.env.BF_TOP || path.resolve(__dirname, '../..'), 'tests/node_modules');
const jmespath = require(path.join(NM, 'jmespath'));

const argv = process.argv.slice(2);
if (process.env.FAKE_AWS_LOG) fs.appendFileSync(process.env.FAKE_AWS_LOG, `${argv.join(' ')}\n`);

const opts = {};
const words = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith('--')) {
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) opts[argv[i]] = true;
    else { opts[argv[i]] = next; i++; }
  } else words.push(argv[i]);
}
const [service, op] = words;
if (!service || !op) { process.stderr.write('fake aws: SERVICE OPERATION needed\n'); process.exit(252); }

const state = JSON.parse(fs.readFileSync(process.env.FAKE_AWS_STATE, 'utf8'));
const id = opts['--execution-arn'] || opts['--map-run-arn'] || opts['--stack-name'] || opts['--state-machine-arn'];
const key = [`${op} ${id}`, op].find((k) => Object.prototype.hasOwnProperty.call(state, k));
if (!key) {
  process.stderr.write(`\nAn error occurred (ResourceNotFound) when calling ${op}: fake aws has no answer for ${op} ${id || ''}\n`);
  process.exit(254);
}
const resp = state[key];
if (resp && resp.__error) {
  process.stderr.write(`\nAn error occurred (${resp.__error}) when calling the ${op} operation: ${resp.message || ''}\n`);
  process.exit(254);
}

let value = resp;
if (typeof opts['--query'] === 'string') value = jmespath.search(resp, opts['--query']);

function scalar(v) {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

let out;
if ((opts['--output'] || 'json') === 'json') out = JSON.stringify(value, null, 4);
else if (Array.isArray(value)) {
  out = value.length && value.every(Array.isArray)
    ? value.map((row) => row.map(scalar).join('\t')).join('\n')
    : value.map(scalar).join('\t');
} else out = scalar(value);
if (out !== '') process.stdout.write(`${out}\n`);
