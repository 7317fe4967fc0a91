// The closing report of .ci/run, read from vitest's JSON reports (one per pass): counts per pass,
// every skipped test with its reason, every test that passed only on its retry (a measured bound,
// test/helpers/measured.ts) with what failed first, and the plain closing line with the totals.
//
// A skip fails CI when CI could have prevented it: a test skipped for a Python package that .ci/run
// installed (or did not even try: every package a test needs belongs in test/python-requirements.txt),
// or a test skipped without saying why. A package pip could not install on this machine is an
// honest skip (CI_PYTHON_UNAVAILABLE lists those, by requirement name).
//
// usage: node .ci/summary.mjs LABEL=FILE...   (exit 1 when a skip was fixable)
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const unavailable = (process.env.CI_PYTHON_UNAVAILABLE ?? '')
  .split(/\s+/)
  .filter(Boolean)
  .map((r) => r.toLowerCase().replace(/[<>=!~;[].*$/, ''));

let passed = 0;
let failed = 0;
let skipped = 0;
const skips = [];
const failures = [];
const retried = [];
for (const arg of process.argv.slice(2)) {
  const [label, file] = arg.split('=');
  if (!existsSync(file)) {
    console.log(`${label}: no report (${file}); the pass did not run`);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const pending = r.numPendingTests + r.numTodoTests;
  console.log(`${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${pending} skipped`);
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += pending;
  for (const file of r.testResults) {
    // A file that failed outside any test (an import, a hook) has no failed assertion to name.
    if (file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed'))
      failures.push(`${label}: ${relative('.', file.name)}: ${firstLine(file.message)}`);
    for (const t of file.assertionResults) {
      if (t.status === 'failed')
        failures.push(
          `${label}: ${relative('.', file.name)}: ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`,
        );
      // Passed with a failure on record: it passed on its retry.
      if (t.status === 'passed' && t.failureMessages?.length)
        retried.push(
          `${label}: ${relative('.', file.name)}: ${t.fullName}: ${firstLine(t.failureMessages[0])}`,
        );
      if (t.status !== 'passed' && t.status !== 'failed')
        // The reason is in the title (skips.ts withReason: "[skipped: …]") or, for a test that
        // skipped itself while running, in its meta.
        skips.push({
          label,
          name: t.fullName,
          reason: t.meta?.skipReason,
          titled: t.fullName.includes('[skipped: '),
          fileFailed: file.status === 'failed',
        });
    }
  }
}

function firstLine(text) {
  return (text ?? 'no message').split('\n')[0].slice(0, 300);
}

// Failures by name, so that the tail of the log (all a CI record may keep) says what failed.
if (failures.length) {
  console.log(`\nfailed tests (${failures.length}):`);
  for (const f of failures) console.log(`  ${f}`);
}

if (retried.length) {
  console.log(`\npassed on their retry (${retried.length}; first run's failure):`);
  for (const r of retried) console.log(`  ${r}`);
}

const fixable = [];
if (skips.length) {
  console.log(`\nskipped tests (${skips.length}):`);
  for (const s of skips) {
    const pkg = /needs python package (\S+)/.exec(`${s.name} ${s.reason ?? ''}`)?.[1];
    const name = pkg?.toLowerCase().replace(/\[.*$/, '');
    const why =
      !s.reason && !s.titled
        ? s.fileFailed
          ? 'did not run: its file failed (a hook?)'
          : 'gives no reason'
        : name && !unavailable.includes(name)
          ? `needs ${pkg}, which .ci/run installed or should have (test/python-requirements.txt)`
          : undefined;
    if (why) fixable.push(`${s.label}: ${s.name}: ${why}`);
    console.log(`  ${s.label}: ${s.name}${s.reason ? ` [skipped: ${s.reason}]` : ''}`);
  }
}
if (fixable.length) {
  console.log(`\nskips CI could have prevented (${fixable.length}):`);
  for (const f of fixable) console.log(`  ${f}`);
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(fixable.length ? 1 : 0);
