// install-deps.test.js -- `make check-install-deps`: deploy/scripts/
// install-deps.sh against stub package managers.
//
// `make deps` is the first thing a newcomer's `make demo` and `make check`
// run, and on the development machines every package is already there, so
// nothing else in the suite would notice if it broke. Each test copies the
// script into a scratch tree (so its npm stamp lives there), points its file
// probes at a scratch root (INSTALL_DEPS_ROOT) and runs it with a PATH that
// holds only stub `apt-get`, `npm` and `id` plus the few real tools the
// script uses. The stubs record every call, one JSON array of arguments a
// line, so a test sees exactly what apt-get and npm were handed.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const TOP = process.env.BF_TOP || path.resolve(__dirname, '../..');
const SCRIPT = path.join(TOP, 'deploy/scripts/install-deps.sh');

// Real tools the script needs besides bash builtins.
const REAL_TOOLS = ['sort', 'cmp', 'cp', 'dirname', 'mkdir', 'cat'];

// Every probe of the script, as it stands in the script: absolute paths are
// files under the scratch root, bare names are commands on PATH.
function probes() {
  const text = fs.readFileSync(SCRIPT, 'utf8');
  const table = /declare -A probe=\(([\s\S]*?)\n\)/.exec(text);
  assert.ok(table, 'install-deps.sh has no probe table');
  const out = {};
  for (const m of table[1].matchAll(/^\s*\[([^\]]+)\]=(\S+)/gm)) out[m[1]] = m[2];
  return out;
}

const RECORDER = (log) => `#!/bin/bash
# Records its name and arguments as one JSON line.
{ printf '["%s"' "\${0##*/}"; for a in "$@"; do printf ',"%s"' "$a"; done; printf ']\\n'; } >> ${log}
`;

// A scratch world: tree/ (a copy of the script and tests/package-lock.json),
// root/ (what the file probes see), bin/ (PATH), calls.log.
function world({ missing = [], uid = 0 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-deps-'));
  const tree = path.join(dir, 'tree');
  const root = path.join(dir, 'root');
  const bin = path.join(dir, 'bin');
  const log = path.join(dir, 'calls.log');
  fs.mkdirSync(path.join(tree, 'deploy/scripts'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'tests'), { recursive: true });
  fs.copyFileSync(SCRIPT, path.join(tree, 'deploy/scripts/install-deps.sh'));
  fs.writeFileSync(path.join(tree, 'tests/package-lock.json'), '{"lockfileVersion":3}\n');
  fs.mkdirSync(bin);
  fs.writeFileSync(log, '');
  for (const t of REAL_TOOLS) {
    const r = spawnSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' });
    fs.symlinkSync(r.stdout.trim(), path.join(bin, t));
  }
  const stub = (name, body) => fs.writeFileSync(path.join(bin, name), body, { mode: 0o755 });
  stub('apt-get', RECORDER(log));
  // npm ci creates node_modules, as the real one does.
  stub('npm', `${RECORDER(log)}mkdir -p node_modules\n`);
  stub('id', `#!/bin/bash\n[ "$1" = -u ] && { echo ${uid}; exit 0; }\nexit 1\n`);
  const p = probes();
  for (const [pkg, probe] of Object.entries(p)) {
    if (missing.includes(pkg)) continue;
    if (probe.startsWith('/')) {
      fs.mkdirSync(path.dirname(path.join(root, probe)), { recursive: true });
      fs.writeFileSync(path.join(root, probe), '');
    } else if (!fs.existsSync(path.join(bin, probe))) {
      stub(probe, '#!/bin/bash\nexit 0\n');
    }
  }
  // The two probes that are globs rather than table entries.
  if (!missing.includes('libcurl4-openssl-dev')) {
    fs.mkdirSync(path.join(root, 'usr/include/x86_64-linux-gnu/curl'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr/include/x86_64-linux-gnu/curl/curl.h'), '');
  }
  if (!missing.includes('libclang-rt-dev')) {
    const d = path.join(root, 'usr/lib/llvm-14/lib/clang/14.0.6/lib/linux');
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'libclang_rt.fuzzer-x86_64.a'), '');
  }
  return { dir, tree, root, bin, log, p };
}

function run(w) {
  const r = spawnSync('/bin/bash', [path.join(w.tree, 'deploy/scripts/install-deps.sh')], {
    encoding: 'utf8',
    env: { PATH: w.bin, HOME: w.dir, INSTALL_DEPS_ROOT: w.root },
  });
  const calls = fs.readFileSync(w.log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, out: r.stdout, err: r.stderr, calls };
}

const installs = (calls) => calls.filter((c) => c[0] === 'apt-get' && c.includes('install'));
const npmCalls = (calls) => calls.filter((c) => c[0] === 'npm');
// apt-get's package arguments: everything after the options.
const packagesOf = (call) => call.slice(1).filter((a) => a !== 'install' && !a.startsWith('-'));

test('each missing package reaches apt-get as its own argument, sorted', () => {
  const missing = ['libcjson-dev', 'check', 'libcurl4-openssl-dev', 'clang', 'shellcheck'];
  const w = world({ missing });
  const r = run(w);
  assert.equal(r.status, 0, r.err);
  const inst = installs(r.calls);
  assert.equal(inst.length, 1, `one apt-get install, got ${JSON.stringify(r.calls)}`);
  assert.deepEqual(packagesOf(inst[0]), [...missing].sort());
  assert.ok(r.calls.some((c) => c[0] === 'apt-get' && c.includes('update')), 'apt-get update first');
});

test('the libFuzzer runtime is found by its glob and installed as libclang-rt-dev', () => {
  const w = world({ missing: ['libclang-rt-dev', 'zlib1g-dev'] });
  const r = run(w);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(packagesOf(installs(r.calls)[0]), ['libclang-rt-dev', 'zlib1g-dev']);
});

test('nothing is installed when everything is present', () => {
  const w = world();
  fs.mkdirSync(path.join(w.tree, 'tests/node_modules'));
  fs.copyFileSync(path.join(w.tree, 'tests/package-lock.json'), path.join(w.tree, 'tests/node_modules/.installed-lock'));
  const r = run(w);
  assert.equal(r.status, 0, r.err);
  assert.deepEqual(r.calls, []);
  assert.equal(r.out, '');
});

test('as non-root it prints the exact command and exits non-zero, installing nothing', () => {
  const missing = ['check', 'libssl-dev', 'pkg-config'];
  const w = world({ missing, uid: 1000 });
  const r = run(w);
  assert.notEqual(r.status, 0);
  assert.deepEqual(r.calls, []);
  const want = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends check libssl-dev pkg-config';
  assert.ok(r.err.split('\n').some((l) => l.endsWith(`run as root: ${want}`)), r.err);
});

test('the npm step runs only when the lock file changed', () => {
  const w = world();
  let r = run(w);
  assert.equal(r.status, 0, r.err);
  assert.equal(npmCalls(r.calls).length, 1, 'first run: npm ci');
  assert.deepEqual(npmCalls(r.calls)[0].slice(0, 2), ['npm', 'ci']);
  fs.writeFileSync(w.log, '');
  r = run(w);
  assert.equal(r.status, 0, r.err);
  assert.equal(npmCalls(r.calls).length, 0, 'unchanged lock: no npm');
  fs.writeFileSync(path.join(w.tree, 'tests/package-lock.json'), '{"lockfileVersion":3,"changed":true}\n');
  r = run(w);
  assert.equal(r.status, 0, r.err);
  assert.equal(npmCalls(r.calls).length, 1, 'changed lock: npm ci again');
});

test('every probed package is one the test can remove (the table parses)', () => {
  const p = probes();
  assert.ok(Object.keys(p).length >= 15, `only ${Object.keys(p).length} probes parsed`);
  // npm stays: the stub apt-get installs nothing, so the npm step after it
  // needs the stub npm on PATH.
  for (const pkg of Object.keys(p).filter((k) => k !== 'npm')) {
    const r = run(world({ missing: [pkg] }));
    assert.equal(r.status, 0, `${pkg}: ${r.err}`);
    assert.deepEqual(packagesOf(installs(r.calls)[0] || ['apt-get']), [pkg], pkg);
  }
});
