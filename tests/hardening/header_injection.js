#!/usr/bin/env node
// header_injection.js -- reproducer (tests/README.md "Input hardening"): a tenant
// secret whose client_id holds CR/LF must not inject HTTP headers into the
// ConnectWise requests. libcurl sends custom header strings verbatim, so a
// value "client-guid-1\r\nX-Injected: yes" becomes two headers unless the
// worker refuses it. Expected: run-chunk fails with
// Backfill.CredentialsInvalid (or at least sends no X-Injected header).
// Not in `make check` until the fix is in; run: make check-header-injection
// A node:test file: the runner prints the counts.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { TOP, BIN, startFake } = require('../e2e/harness');
const { tally } = require('./lib');

const { check, run } = tally();

async function main() {
  const cw = await startFake(path.join(TOP, 'tests/support/fake/connectwise.js'),
    ['--seed', '3', '--days', '5', '--tickets', '20', '--max-seconds', '60',
     '--client-id', 'client-guid-1']);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-hdr-'));
  fs.writeFileSync(path.join(work, 'tenants.json'), JSON.stringify([
    { tenant_id: 'acme', service: 'connectwise', enabled: true, secret_name: 'acme/dev' }]));
  fs.writeFileSync(path.join(work, 'secrets.json'), JSON.stringify({ 'acme/dev': { connectwise: {
    api_base_url: cw.url, company_id: 'acme', public_key: 'pubkey', private_key: 'privkey',
    client_id: 'client-guid-1\r\nX-Injected: yes' } } }));
  const r = spawnSync(BIN, ['run-chunk', '--input', '-'], {
    input: JSON.stringify({ tenant_id: 'acme', service: 'connectwise', table_name: 'service/tickets',
                            start_date: '2025-01-01', end_date: '2025-01-03' }),
    encoding: 'utf8', timeout: 60000,
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), AWS_EC2_METADATA_DISABLED: 'true',
           BACKFILL_TENANTS: `file://${work}/tenants.json`,
           BACKFILL_SECRETS: `file://${work}/secrets.json`, BACKFILL_OUTPUT: `file://${work}/out` },
  });
  const calls = await (await fetch(`${cw.url}/__admin/calls`)).json();
  const injected = calls.filter((c) => c.headers && 'x-injected' in c.headers).length;
  check('no request carries an injected header', injected === 0,
        `${injected} of ${calls.length} requests had X-Injected`);
  check('the secret is refused as Backfill.CredentialsInvalid',
        r.status === 1 && r.stdout.includes('Backfill.CredentialsInvalid'),
        `exit ${r.status}: ${r.stdout.slice(0, 200)}`);
  fs.rmSync(work, { recursive: true, force: true });
  cw.proc.stdin.end();
}
run('CR/LF in a secret\'s client_id', main);
