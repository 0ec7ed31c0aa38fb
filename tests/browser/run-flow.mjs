#!/usr/bin/env node
// Run one flow (flows/<name>.mjs) in one browser against a running server.
//
//   node tests/browser/run-flow.mjs --browser chromium|firefox|webkit --base http://127.0.0.1:8000 \
//        --flow ticket [--params '{"kiosk_code": "…"}'] [--wait-ms 10000]
//
// Progress goes to stderr, one line a step. The result is the last line on stdout, one JSON object:
//   {ok, browser, version, flow, seconds, launch_seconds, steps: [{name, at_s}], values, axe: {what: [violation]},
//    script_errors: [..] | null, screenshots: [path], error?: {step, message, stack}}
// --wait-ms: how long each step waits for an element or a text to appear (a flow may set its own).
// Exit status 0 when the flow ran to its end, 1 when it failed (screenshots of every open page are
// taken first, named <browser>-failed-<page>.png), 2 on bad arguments.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { BROWSERS, launch } from './drivers.mjs';
import { Session } from './flowkit.mjs';

const FLOW_NAME = /^[a-z][a-z0-9-]*$/;

function usage(message) {
  process.stderr.write(`run-flow: ${message}\nusage: run-flow.mjs --browser ${BROWSERS.join('|')} --base URL --flow NAME [--params JSON] [--wait-ms N]\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: { browser: { type: 'string' }, base: { type: 'string' }, flow: { type: 'string' }, params: { type: 'string', default: '{}' },
      'wait-ms': { type: 'string', default: '10000' } },
  }));
} catch (err) {
  usage(err.message);
}
if (!BROWSERS.includes(args.browser)) usage(`--browser must be one of ${BROWSERS.join(', ')}`);
if (!args.base || !/^https?:\/\//.test(args.base)) usage('--base must be an http(s) URL');
if (!args.flow || !FLOW_NAME.test(args.flow)) usage('--flow must name a file in tests/browser/flows/');
const waitMs = Number(args['wait-ms']);
if (!Number.isInteger(waitMs) || waitMs <= 0) usage('--wait-ms must be a positive whole number of milliseconds');
let params;
try {
  params = JSON.parse(args.params);
} catch (err) {
  usage(`--params is not JSON: ${err.message}`);
}

const flowFile = new URL(`./flows/${args.flow}.mjs`, import.meta.url);
if (!existsSync(flowFile)) usage(`no flow ${args.flow}: tests/browser/flows/${args.flow}.mjs does not exist`);
const flow = (await import(flowFile.href)).default;
const started = Date.now();
const seconds = () => Math.round((Date.now() - started) / 10) / 100;
const result = { ok: false, browser: args.browser, version: null, flow: args.flow, steps: [], values: {}, axe: {},
  script_errors: null, screenshots: [] };
let current = 'launch';
const step = (name) => {
  current = name;
  result.steps.push({ name, at_s: seconds() });
  process.stderr.write(`[${args.browser} ${seconds().toFixed(2)}s] ${name}\n`);
};

let driver = null;
let session = null;
try {
  driver = await launch(args.browser);
  result.version = await driver.version();
  result.launch_seconds = seconds();
  session = new Session(driver, args.browser, args.base, waitMs);
  result.values = (await flow(session, { params, step })) || {};
  result.ok = true;
} catch (err) {
  result.error = { step: current, message: String(err && err.message ? err.message : err), stack: err && err.stack };
  for (const tab of session ? session.tabs : []) {
    try {
      await tab.screenshot(`failed-${tab.name}`);
    } catch (shotErr) {
      process.stderr.write(`run-flow: no screenshot of ${tab.name}: ${shotErr.message}\n`);
    }
  }
} finally {
  if (session) {
    result.axe = session.axe;
    result.screenshots = session.screenshots;
    result.script_errors = session.scriptErrors();
  }
  if (driver) {
    try {
      await driver.close();
    } catch (err) {
      process.stderr.write(`run-flow: closing ${args.browser}: ${err.message}\n`);
    }
  }
  result.seconds = seconds();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok ? 0 : 1);
