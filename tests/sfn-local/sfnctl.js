#!/usr/bin/env node
// sfnctl.js -- command-line client for the local Step Functions runner
// (development and testing only; with AWS use the AWS CLI).
//
//   sfnctl.js --endpoint URL create-activity NAME
//   sfnctl.js --endpoint URL create-state-machine NAME FILE [K=V ...]
//        (replaces ${K} in the definition, as CloudFormation's
//         DefinitionSubstitutions does)
//   sfnctl.js --endpoint URL start-execution SM_ARN NAME INPUT_FILE
//   sfnctl.js --endpoint URL wait EXECUTION_ARN [TIMEOUT_S]
//   sfnctl.js --endpoint URL redrive EXECUTION_ARN
//   sfnctl.js --endpoint URL call OPERATION JSON
'use strict';
const fs = require('fs');
const { call, waitForExecution } = require('./client');

function substitute(text, pairs) {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, k) => {
    if (!(k in pairs)) throw new Error(`no value for definition substitution \${${k}}`);
    return pairs[k];
  });
}

async function main(argv) {
  let endpoint = process.env.AWS_ENDPOINT_URL_SFN;
  if (argv[0] === '--endpoint') { endpoint = argv[1]; argv = argv.slice(2); }
  if (!endpoint) throw new Error('no endpoint: --endpoint URL or AWS_ENDPOINT_URL_SFN');
  const [cmd, ...rest] = argv;
  let out;
  switch (cmd) {
    case 'create-activity':
      out = await call(endpoint, 'CreateActivity', { name: rest[0] });
      break;
    case 'create-state-machine': {
      const pairs = {};
      for (const kv of rest.slice(2)) { const i = kv.indexOf('='); pairs[kv.slice(0, i)] = kv.slice(i + 1); }
      const definition = substitute(fs.readFileSync(rest[1], 'utf8'), pairs);
      out = await call(endpoint, 'CreateStateMachine', { name: rest[0], definition,
        roleArn: 'arn:aws:iam::123456789012:role/local', type: 'STANDARD' });
      break;
    }
    case 'start-execution':
      out = await call(endpoint, 'StartExecution', { stateMachineArn: rest[0], name: rest[1],
        input: fs.readFileSync(rest[2] === '-' ? 0 : rest[2], 'utf8') });
      break;
    case 'wait':
      out = await waitForExecution(endpoint, rest[0], Number(rest[1] || 300) * 1000);
      break;
    case 'redrive':
      out = await call(endpoint, 'RedriveExecution', { executionArn: rest[0] });
      break;
    case 'call':
      out = await call(endpoint, rest[0], JSON.parse(rest[1] || '{}'));
      break;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main(process.argv.slice(2)).catch((e) => { process.stderr.write(`sfnctl: ${e.message}\n`); process.exit(1); });
