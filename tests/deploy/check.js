#!/usr/bin/env node
// check.js -- `make check-deploy`: static and behavioural checks of deploy/.
//
// Checks the CloudFormation template against the resource specification in
// npm @aws-cdk/cfnspec (types, properties, required properties, references,
// conditions), the IAM rules (no "*" resource without a `# star-ok:` comment,
// least privilege for the worker, the state machine role matching what the
// definition calls), that the template deploys exactly statemachine/
// backfill.asl.json (by path, with every ${...} substituted, and through a
// real `aws cloudformation package` against a local fake S3), the scripts
// (shellcheck, --help, runs against a stub `aws`), the Dockerfile
// (dockerfile-utils plus our own rules) and the systemd unit
// (systemd-analyze verify plus structural rules). A node:test file: one
// test per check, and the runner prints the counts.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const crypto = require('crypto');
const { spawnSync, spawn } = require('child_process');

const TOP = process.env.BF_TOP || path.resolve(__dirname, '../..');
const NM = path.join(TOP, 'tests/node_modules');
const YAML = require(path.join(NM, 'yaml'));
const SPEC = require(path.join(NM, '@aws-cdk/cfnspec/spec/specification.json'));
const dockerfileUtils = require(path.join(NM, 'dockerfile-utils'));

const TEMPLATE = path.join(TOP, 'deploy/cloudformation/backfill.yaml');
const ASL = path.join(TOP, 'statemachine/backfill.asl.json');
const SCRIPTS = path.join(TOP, 'deploy/scripts');
const OWN_SCRIPTS = ['deploy.sh', 'start-backfill.sh', 'watch-execution.sh', 'redrive.sh', 'build-image.sh'];

// A check returns (or resolves to) a list of problems; empty means pass. The
// list, not a first failed assertion, is what a check reports: one run shows
// every problem of a check (at most 30 of them).
function check(name, fn) {
  test(name, async (t) => {
    let problems = await fn();
    if (problems && problems.optional && OPTIONAL_TOOLS.has(problems.optional)) {
      skippedTools.add(problems.optional);
      t.skip(problems.why);
      return;
    }
    if (!Array.isArray(problems)) problems = [`not run: ${JSON.stringify(problems)}`];
    assert.ok(problems.length === 0,
      `${problems.length} problem(s):\n${problems.slice(0, 30).map((p) => `     - ${p}`).join('\n')}`);
  });
}

// Tools that `make deps` does not install. A check that needs one of them
// returns optional(tool, why) when it is missing or unusable: it is reported
// as skipped, and the run lists such tools at the end (and in $BF_SKIP_LOG, which
// `make check` prints last). Anything else a check cannot do is a failure.
const OPTIONAL_TOOLS = new Set(['aws', 'cfn-lint', 'systemd-analyze']);
const skippedTools = new Set();
function optional(tool, why) {
  return { optional: tool, why };
}

test.after(() => {
  if (skippedTools.size) {
    const list = [...skippedTools].sort().join(', ');
    console.log(`SKIP (optional tools make deps does not install): ${list}`);
    if (process.env.BF_SKIP_LOG) fs.appendFileSync(process.env.BF_SKIP_LOG, `check-deploy: ${list}\n`);
  }
});

// ---- CloudFormation YAML with short-form intrinsic tags --------------------
const SHORT = ['Ref', 'Condition', 'Base64', 'Cidr', 'FindInMap', 'GetAtt', 'GetAZs',
  'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'Transform', 'And', 'Equals',
  'If', 'Not', 'Or', 'Contains', 'EachMemberEquals', 'EachMemberIn', 'RefAll',
  'ValueOf', 'ValueOfAll', 'Length', 'ToJsonString'];
const CUSTOM_TAGS = SHORT.flatMap((t) => ['scalar', 'seq', 'map'].map((kind) =>
  kind === 'scalar' ? { tag: `!${t}`, resolve: (v) => v }
    : { tag: `!${t}`, collection: kind, resolve: (v) => v }));

function nodeToJs(node) {
  if (node == null) return null;
  let v;
  if (YAML.isScalar(node)) v = node.value;
  else if (YAML.isSeq(node)) v = node.items.map(nodeToJs);
  else if (YAML.isMap(node)) {
    v = {};
    for (const p of node.items) v[String(YAML.isScalar(p.key) ? p.key.value : p.key)] = nodeToJs(p.value);
  } else if (YAML.isAlias(node)) throw new Error('aliases are not used in CloudFormation');
  const tag = node.tag && node.tag.startsWith('!') ? node.tag.slice(1) : null;
  if (!tag) return v;
  if (tag === 'Ref') return { Ref: v };
  if (tag === 'Condition') return { Condition: v };
  if (tag === 'GetAtt' && typeof v === 'string') {
    const i = v.indexOf('.');
    return { 'Fn::GetAtt': [v.slice(0, i), v.slice(i + 1)] };
  }
  return { [`Fn::${tag}`]: v };
}

function loadTemplate() {
  const text = fs.readFileSync(TEMPLATE, 'utf8');
  const doc = YAML.parseDocument(text, { customTags: CUSTOM_TAGS, uniqueKeys: true });
  const errors = [...doc.errors, ...doc.warnings].map((e) => e.message);
  return { text, doc, errors, tpl: errors.length ? null : nodeToJs(doc.contents) };
}

const T = loadTemplate();
const tpl = T.tpl || {};
const resources = tpl.Resources || {};
const params = tpl.Parameters || {};
const conditions = tpl.Conditions || {};
const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition',
  'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
const NOVALUE = (v) => v && typeof v === 'object' && v.Ref === 'AWS::NoValue';

function isIntrinsic(v) {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const k = Object.keys(v);
  return k.length === 1 && (k[0] === 'Ref' || k[0].startsWith('Fn::') || k[0] === 'Condition');
}

// Variables named in a Fn::Sub string: ${Name} or ${Res.Attr}; ${!x} is literal.
function subVars(s) {
  const out = [];
  for (const m of String(s).matchAll(/\$\{([^}]*)\}/g)) if (!m[1].startsWith('!')) out.push(m[1].trim());
  return out;
}

// ---- template checks -----------------------------------------------------
check('template parses as CloudFormation YAML (short-form tags)', () => {
  if (T.errors.length) return T.errors;
  const p = [];
  const allowed = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules',
    'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs']);
  for (const k of Object.keys(tpl)) if (!allowed.has(k)) p.push(`unknown top-level key ${k}`);
  if (tpl.AWSTemplateFormatVersion !== '2010-09-09') p.push('AWSTemplateFormatVersion must be 2010-09-09');
  if (!Object.keys(resources).length) p.push('no Resources');
  return p;
});

check('template has the parameters deploy/README.md lists', () => {
  const need = ['Environment', 'DataBucket', 'TenantServicesTable', 'SecretsPrefix', 'WorkerImage', 'WorkerCount',
    'Concurrency', 'HeartbeatSeconds', 'LogLevel', 'LambdaCompatibility', 'EnableXRay', 'Subnets', 'DrainSeconds'];
  const p = need.filter((n) => !params[n]).map((n) => `missing parameter ${n}`);
  const types = new Set(['String', 'Number', 'List<Number>', 'CommaDelimitedList']);
  for (const [n, d] of Object.entries(params)) {
    if (!types.has(d.Type) && !String(d.Type).startsWith('AWS::')) p.push(`${n}: odd Type ${d.Type}`);
    if (d.Default !== undefined && d.AllowedValues && !d.AllowedValues.map(String).includes(String(d.Default)))
      p.push(`${n}: Default ${d.Default} not in AllowedValues`);
  }
  return p;
});

// Validate a value against a spec property definition, recursing into
// property types. `where` names the spot for messages.
function checkValue(resType, propSpec, value, where, p) {
  if (NOVALUE(value)) return;
  if (value && typeof value === 'object' && !Array.isArray(value) && value['Fn::If']) {
    const a = value['Fn::If'];
    if (Array.isArray(a) && a.length === 3) {
      checkValue(resType, propSpec, a[1], where, p);
      checkValue(resType, propSpec, a[2], where, p);
    }
    return;
  }
  if (isIntrinsic(value)) return;
  const itemTypeName = propSpec.ItemType;
  if (propSpec.Type === 'List') {
    if (!Array.isArray(value)) { p.push(`${where}: expected a list`); return; }
    value.forEach((item, i) => {
      if (itemTypeName) checkStruct(resType, itemTypeName, item, `${where}[${i}]`, p);
      else checkPrimitive(propSpec.PrimitiveItemType, item, `${where}[${i}]`, p);
    });
  } else if (propSpec.Type === 'Map') {
    if (typeof value !== 'object' || Array.isArray(value)) { p.push(`${where}: expected a map`); return; }
    for (const [k, item] of Object.entries(value)) {
      if (itemTypeName) checkStruct(resType, itemTypeName, item, `${where}.${k}`, p);
      else checkPrimitive(propSpec.PrimitiveItemType, item, `${where}.${k}`, p);
    }
  } else if (propSpec.Type) {
    checkStruct(resType, propSpec.Type, value, where, p);
  } else {
    checkPrimitive(propSpec.PrimitiveType, value, where, p);
  }
}

function checkPrimitive(prim, value, where, p) {
  if (NOVALUE(value) || isIntrinsic(value)) return;
  if (prim === 'Json') {
    if (typeof value !== 'object') p.push(`${where}: expected JSON object`);
    return;
  }
  if (typeof value === 'object' && value !== null) { p.push(`${where}: expected ${prim}, got a collection`); return; }
  if ((prim === 'Integer' || prim === 'Long' || prim === 'Double') && !/^-?\d+(\.\d+)?$/.test(String(value)))
    p.push(`${where}: expected ${prim}, got ${value}`);
  if (prim === 'Boolean' && !['true', 'false'].includes(String(value))) p.push(`${where}: expected Boolean, got ${value}`);
}

function checkStruct(resType, typeName, value, where, p) {
  if (NOVALUE(value)) return;
  if (value && value['Fn::If']) { checkValue(resType, { Type: typeName }, value, where, p); return; }
  if (isIntrinsic(value)) return;
  const ts = SPEC.PropertyTypes[`${resType}.${typeName}`] || SPEC.PropertyTypes[typeName];
  if (!ts) { p.push(`${where}: property type ${typeName} not in the specification`); return; }
  if (typeof value !== 'object' || Array.isArray(value)) { p.push(`${where}: expected ${typeName} object`); return; }
  checkProps(resType, ts.Properties || {}, value, where, p);
}

function checkProps(resType, specProps, value, where, p) {
  for (const [k, v] of Object.entries(value)) {
    if (!specProps[k]) { p.push(`${where}: unknown property ${k}`); continue; }
    checkValue(resType, specProps[k], v, `${where}.${k}`, p);
  }
  for (const [k, s] of Object.entries(specProps))
    if (s.Required && value[k] === undefined) p.push(`${where}: required property ${k} missing`);
}

check(`every resource type and property exists in the CloudFormation spec ${SPEC.ResourceSpecificationVersion} (@aws-cdk/cfnspec), required ones present`, () => {
  const p = [];
  const attrs = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'Metadata', 'DeletionPolicy',
    'UpdateReplacePolicy', 'CreationPolicy', 'UpdatePolicy']);
  for (const [name, r] of Object.entries(resources)) {
    for (const k of Object.keys(r)) if (!attrs.has(k)) p.push(`${name}: unknown resource attribute ${k}`);
    const rs = SPEC.ResourceTypes[r.Type];
    if (!rs) { p.push(`${name}: resource type ${r.Type} not in the specification`); continue; }
    // A local path that `aws cloudformation package` replaces by an
    // S3Location; the packaged form is checked in the package test below.
    const props = { ...(r.Properties || {}) };
    if (r.Type === 'AWS::StepFunctions::StateMachine' && typeof props.DefinitionS3Location === 'string') {
      if (!fs.existsSync(path.resolve(path.dirname(TEMPLATE), props.DefinitionS3Location))) p.push(`${name}: DefinitionS3Location file missing`);
      props.DefinitionS3Location = { Bucket: 'packaged', Key: 'packaged' };
    }
    checkProps(r.Type, rs.Properties || {}, props, name, p);
  }
  return p;
});

// Walk every value, calling visit(value, ctx) with ctx.trueConds = the
// conditions known to hold at that point (resource Condition, Fn::If branch).
function walk(v, ctx, visit) {
  if (Array.isArray(v)) { v.forEach((x) => walk(x, ctx, visit)); return; }
  if (!v || typeof v !== 'object') return;
  visit(v, ctx);
  if (v['Fn::If'] && Array.isArray(v['Fn::If'])) {
    const [c, a, b] = v['Fn::If'];
    walk(a, { ...ctx, trueConds: new Set([...ctx.trueConds, c]) }, visit);
    walk(b, ctx, visit);
    return;
  }
  for (const x of Object.values(v)) walk(x, ctx, visit);
}

function refProblems(v, ctx, p) {
  const where = ctx.where;
  const target = (name) => {
    if (params[name] || PSEUDO.has(name)) return;
    if (ctx.inRules) { p.push(`${where}: Rules may only Ref parameters (${name})`); return; }
    const r = resources[name];
    if (!r) { p.push(`${where}: reference to unknown ${name}`); return; }
    if (r.Condition && !ctx.trueConds.has(r.Condition))
      p.push(`${where}: refers to ${name}, which exists only under condition ${r.Condition}`);
  };
  const getatt = (res, attr) => {
    const r = resources[res];
    if (!r) { p.push(`${where}: GetAtt of unknown resource ${res}`); return; }
    target(res);
    const rs = SPEC.ResourceTypes[r.Type];
    if (rs && !(rs.Attributes || {})[attr]) p.push(`${where}: ${r.Type} has no attribute ${attr}`);
  };
  if (typeof v.Ref === 'string') target(v.Ref);
  if (v['Fn::GetAtt']) {
    const g = v['Fn::GetAtt'];
    if (Array.isArray(g) && g.length === 2) getatt(g[0], g[1]);
    else p.push(`${where}: malformed Fn::GetAtt`);
  }
  if (v['Fn::Sub'] !== undefined) {
    const s = v['Fn::Sub'];
    const str = Array.isArray(s) ? s[0] : s;
    const local = Array.isArray(s) ? Object.keys(s[1] || {}) : [];
    if (typeof str !== 'string') p.push(`${where}: Fn::Sub needs a string`);
    for (const name of subVars(str)) {
      if (local.includes(name)) continue;
      const dot = name.indexOf('.');
      if (dot > 0 && !PSEUDO.has(name)) getatt(name.slice(0, dot), name.slice(dot + 1));
      else target(name);
    }
    for (const k of local) if (!subVars(str).includes(k)) p.push(`${where}: Fn::Sub variable ${k} unused`);
  }
  if (v['Fn::If']) {
    const c = v['Fn::If'][0];
    if (!conditions[c]) p.push(`${where}: Fn::If on unknown condition ${c}`);
  }
  if (typeof v.Condition === 'string' && Object.keys(v).length === 1 && !conditions[v.Condition])
    p.push(`${where}: unknown condition ${v.Condition}`);
  if (v['Fn::FindInMap'] && !(tpl.Mappings || {})[v['Fn::FindInMap'][0]])
    p.push(`${where}: FindInMap of unknown map ${v['Fn::FindInMap'][0]}`);
}

check('Ref, GetAtt, Sub, If and DependsOn resolve to parameters, resources, pseudo parameters and conditions', () => {
  const p = [];
  const visit = (v, ctx) => refProblems(v, ctx, p);
  for (const [name, r] of Object.entries(resources)) {
    const ctx = { where: name, trueConds: new Set(r.Condition ? [r.Condition] : []) };
    if (r.Condition && !conditions[r.Condition]) p.push(`${name}: unknown condition ${r.Condition}`);
    walk(r.Properties || {}, ctx, visit);
    for (const d of [].concat(r.DependsOn || [])) if (!resources[d]) p.push(`${name}: DependsOn unknown ${d}`);
  }
  for (const [name, o] of Object.entries(tpl.Outputs || {})) {
    walk(o, { where: `Outputs.${name}`, trueConds: new Set(o.Condition ? [o.Condition] : []) }, visit);
  }
  for (const [name, c] of Object.entries(conditions)) walk(c, { where: `Conditions.${name}`, trueConds: new Set(), inRules: true }, visit);
  for (const [name, r] of Object.entries(tpl.Rules || {})) walk(r, { where: `Rules.${name}`, trueConds: new Set(), inRules: true }, visit);
  for (const [name, d] of Object.entries(params)) {
    if (/[^A-Za-z0-9]/.test(name)) p.push(`parameter name ${name} not alphanumeric`);
    if (d.Type === 'Number' && d.Default !== undefined && isNaN(Number(d.Default))) p.push(`${name}: non-numeric default`);
  }
  const used = new Set();
  walk({ r: resources, o: tpl.Outputs, c: conditions, ru: tpl.Rules }, { trueConds: new Set() }, (v) => {
    if (typeof v.Ref === 'string') used.add(v.Ref);
    if (v['Fn::Sub']) for (const n of subVars(Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub'])) used.add(n);
  });
  for (const n of Object.keys(params)) if (!used.has(n)) p.push(`parameter ${n} is never used`);
  return p;
});

// ---- IAM -----------------------------------------------------------------
// Actions for which AWS offers no resource-level permission, so "*" is the
// only possible Resource. A star-ok comment cannot excuse anything else.
const STAR_REQUIRED = new Set(['logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules',
  'xray:GetSamplingTargets', 'ecr:GetAuthorizationToken']);

// Statements of a policy document, with the conditions under which each exists.
function statements(doc) {
  const out = [];
  const add = (s, conds) => {
    if (NOVALUE(s)) return;
    if (s && s['Fn::If']) {
      const [c, a, b] = s['Fn::If'];
      add(a, [...conds, c]);
      add(b, [...conds, `!${c}`]);
      return;
    }
    out.push({ s, conds });
  };
  for (const s of [].concat((doc && doc.Statement) || [])) add(s, []);
  return out;
}

function policies() {
  const out = [];
  for (const [name, r] of Object.entries(resources)) {
    const pr = r.Properties || {};
    if (r.Type === 'AWS::IAM::Role') for (const pol of pr.Policies || []) out.push({ owner: name, doc: pol.PolicyDocument });
    if (r.Type === 'AWS::IAM::ManagedPolicy' || r.Type === 'AWS::IAM::Policy') out.push({ owner: name, doc: pr.PolicyDocument });
  }
  return out;
}

function flatStrings(v) {
  if (Array.isArray(v)) return v.flatMap(flatStrings);
  if (v && v['Fn::If']) return [...flatStrings(v['Fn::If'][1]), ...flatStrings(v['Fn::If'][2])];
  return [v];
}

// Sids whose Resource: "*" line carries a `# star-ok: reason` comment.
function starOkSids() {
  const ok = new Set();
  YAML.visit(T.doc, {
    Map(_, map) {
      const get = (k) => map.items.find((it) => YAML.isScalar(it.key) && it.key.value === k);
      const res = get('Resource');
      if (!res || !YAML.isScalar(res.value) || res.value.value !== '*') return;
      const c = `${res.value.comment || ''} ${res.key.commentBefore || ''}`;
      const sid = get('Sid');
      if (/star-ok:\s*\S{3,}/.test(c) && sid) ok.add(sid.value.value);
    },
  });
  return ok;
}

check('IAM: no "*" resource except where AWS requires one, each marked `# star-ok: reason`; no wildcard actions', () => {
  const p = [];
  const ok = starOkSids();
  for (const { owner, doc } of policies()) {
    for (const { s } of statements(doc)) {
      const where = `${owner}.${s.Sid || '(no Sid)'}`;
      if (!s.Sid) p.push(`${where}: every statement needs a Sid`);
      if (s.Effect !== 'Allow') p.push(`${where}: Effect ${s.Effect}`);
      if (s.NotResource || s.NotAction) p.push(`${where}: NotResource/NotAction not allowed`);
      const actions = flatStrings(s.Action);
      for (const a of actions) if (typeof a !== 'string' || a === '*' || a.endsWith(':*')) p.push(`${where}: wildcard action ${a}`);
      const res = flatStrings(s.Resource);
      if (!res.length) p.push(`${where}: no Resource`);
      if (!res.includes('*')) continue;
      if (!ok.has(s.Sid)) p.push(`${where}: Resource "*" without a "# star-ok: reason" comment`);
      for (const a of actions) if (!STAR_REQUIRED.has(a)) p.push(`${where}: ${a} supports resource-level permissions; "*" not allowed`);
    }
  }
  return p;
});

const resourceOf = (type) => Object.entries(resources).filter(([, r]) => r.Type === type);

check('IAM: worker policy is least privilege (activity, raw/canonical prefixes, tenant table, secret prefix, Lambda only under its condition)', () => {
  const p = [];
  const wp = resources.WorkerPolicy;
  if (!wp) return ['no WorkerPolicy'];
  const sts = statements(wp.Properties.PolicyDocument);
  const expected = new Set(['states:GetActivityTask', 'states:SendTaskSuccess', 'states:SendTaskFailure',
    'states:SendTaskHeartbeat', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:GetObject',
    's3:ListBucket', 's3:ListBucketMultipartUploads', 'dynamodb:GetItem', 'secretsmanager:GetSecretValue', 'kms:GenerateDataKey', 'kms:Decrypt',
    'lambda:InvokeFunction']);
  const seen = new Set();
  for (const { s, conds } of sts) {
    const acts = flatStrings(s.Action);
    const res = flatStrings(s.Resource);
    const rs = JSON.stringify(res);
    acts.forEach((a) => seen.add(a));
    for (const a of acts) if (!expected.has(a)) p.push(`${s.Sid}: unexpected action ${a}`);
    const svc = new Set(acts.map((a) => a.split(':')[0]));
    if (svc.size !== 1) p.push(`${s.Sid}: mixes services`);
    if (svc.has('states') && !(res.length === 1 && res[0].Ref === 'BackfillActivity')) p.push(`${s.Sid}: states actions must target only the activity`);
    if (acts.some((a) => ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:GetObject'].includes(a))) {
      for (const r of res) {
        const str = JSON.stringify(r);
        if (!/\/raw\/\*|\/canonical\/\*/.test(str)) p.push(`${s.Sid}: object resource outside raw/canonical: ${str}`);
        if (acts.includes('s3:GetObject') && !/\/raw\/\*/.test(str)) p.push(`${s.Sid}: GetObject beyond raw/`);
      }
    }
    if (acts.includes('s3:ListBucket')) {
      const pre = s.Condition && s.Condition.StringLike && s.Condition.StringLike['s3:prefix'];
      if (!pre) p.push(`${s.Sid}: ListBucket without an s3:prefix condition`);
      else if (!/raw\/\*/.test(JSON.stringify(pre)) || /backfill_metadata/.test(JSON.stringify(pre))) p.push(`${s.Sid}: s3:prefix condition too wide`);
    }
    if (acts.includes('s3:ListBucketMultipartUploads') && (acts.length !== 1 || !/^\{"Fn::Sub":"arn:\$\{AWS::Partition\}:s3:::\$\{DataBucket\}"\}$/.test(JSON.stringify(res[0])) || res.length !== 1))
      p.push(`${s.Sid}: ListBucketMultipartUploads must be alone, on the data bucket only`);
    if (svc.has('dynamodb') && !/:table\/\$\{T\}/.test(rs)) p.push(`${s.Sid}: GetItem not on the tenant table`);
    if (svc.has('secretsmanager') && !/secret:\$\{SecretsPrefix\}\*|secret:\*\/\$\{Environment\}-\?\?\?\?\?\?/.test(rs)) p.push(`${s.Sid}: secrets not limited to the prefix`);
    if (svc.has('lambda')) {
      if (!conds.some((c) => /^UseLambda/.test(c))) p.push(`${s.Sid}: Lambda permission not under a LambdaCompatibility condition`);
      if (!/function:avesa-[^"]*-\$\{Environment\}/.test(rs)) p.push(`${s.Sid}: Lambda resource is not avesa-*-{env}`);
    }
    if (svc.has('kms') && !conds.some((c) => /^Has.*Kms/.test(c))) p.push(`${s.Sid}: KMS permission not conditional`);
    if (svc.has('kms') && !(s.Condition && s.Condition.StringEquals && s.Condition.StringEquals['kms:ViaService'])) p.push(`${s.Sid}: KMS without kms:ViaService`);
  }
  for (const a of expected) if (!seen.has(a)) p.push(`worker policy lacks ${a}`);
  for (const c of ['UseLambdaIngest', 'UseLambdaTransform']) {
    const ok = JSON.stringify(conditions[c] || '').includes('LambdaCompatibility');
    if (!ok) p.push(`condition ${c} does not depend on LambdaCompatibility`);
  }
  const wr = resources.WorkerRole;
  if (!wr || JSON.stringify(wr.Properties.ManagedPolicyArns) !== JSON.stringify([{ Ref: 'WorkerPolicy' }])) p.push('WorkerRole must carry only WorkerPolicy');
  if (wr && wr.Properties.Policies) p.push('WorkerRole has inline policies');
  return p;
});

// IAM actions needed by a Task's Resource in the definition.
function actionsForTaskResource(r) {
  if (r === '${BackfillActivityArn}') return [];
  const sdk = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)(\.\w+)?$/.exec(r);
  if (sdk) return [`${sdk[1]}:${sdk[2][0].toUpperCase()}${sdk[2].slice(1)}`];
  throw new Error(`no IAM mapping for Task resource ${r}`);
}

function aslTaskResources(def) {
  const out = [];
  const visitStates = (states) => {
    for (const st of Object.values(states || {})) {
      if (st.Type === 'Task') out.push(st.Resource);
      if (st.ItemProcessor) visitStates(st.ItemProcessor.States);
      if (st.Iterator) visitStates(st.Iterator.States);
      for (const b of st.Branches || []) visitStates(b.States);
    }
  };
  visitStates(def.States);
  return out;
}

check('IAM: state machine role allows exactly what backfill.asl.json calls (plus log delivery, X-Ray only when enabled)', () => {
  const p = [];
  const def = JSON.parse(fs.readFileSync(ASL, 'utf8'));
  const need = new Set(aslTaskResources(def).flatMap(actionsForTaskResource));
  const role = resources.StateMachineRole;
  const sm = resources.BackfillStateMachine;
  if (!role || !sm) return ['no StateMachineRole / BackfillStateMachine'];
  if (JSON.stringify(sm.Properties.RoleArn) !== JSON.stringify({ 'Fn::GetAtt': ['StateMachineRole', 'Arn'] })) p.push('state machine does not use StateMachineRole');
  const have = new Set();
  for (const pol of role.Properties.Policies || []) {
    for (const { s, conds } of statements(pol.PolicyDocument)) {
      for (const a of flatStrings(s.Action)) {
        if (STAR_REQUIRED.has(a) && a.startsWith('logs:')) continue;
        if (a.startsWith('xray:')) { if (!conds.includes('XRayOn')) p.push(`${s.Sid}: X-Ray not conditional on XRayOn`); continue; }
        if (a.startsWith('kms:')) { if (!conds.some((c) => /Kms/.test(c))) p.push(`${s.Sid}: KMS not conditional`); continue; }
        have.add(a);
        if (a === 's3:PutObject' && !/backfill_metadata\/\*/.test(JSON.stringify(s.Resource))) p.push(`${s.Sid}: PutObject beyond backfill_metadata/`);
      }
    }
  }
  for (const a of need) if (!have.has(a)) p.push(`role lacks ${a}, which the definition calls`);
  for (const a of have) if (!need.has(a)) p.push(`role allows ${a}, which the definition does not call`);
  if (role.Properties.ManagedPolicyArns) p.push('state machine role has managed policies');
  return p;
});

// ---- the deployed definition --------------------------------------------
check('state machine: STANDARD, DefinitionS3Location is ../../statemachine/backfill.asl.json (the file tests/asl validates), logging and X-Ray wired', () => {
  const p = [];
  const sm = resources.BackfillStateMachine;
  if (!sm) return ['no BackfillStateMachine'];
  const pr = sm.Properties;
  if (pr.StateMachineType !== 'STANDARD') p.push('StateMachineType must be STANDARD (activities, redrive)');
  if (pr.Definition || pr.DefinitionString) p.push('inline definition: must come from the file');
  const loc = pr.DefinitionS3Location;
  if (typeof loc !== 'string') return [...p, 'DefinitionS3Location must be a local path for `aws cloudformation package`'];
  const resolved = path.resolve(path.dirname(TEMPLATE), loc);
  if (resolved !== fs.realpathSync(ASL)) p.push(`DefinitionS3Location resolves to ${resolved}, not ${ASL}`);
  // The state machine tests must read the same file.
  const aslTests = fs.existsSync(path.join(TOP, 'tests/asl'))
    ? fs.readdirSync(path.join(TOP, 'tests/asl')).filter((f) => /\.(js|mjs|cjs|sh|mk)$/.test(f)) : [];
  // String literals naming the definition in tests/asl, resolved from the top.
  const readers = aslTests.filter((f) => [...fs.readFileSync(path.join(TOP, 'tests/asl', f), 'utf8')
    .matchAll(/['"]([^'"\n]*backfill\.asl\.json)['"]/g)]
    .some((m) => path.resolve(TOP, m[1]) === fs.realpathSync(ASL)));
  if (!readers.length) p.push('no test in tests/asl reads statemachine/backfill.asl.json');
  const lc = pr.LoggingConfiguration || {};
  const dest = JSON.stringify(lc.Destinations || []);
  if (!dest.includes('StateMachineLogGroup')) p.push('logging does not go to StateMachineLogGroup');
  if (JSON.stringify(pr.TracingConfiguration) !== JSON.stringify({ Enabled: { 'Fn::If': ['XRayOn', true, false] } })) p.push('X-Ray not driven by EnableXRay');
  return p;
});

check('state machine: every ${...} in backfill.asl.json has a DefinitionSubstitutions entry, none unused, result is JSON', () => {
  const p = [];
  const text = fs.readFileSync(ASL, 'utf8');
  const used = new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]));
  const subs = (resources.BackfillStateMachine.Properties.DefinitionSubstitutions) || {};
  for (const u of used) if (!(u in subs)) p.push(`\${${u}} has no DefinitionSubstitutions entry`);
  for (const k of Object.keys(subs)) if (!used.has(k)) p.push(`substitution ${k} is not used by the definition`);
  if (!used.has('BackfillActivityArn')) p.push('definition does not use ${BackfillActivityArn}');
  else if (JSON.stringify(subs.BackfillActivityArn) !== JSON.stringify({ Ref: 'BackfillActivity' })) p.push('BackfillActivityArn must be !Ref BackfillActivity');
  const filled = text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, n) => `X${n}X`);
  try { JSON.parse(filled); } catch (e) { p.push(`definition is not JSON after substitution: ${e.message}`); }
  return p;
});

// A tiny S3 on 127.0.0.1 that stores PUT bodies, for `aws cloudformation package`.
function fakeS3() {
  const objects = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://x');
      const key = decodeURIComponent(u.pathname).replace(/^\/+/, '');
      let body = Buffer.concat(chunks);
      if (/aws-chunked/.test(req.headers['content-encoding'] || '')) body = decodeAwsChunked(body);
      if (req.method === 'PUT') {
        objects.set(key, body);
        res.writeHead(200, { ETag: `"${crypto.createHash('md5').update(body).digest('hex')}"` });
        res.end();
      } else if (req.method === 'HEAD') {
        res.writeHead(objects.has(key) ? 200 : 404); res.end();
      } else { res.writeHead(405); res.end(); }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, objects, port: server.address().port })));
}

function decodeAwsChunked(buf) {
  const out = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(buf.slice(i, eol).toString().split(';')[0], 16);
    if (!size) break;
    out.push(buf.slice(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

function runAsync(cmd, args, opts) {
  return new Promise((resolve) => {
    const ch = spawn(cmd, args, opts);
    let out = '';
    let err = '';
    ch.stdout.on('data', (d) => { out += d; });
    ch.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => ch.kill('SIGKILL'), 120000);
    ch.on('close', (status) => { clearTimeout(timer); resolve({ status, out, err }); });
  });
}

// The CLI must honour AWS_ENDPOINT_URL_S3 (botocore >= 1.31, AWS CLI v2 >=
// 2.13); an older one would send the upload to AWS itself, so it is skipped.
function awsCliProblem() {
  const r = spawnSync('aws', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'the AWS CLI is not installed';
  const v = `${r.stdout}${r.stderr}`;
  const ver = (re) => { const m = re.exec(v); return m ? [Number(m[1]), Number(m[2])] : null; };
  const older = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const bc = ver(/botocore\/(\d+)\.(\d+)/);
  const v2 = ver(/aws-cli\/2\.(\d+)\.(\d+)/);
  if (bc && !older(bc, [1, 31])) return null;
  if (v2 && v2[0] >= 13) return null;
  return `this AWS CLI (${v.trim()}) may ignore AWS_ENDPOINT_URL_S3`;
}

check('deploy.sh --package-only with the real AWS CLI uploads backfill.asl.json byte for byte and points DefinitionS3Location at it', async () => {
  const why = awsCliProblem();
  if (why) return optional('aws', `${why}; this check needs it (and never talks to AWS)`);
  const s3 = await fakeS3();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-deploy-'));
  const out = path.join(tmp, 'packaged.yaml');
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3.port}`,
    AWS_ENDPOINT_URL: `http://127.0.0.1:${s3.port}`, AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(tmp, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, 'none'),
    AWS_S3_ADDRESSING_STYLE: 'path', AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    // Second guard: anything not for 127.0.0.1 goes to a closed local port.
    HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1',
    https_proxy: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9', no_proxy: '127.0.0.1' };
  delete env.AWS_PROFILE;
  fs.writeFileSync(path.join(tmp, 'none'), '[default]\ns3 =\n  addressing_style = path\n');
  const r = await runAsync(path.join(SCRIPTS, 'deploy.sh'), ['--artifact-bucket', 'bf-artifacts', '--env', 'test',
    '--package-only', '--packaged-file', out], { env });
  s3.server.close();
  const p = [];
  if (r.status !== 0) return [`deploy.sh exited ${r.status}: ${r.err.trim().slice(-800)}`];
  if (r.out.trim() !== out) p.push(`deploy.sh printed ${r.out.trim()}, expected ${out}`);
  const packaged = YAML.parseDocument(fs.readFileSync(out, 'utf8'), { customTags: CUSTOM_TAGS });
  const loc = nodeToJs(packaged.contents).Resources.BackfillStateMachine.Properties.DefinitionS3Location;
  if (!loc || loc.Bucket !== 'bf-artifacts' || !loc.Key) return [...p, `packaged DefinitionS3Location is ${JSON.stringify(loc)}`];
  checkValue('AWS::StepFunctions::StateMachine', SPEC.ResourceTypes['AWS::StepFunctions::StateMachine'].Properties.DefinitionS3Location,
    loc, 'packaged DefinitionS3Location', p);
  const key = `bf-artifacts/${loc.Key}`;
  const body = s3.objects.get(key);
  if (!body) return [...p, `nothing uploaded at ${key} (uploaded: ${[...s3.objects.keys()].join(', ')})`];
  const want = fs.readFileSync(ASL);
  if (!body.equals(want)) p.push(`uploaded ${body.length} bytes differ from ${ASL} (${want.length} bytes)`);
  if (!loc.Key.startsWith('avesa-backfill/test/')) p.push(`artifact key ${loc.Key} not under --artifact-prefix default`);
  fs.rmSync(tmp, { recursive: true, force: true });
  return p;
});

// ---- Fargate and worker environment ---------------------------------------
function configEnvNames() {
  const h = fs.readFileSync(path.join(TOP, 'include/config/config.h'), 'utf8');
  return new Set([...h.matchAll(/\b(BACKFILL_[A-Z_]+)\b/g)].map((m) => m[1]));
}

check('Fargate: stopTimeout covers the drain (<=120 s), awslogs, non-root image entry, env names are real BACKFILL_* settings', () => {
  const p = [];
  const td = resources.WorkerTaskDefinition;
  if (!td) return ['no WorkerTaskDefinition'];
  if (td.Condition !== 'CreateFargate' || (resources.WorkerService || {}).Condition !== 'CreateFargate') p.push('Fargate resources must be optional (CreateFargate)');
  const c = td.Properties.ContainerDefinitions[0];
  const drainMax = Number(params.DrainSeconds.MaxValue);
  if (!(c.StopTimeout <= 120)) p.push(`StopTimeout ${c.StopTimeout} above the Fargate maximum 120`);
  // The worker exits within drain + 10 s (README "Running the worker", Shutdown); keep 5 s more.
  if (!(c.StopTimeout >= drainMax + 15)) p.push(`StopTimeout ${c.StopTimeout} does not cover DrainSeconds up to ${drainMax} + 15 s`);
  if (Number(params.DrainSeconds.Default) !== 90) p.push('DrainSeconds default should be the worker default 90');
  if ((c.LogConfiguration || {}).LogDriver !== 'awslogs') p.push('container does not log with awslogs');
  const names = configEnvNames();
  const env = flatStrings(c.Environment).filter((e) => e && e.Name);
  for (const e of env) if (/^BACKFILL_/.test(e.Name) && !names.has(e.Name)) p.push(`${e.Name} is not a setting in include/config/config.h`);
  const byName = Object.fromEntries(env.map((e) => [e.Name, e.Value]));
  if (JSON.stringify(byName.BACKFILL_DRAIN_SECONDS) !== JSON.stringify({ Ref: 'DrainSeconds' })) p.push('BACKFILL_DRAIN_SECONDS not from DrainSeconds');
  if (JSON.stringify(byName.BACKFILL_ACTIVITY_ARN) !== JSON.stringify({ Ref: 'BackfillActivity' })) p.push('BACKFILL_ACTIVITY_ARN not the activity');
  if (JSON.stringify(td.Properties.TaskRoleArn) !== JSON.stringify({ 'Fn::GetAtt': ['WorkerRole', 'Arn'] })) p.push('task role is not WorkerRole');
  if (JSON.stringify(c.Command) !== JSON.stringify(['worker'])) p.push('container command must be [worker]');
  const svc = resources.WorkerService.Properties;
  if (JSON.stringify(svc.DesiredCount) !== JSON.stringify({ Ref: 'WorkerCount' })) p.push('DesiredCount not WorkerCount');
  return p;
});

check('alarms: failed executions and tasks waiting with no worker (AWS/States activity metrics)', () => {
  const p = [];
  const alarms = resourceOf('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
  const metricsOf = (a) => [a.MetricName, ...(a.Metrics || []).map((m) => m.MetricStat && m.MetricStat.Metric.MetricName)].filter(Boolean);
  const failed = alarms.find((a) => metricsOf(a).includes('ExecutionsFailed'));
  if (!failed) p.push('no ExecutionsFailed alarm');
  else if (JSON.stringify(failed.Dimensions) !== JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: 'BackfillStateMachine' } }])) p.push('ExecutionsFailed alarm not on the state machine');
  const starve = alarms.find((a) => metricsOf(a).includes('ActivitiesScheduled') && metricsOf(a).includes('ActivitiesStarted'));
  if (!starve) p.push('no alarm comparing ActivitiesScheduled with ActivitiesStarted');
  else {
    const expr = (starve.Metrics.find((m) => m.Expression) || {}).Expression || '';
    if (!/FILL\(started,\s*0\)\s*==\s*0/.test(expr)) p.push(`no-worker expression does not treat missing ActivitiesStarted as 0: ${expr}`);
    for (const m of starve.Metrics.filter((x) => x.MetricStat))
      if (JSON.stringify(m.MetricStat.Metric.Dimensions) !== JSON.stringify([{ Name: 'ActivityArn', Value: { Ref: 'BackfillActivity' } }])) p.push(`${m.Id} not on the activity`);
  }
  for (const a of alarms) if (a.TreatMissingData !== 'notBreaching') p.push(`${a.AlarmName && JSON.stringify(a.AlarmName)}: idle periods must not alarm`);
  if (!/ActivityScheduleTime[^\n]*\n[^\n]*emitted only when a task is \*started\*/.test(T.text)) p.push('the metric choice is not explained in a comment');
  return p;
});

// ---- scripts --------------------------------------------------------------
function shellFiles() {
  const out = [];
  const walkDir = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walkDir(f);
      else if (/\.sh$/.test(e.name) || /^#!.*\b(ba)?sh\b/.test(fs.readFileSync(f, 'utf8').split('\n')[0])) out.push(f);
    }
  };
  walkDir(path.join(TOP, 'deploy'));
  return out.sort();
}

check('shellcheck passes on every script in deploy/', () => {
  const files = shellFiles();
  if (files.length < OWN_SCRIPTS.length) return [`only ${files.length} scripts found`];
  const r = spawnSync('shellcheck', ['-x', '-S', 'style', ...files], { encoding: 'utf8', cwd: TOP });
  if (r.error) return [`shellcheck not runnable: ${r.error.message}`];
  return r.status === 0 ? [] : r.stdout.trim().split('\n').slice(0, 30);
});

check('scripts: bash, set -euo pipefail, --help prints usage and exits 0, unknown flags exit 2', () => {
  const p = [];
  for (const s of OWN_SCRIPTS) {
    const f = path.join(SCRIPTS, s);
    if (!fs.existsSync(f)) { p.push(`${s} missing`); continue; }
    const text = fs.readFileSync(f, 'utf8');
    if (!text.startsWith('#!/usr/bin/env bash\n')) p.push(`${s}: not a bash script`);
    if (!/^set -euo pipefail$/m.test(text)) p.push(`${s}: no set -euo pipefail`);
    if (!(fs.statSync(f).mode & 0o111)) p.push(`${s}: not executable`);
    const h = spawnSync(f, ['--help'], { encoding: 'utf8' });
    if (h.status !== 0 || !/^Usage: /.test(h.stdout)) p.push(`${s} --help: exit ${h.status}`);
    const u = spawnSync(f, ['--no-such-flag'], { encoding: 'utf8' });
    if (u.status !== 2) p.push(`${s} --no-such-flag: exit ${u.status}, expected 2`);
  }
  return p;
});

// A stub `aws` that records its arguments and answers from canned replies.
function stubAws(dir) {
  const log = path.join(dir, 'aws.log');
  fs.writeFileSync(path.join(dir, 'aws'), `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "${log}"
case "$*" in
  *"cloudformation package"*) exit 0 ;;
  *"cloudformation deploy"*) exit 0 ;;
  *"describe-stacks"*StateMachineArn*) echo "arn:aws:states:eu-west-1:123456789012:stateMachine:avesa-backfill-dev" ;;
  *"describe-stacks"*HeartbeatSeconds*) echo 45 ;;
  *"describe-stacks"*) printf 'ActivityArn\\tarn:aws:states:eu-west-1:123456789012:activity:x\\n' ;;
  *"start-execution"*) echo "arn:aws:states:eu-west-1:123456789012:execution:avesa-backfill-dev:bf-1" ;;
  *"describe-execution"*"[status, redriveStatus, redriveCount]"*) echo "\${STUB_REDRIVE:-FAILED REDRIVABLE 0}" ;;
  *"describe-execution"*redriveStatusReason*) echo "Execution is RUNNING and cannot be redriven" ;;
  *"describe-execution"*"[status, startDate"*) echo "\${STUB_STATUS:-SUCCEEDED} 2026-01-01T00:00:00Z 2026-01-01T01:00:00Z 0 NOT_REDRIVABLE" ;;
  *"describe-execution"*"--query output"*) echo '{"status":"SUCCEEDED","chunks_total":4}' ;;
  *"describe-execution"*"[error, cause]"*) printf 'Backfill.SourceAuthFailed\\t{"message":"401"}\\n' ;;
  *"get-execution-history"*) printf '5\\t5\\t4\\t1\\t0\\n' ;;
  *"redrive-execution"*) echo "2026-01-02T00:00:00Z" ;;
  *) echo "stub aws: unexpected: $*" >&2; exit 99 ;;
esac
`, { mode: 0o755 });
  return log;
}

function runScript(dir, script, args, extraEnv = {}) {
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...extraEnv };
  return spawnSync(path.join(SCRIPTS, script), args, { encoding: 'utf8', env });
}

check('start-backfill.sh: starts the execution named --name with the input, prints the ARN and its console URL', () => {
  const p = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-stub-'));
  const log = stubAws(dir);
  const input = path.join(dir, 'in.json');
  fs.writeFileSync(input, '{"tenant_id":"sitetechnology","service":"connectwise","start_date":"2025-01-01","end_date":"2025-02-01"}');
  const r = runScript(dir, 'start-backfill.sh', ['--input', input, '--name', 'bf-1', '--env', 'dev']);
  if (r.status !== 0) return [`exit ${r.status}: ${r.stderr}`];
  const lines = r.stdout.trim().split('\n');
  const arn = 'arn:aws:states:eu-west-1:123456789012:execution:avesa-backfill-dev:bf-1';
  if (lines[0] !== arn) p.push(`first line ${lines[0]}`);
  if (lines[1] !== `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`) p.push(`console URL ${lines[1]}`);
  const calls = fs.readFileSync(log, 'utf8');
  if (!/stepfunctions start-execution --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:avesa-backfill-dev --name bf-1 --input/.test(calls)) p.push(`start-execution call: ${calls}`);
  if (!/--stack-name avesa-backfill-dev/.test(calls)) p.push('state machine not looked up in stack avesa-backfill-dev');
  const hasJq = spawnSync('bash', ['-c', 'command -v jq']).status === 0;
  if (hasJq && !/"heartbeat_seconds":45/.test(calls)) p.push('stack HeartbeatSeconds not added to the input');
  const bad = runScript(dir, 'start-backfill.sh', ['--input', input, '--name', 'bad name!']);
  if (bad.status !== 2) p.push(`a bad --name exited ${bad.status}, expected 2`);
  const direct = runScript(dir, 'start-backfill.sh', ['--input', input, '--name', 'bf-2', '--state-machine-arn', 'arn:aws:states:us-east-1:1:stateMachine:m']);
  if (direct.status !== 0 || /heartbeat_seconds/.test(fs.readFileSync(log, 'utf8').split('\n').filter((l) => / bf-2 /.test(l)).join(''))) p.push('--state-machine-arn run changed the input or failed');
  fs.rmSync(dir, { recursive: true, force: true });
  return p;
});

check('redrive.sh: refuses a NOT_REDRIVABLE execution, redrives a REDRIVABLE one with the client token', () => {
  const p = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-stub-'));
  const log = stubAws(dir);
  const arn = 'arn:aws:states:us-east-1:123456789012:execution:avesa-backfill-dev:bf-1';
  const no = runScript(dir, 'redrive.sh', [arn], { STUB_REDRIVE: 'RUNNING NOT_REDRIVABLE 0' });
  if (no.status !== 2 || !/cannot be redriven/.test(no.stderr)) p.push(`NOT_REDRIVABLE: exit ${no.status} ${no.stderr}`);
  if (/redrive-execution/.test(fs.readFileSync(log, 'utf8'))) p.push('called redrive-execution on a NOT_REDRIVABLE execution');
  const yes = runScript(dir, 'redrive.sh', [arn, '--client-token', 'tok-1'], { STUB_REDRIVE: 'FAILED REDRIVABLE 1' });
  if (yes.status !== 0 || !/redriven at 2026-01-02T00:00:00Z \(earlier redrives: 1\)/.test(yes.stdout)) p.push(`REDRIVABLE: exit ${yes.status} ${yes.stdout}${yes.stderr}`);
  if (!new RegExp(`redrive-execution --execution-arn ${arn} .*--client-token tok-1`).test(fs.readFileSync(log, 'utf8'))) p.push('redrive-execution call not as expected');
  fs.rmSync(dir, { recursive: true, force: true });
  return p;
});

check('watch-execution.sh: prints status, chunk progress and the summary; exit code follows the status', () => {
  const p = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-stub-'));
  stubAws(dir);
  const arn = 'arn:aws:states:us-east-1:123456789012:execution:avesa-backfill-dev:bf-1';
  const ok = runScript(dir, 'watch-execution.sh', [arn]);
  if (ok.status !== 0) p.push(`SUCCEEDED: exit ${ok.status} ${ok.stderr}`);
  if (!/status SUCCEEDED/.test(ok.stdout) || !/scheduled 5, started 5, succeeded 4, failed 1, timed out 0/.test(ok.stdout) || !/"chunks_total":4/.test(ok.stdout)) p.push(`SUCCEEDED output: ${ok.stdout}`);
  const bad = runScript(dir, 'watch-execution.sh', [arn, '--no-progress'], { STUB_STATUS: 'FAILED' });
  if (bad.status !== 1 || !/Backfill.SourceAuthFailed/.test(bad.stdout) || !/redrive\.sh/.test(bad.stderr)) p.push(`FAILED: exit ${bad.status} ${bad.stdout}`);
  const run = runScript(dir, 'watch-execution.sh', [arn, '--no-progress'], { STUB_STATUS: 'RUNNING' });
  if (run.status !== 3) p.push(`RUNNING without --follow: exit ${run.status}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return p;
});

check('deploy.sh: packages, then deploys with CAPABILITY_IAM, the environment and every --param', () => {
  const p = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-stub-'));
  const log = stubAws(dir);
  const r = runScript(dir, 'deploy.sh', ['--artifact-bucket', 'arts', '--env', 'prod', '--param', 'DataBucket=data-storage-msp-prod',
    '--param', 'WorkerCount=3', '--packaged-file', path.join(dir, 'p.yaml'), '--region', 'eu-west-1']);
  if (r.status !== 0) return [`exit ${r.status}: ${r.stderr}`];
  const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
  if (!/^--region eu-west-1 cloudformation package --template-file \S+\/deploy\/cloudformation\/backfill\.yaml --s3-bucket arts --s3-prefix avesa-backfill\/prod /.test(calls[0])) p.push(`package call: ${calls[0]}`);
  if (!/cloudformation deploy .*--stack-name avesa-backfill-prod --capabilities CAPABILITY_IAM .*--parameter-overrides Environment=prod DataBucket=data-storage-msp-prod WorkerCount=3/.test(calls[1] || '')) p.push(`deploy call: ${calls[1]}`);
  if (!/ActivityArn/.test(r.stdout)) p.push('outputs not printed');
  const bad = runScript(dir, 'deploy.sh', ['--artifact-bucket', 'a', '--param', 'Environment=x']);
  if (bad.status !== 2) p.push('--param Environment=... accepted');
  fs.rmSync(dir, { recursive: true, force: true });
  return p;
});

check('build-image.sh: builds from the repository root with the Dockerfile, logs in to ECR and pushes with --push', () => {
  const p = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-stub-'));
  const log = path.join(dir, 'calls.log');
  for (const tool of ['docker', 'aws']) {
    fs.writeFileSync(path.join(dir, tool), `#!/usr/bin/env bash\nprintf '${tool} %s\\n' "$*" >> "${log}"\n` +
      (tool === 'aws' ? 'echo fake-password\n' : 'cat >/dev/null 2>&1 || true\n'), { mode: 0o755 });
  }
  const repo = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/avesa-backfill';
  const r = runScript(dir, 'build-image.sh', ['--repo', repo, '--tag', '1.2.3', '--push']);
  if (r.status !== 0) return [`exit ${r.status}: ${r.stderr}`];
  if (r.stdout.trim() !== `${repo}:1.2.3`) p.push(`printed ${r.stdout.trim()}`);
  const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
  if (!new RegExp(`^docker build --platform linux/amd64 -f ${TOP}/deploy/docker/Dockerfile -t ${repo}:1.2.3 ${TOP}$`).test(calls[0])) p.push(`build call: ${calls[0]}`);
  if (!calls.includes('aws ecr get-login-password --region eu-west-1')) p.push('no ECR login for the URI region');
  if (!calls.includes(`docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com`)) p.push('no docker login');
  if (calls[calls.length - 1] !== `docker push ${repo}:1.2.3`) p.push(`last call ${calls[calls.length - 1]}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return p;
});

// ---- Dockerfile -----------------------------------------------------------
function dockerInstructions(text) {
  const joined = text.replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => { const m = /^(\S+)\s*(.*)$/.exec(l); return { op: m[1].toUpperCase(), arg: m[2] }; });
}

check('Dockerfile: dockerfile-utils validate reports no errors or warnings', () => {
  const text = fs.readFileSync(path.join(TOP, 'deploy/docker/Dockerfile'), 'utf8');
  const diags = dockerfileUtils.validate(text);
  return diags.filter((d) => d.severity <= 2).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
});

check('Dockerfile: multi-stage Debian 12, make + make install, runtime libs only, non-root USER, exec-form ENTRYPOINT via tini', () => {
  const p = [];
  const ins = dockerInstructions(fs.readFileSync(path.join(TOP, 'deploy/docker/Dockerfile'), 'utf8'));
  const froms = ins.filter((i) => i.op === 'FROM');
  if (froms.length < 2) p.push('not multi-stage');
  const argBase = (ins.find((i) => i.op === 'ARG' && /^DEBIAN_IMAGE=/.test(i.arg)) || {}).arg || '';
  for (const f of froms) {
    const img = f.arg.split(/\s+/)[0].replace('${DEBIAN_IMAGE}', argBase.split('=')[1] || '');
    if (!/^debian:(12|bookworm)(-slim)?$/.test(img)) p.push(`stage base ${img} is not Debian 12`);
  }
  const lastFrom = ins.lastIndexOf(froms[froms.length - 1]);
  const build = ins.slice(0, lastFrom);
  const fin = ins.slice(lastFrom);
  const buildRun = build.filter((i) => i.op === 'RUN').map((i) => i.arg).join(' ');
  // libcurl is built in the stage (deploy/scripts/build-curl.sh), from
  // Debian's source package: dpkg-dev unpacks it.
  for (const pkg of ['build-essential', 'pkg-config', 'dpkg-dev', 'libcjson-dev', 'libssl-dev', 'zlib1g-dev', 'libdeflate-dev'])
    if (!buildRun.includes(pkg)) p.push(`build stage lacks ${pkg}`);
  if (!/\bmake\b/.test(buildRun) || !/make install/.test(buildRun)) p.push('build stage does not run make and make install');
  const finRun = fin.filter((i) => i.op === 'RUN').map((i) => i.arg).join(' ');
  for (const pkg of ['libcjson1', 'libssl3', 'zlib1g', 'libdeflate0', 'ca-certificates']) if (!new RegExp(`\\b${pkg}\\b`).test(finRun)) p.push(`final stage lacks ${pkg}`);
  if (/-dev\b|build-essential|\bgcc\b/.test(finRun)) p.push('final stage installs build tools');
  if (!fin.some((i) => i.op === 'COPY' && /--from=build/.test(i.arg))) p.push('final stage does not COPY --from=build');
  const users = fin.filter((i) => i.op === 'USER');
  const user = users.length ? users[users.length - 1].arg : 'root';
  if (/^(root|0)(:|$)/.test(user)) p.push(`final stage runs as ${user}`);
  const ep = fin.filter((i) => i.op === 'ENTRYPOINT').pop();
  let epArr = null;
  try { epArr = JSON.parse(ep.arg); } catch (e) { p.push('ENTRYPOINT is not exec (JSON) form'); }
  if (epArr && !(epArr[0].endsWith('/tini') && epArr.includes('/usr/local/bin/backfill-worker'))) p.push('ENTRYPOINT does not run the worker under tini');
  if (!/\btini\b/.test(finRun)) p.push('tini not installed in the final stage');
  const stop = fin.find((i) => i.op === 'STOPSIGNAL');
  if (stop && stop.arg !== 'SIGTERM') p.push(`STOPSIGNAL ${stop.arg}`);
  const cmd = fin.find((i) => i.op === 'CMD');
  if (!cmd || cmd.arg !== '["worker"]') p.push('CMD must be ["worker"]');
  return p;
});

// The build context is filtered by Dockerfile.dockerignore ("*" then "!path"
// exceptions): every path the build stage COPYs must be let back in, or
// `docker build` fails where this host-side emulation would not.
check('Dockerfile.dockerignore lets in every path the build stage COPYs', () => {
  const ins = dockerInstructions(fs.readFileSync(path.join(TOP, 'deploy/docker/Dockerfile'), 'utf8'));
  const rules = fs.readFileSync(path.join(TOP, 'deploy/docker/Dockerfile.dockerignore'), 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const norm = (p) => p.replace(/^\.\//, '').replace(/\/+$/, '');
  const included = (src) => {
    let inc = true;
    for (const r of rules) {
      const neg = r.startsWith('!');
      const pat = norm(neg ? r.slice(1) : r);
      const hit = pat === '*' || src === pat || src.startsWith(`${pat}/`);
      if (hit) inc = neg;
    }
    return inc;
  };
  const p = [];
  for (const c of ins.filter((i) => i.op === 'COPY' && !/--from=/.test(i.arg))) {
    const parts = c.arg.split(/\s+/);
    parts.pop();
    for (const src of parts) if (!included(norm(src))) p.push(`COPY ${src}: excluded by Dockerfile.dockerignore`);
  }
  return p;
});

// No Docker engine here, so run the build stage's own commands on this host
// (Debian 12, the same base) from a copy holding only what the stage COPYs,
// then check the binary needs no library beyond the final stage's packages.
check('Dockerfile: the build stage\'s COPY set and make/make install command build a working binary; it links only runtime-stage libraries', async () => {
  const p = [];
  const ins = dockerInstructions(fs.readFileSync(path.join(TOP, 'deploy/docker/Dockerfile'), 'utf8'));
  const froms = ins.filter((i) => i.op === 'FROM');
  const fin = ins.slice(ins.lastIndexOf(froms[froms.length - 1]));
  const build = ins.slice(0, ins.lastIndexOf(froms[froms.length - 1]));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-image-'));
  try {
    for (const c of build.filter((i) => i.op === 'COPY')) {
      const parts = c.arg.split(/\s+/);
      const dest = parts.pop();
      for (const src of parts) {
        const to = dest.endsWith('/') ? path.join(tmp, dest, path.basename(src)) : path.join(tmp, dest);
        fs.cpSync(path.join(TOP, src), to, { recursive: true, preserveTimestamps: true });
      }
    }
    // docker build would reuse a cached layer for the static libcurl; here
    // the one `make` already built stands in for it (same script, same
    // mtimes), so the check does not fetch and compile curl again.
    const curlCache = path.join(TOP, 'build/curl-static');
    if (fs.existsSync(path.join(curlCache, 'lib/libcurl.a')))
      fs.cpSync(curlCache, path.join(tmp, 'build/curl-static'), { recursive: true, preserveTimestamps: true });
    const makeRun = build.filter((i) => i.op === 'RUN' && /\bmake\b/.test(i.arg)).map((i) => i.arg);
    if (makeRun.length !== 1) return ['expected one RUN with make in the build stage'];
    const cmd = makeRun[0].replace(/\/staging/g, `${tmp}/staging`);
    // A clean environment, as in `docker build`: no make variables
    // (SANITIZE, BUILD, CI...) inherited from the `make check` running us.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME || '/root' };
    const r = await runAsync('bash', ['-c', `set -e; ${cmd}`], { cwd: tmp, env });
    if (r.status !== 0) return [`build stage command failed (exit ${r.status}): ${(r.err || r.out).trim().split('\n').slice(-5).join(' | ')}`];
    const bin = path.join(tmp, 'staging/usr/local/bin/backfill-worker');
    const needed = spawnSync('objdump', ['-p', bin], { encoding: 'utf8' }).stdout.split('\n')
      .map((l) => /^\s*NEEDED\s+(\S+)/.exec(l)).filter(Boolean).map((m) => m[1]);
    if (!needed.length) p.push('no NEEDED entries found (objdump missing?)');
    const arch = spawnSync('cc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim();
    const finRun = fin.filter((i) => i.op === 'RUN').map((i) => i.arg).join(' ');
    for (const lib of needed) {
      const owners = spawnSync('dpkg', ['-S', lib], { encoding: 'utf8' }).stdout.split('\n')
        .filter((l) => new RegExp(`^[^:]+(:[a-z0-9]+)?: /(usr/)?lib/${arch}/${lib.replace(/\./g, '\\.')}$`).test(l))
        .map((l) => l.split(':')[0]);
      if (!owners.length) { p.push(`cannot tell which package ships ${lib}`); continue; }
      if (!owners.some((o) => o === 'libc6' || new RegExp(`\\b${o}\\b`).test(finRun))) p.push(`${lib} comes from ${owners.join('/')}, not installed in the final stage`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return p;
});

// ---- systemd -------------------------------------------------------------
function unitKeys(text) {
  const keys = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(l);
    if (s) { section = s[1]; continue; }
    const m = /^([A-Za-z]+)=(.*)$/.exec(l);
    if (m) (keys[`${section}.${m[1]}`] = keys[`${section}.${m[1]}`] || []).push(m[2]);
  }
  return keys;
}

const UNIT = path.join(TOP, 'deploy/systemd/backfill-worker.service');
const ENVFILE = path.join(TOP, 'deploy/systemd/backfill-worker.env.example');

check('systemd: `systemd-analyze verify` is clean (ExecStart pointed at an existing binary)', () => {
  const r0 = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (r0.error) return optional('systemd-analyze', 'systemd-analyze is not installed; the structural check below still runs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-unit-'));
  const bin = process.env.BF_BIN && fs.existsSync(process.env.BF_BIN) ? process.env.BF_BIN : '/bin/true';
  const text = fs.readFileSync(UNIT, 'utf8').replace(/^ExecStart=\S+/m, `ExecStart=${bin}`);
  const f = path.join(dir, 'backfill-worker.service');
  fs.writeFileSync(f, text);
  const r = spawnSync('systemd-analyze', ['verify', f], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  const msgs = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('backfill-worker.service'));
  return r.status === 0 && !msgs.length ? [] : [`exit ${r.status}`, ...msgs];
});

check('systemd: restart on failure, SIGTERM, TimeoutStopSec above the drain, hardening, dedicated user, EnvironmentFile; env example uses real settings', () => {
  const p = [];
  const k = unitKeys(fs.readFileSync(UNIT, 'utf8'));
  const one = (key) => (k[key] || []).slice(-1)[0];
  if (one('Service.Restart') !== 'on-failure') p.push('Restart must be on-failure');
  if (one('Service.KillSignal') !== 'SIGTERM') p.push('KillSignal must be SIGTERM');
  if (one('Service.NoNewPrivileges') !== 'yes') p.push('NoNewPrivileges=yes missing');
  if (one('Service.ProtectSystem') !== 'strict') p.push('ProtectSystem=strict missing');
  if (one('Service.DynamicUser') !== 'yes' && !one('Service.User')) p.push('no DynamicUser or User');
  if (!one('Service.EnvironmentFile')) p.push('no EnvironmentFile');
  if (!/backfill-worker worker$/.test(one('Service.ExecStart') || '')) p.push('ExecStart must run `backfill-worker worker`');
  if (one('Install.WantedBy') !== 'multi-user.target') p.push('WantedBy=multi-user.target missing');
  for (const key of Object.keys(k)) if (/^Service\.StartLimit/.test(key)) p.push(`${key} belongs in [Unit]`);
  const stop = /^(\d+)s?$/.exec(one('Service.TimeoutStopSec') || '');
  const envText = fs.readFileSync(ENVFILE, 'utf8');
  const env = Object.fromEntries(envText.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  const drain = Number(env.BACKFILL_DRAIN_SECONDS || 90);
  if (!stop || Number(stop[1]) < drain + 15) p.push(`TimeoutStopSec ${one('Service.TimeoutStopSec')} not above the drain ${drain} s plus a margin`);
  const names = configEnvNames();
  for (const name of Object.keys(env)) if (!names.has(name) && !/^AWS_/.test(name)) p.push(`env example: ${name} is not a worker setting`);
  if (!env.BACKFILL_ACTIVITY_ARN) p.push('env example lacks BACKFILL_ACTIVITY_ARN');
  return p;
});

check('cfn-lint (if installed) reports nothing', () => {
  const r0 = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (r0.error || r0.status !== 0) return optional('cfn-lint', 'cfn-lint is not installed (pip install cfn-lint to run it)');
  const r = spawnSync('cfn-lint', [TEMPLATE], { encoding: 'utf8', timeout: 180000 });
  return r.status === 0 ? [] : `${r.stdout}${r.stderr}`.trim().split('\n');
});

