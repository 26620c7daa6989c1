#!/usr/bin/env node
// GraphQL-over-HTTP conformance audit for a live server, using the audit suite
// shipped by the `graphql-http` package (`auditServer`, see
// node_modules/graphql-http/lib/audits/server.mjs for the exact requests).
//
// Usage: node audit.mjs [--strict-should] [--wait SECONDS] [--timeout SECONDS] URL
//   URL               the GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql
//   --strict-should   also fail (exit 1) when a SHOULD audit fails (status 'warn')
//   --wait SECONDS    poll URL for up to SECONDS until the server answers (default 0)
//   --timeout SECONDS per-request timeout (default 10)
//
// Audit statuses: ok; error = a MUST failed; warn = a SHOULD failed;
// notice = a MAY failed (optional, reported only).
// Exit codes: 0 = no MUST failed (and, with --strict-should, no SHOULD failed),
//             1 = at least one enforced audit failed, 2 = usage error or the
//             server could not be reached / an audit failed fatally.

import { auditServer } from 'graphql-http';

function usage(msg) {
  if (msg) console.error(`audit.mjs: ${msg}`);
  console.error(
    'usage: node audit.mjs [--strict-should] [--wait SECONDS] [--timeout SECONDS] http://HOST:PORT/graphql',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { url: null, strictShould: false, waitSeconds: 0, timeoutSeconds: 10 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const number = (name) => {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value < 0) usage(`${name} needs a non-negative number`);
      return value;
    };
    if (arg === '--strict-should') opts.strictShould = true;
    else if (arg === '--wait') opts.waitSeconds = number('--wait');
    else if (arg === '--timeout') opts.timeoutSeconds = number('--timeout');
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else if (opts.url) usage('only one URL may be given');
    else opts.url = arg;
  }
  if (!opts.url) usage('missing URL');
  try {
    const parsed = new URL(opts.url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
  } catch {
    usage(`not an http(s) URL: ${opts.url}`);
  }
  return opts;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Wait until something answers HTTP at the URL (any status counts).
async function waitForServer(url, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer().catch(() => {});
      return;
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`server at ${url} did not answer within ${seconds}s: ${describe(err)}`);
      }
      await sleep(250);
    }
  }
}

function describe(err) {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (${err.cause.code || err.cause.message})` : '';
  return `${err.message}${cause}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));

  if (opts.waitSeconds > 0) await waitForServer(opts.url, opts.waitSeconds);

  // Node's global fetch (undici), with a per-request timeout so a hanging
  // server cannot hang `make test`.
  const fetchFn = (input, init = {}) =>
    fetch(input, { ...init, signal: AbortSignal.timeout(opts.timeoutSeconds * 1000) });

  console.log(`GraphQL-over-HTTP audit (graphql-http) of ${opts.url}`);
  const results = await auditServer({ url: opts.url, fetchFn });

  const enforced = (r) => r.status === 'error' || (opts.strictShould && r.status === 'warn');
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  for (const r of results) {
    counts[r.status] = (counts[r.status] ?? 0) + 1;
    console.log(`${r.status.padEnd(6)} ${r.id}  ${r.name}`);
  }

  const detail = (r) => {
    const status = r.response && typeof r.response.status === 'number' ? ` [got HTTP ${r.response.status}]` : '';
    return `  ${r.id}  ${r.name}\n        reason: ${r.reason}${status}`;
  };
  const errors = results.filter((r) => r.status === 'error');
  const warns = results.filter((r) => r.status === 'warn');
  const notices = results.filter((r) => r.status === 'notice');
  if (errors.length) {
    console.log(`\nFailed MUST audits (${errors.length}):`);
    for (const r of errors) console.log(detail(r));
  }
  if (warns.length) {
    console.log(`\nFailed SHOULD audits (${warns.length})${opts.strictShould ? '' : ', not enforced without --strict-should'}:`);
    for (const r of warns) console.log(detail(r));
  }
  if (notices.length) {
    console.log(`\nFailed MAY audits (${notices.length}), optional, reported only:`);
    for (const r of notices) console.log(detail(r));
  }

  const failed = results.filter(enforced).length;
  const unenforced = results.length - counts.ok - failed;
  console.log(
    `\nSummary: ${results.length} audits: ${counts.ok} ok, ${counts.error} error (MUST), ` +
      `${counts.warn} warn (SHOULD), ${counts.notice} notice (MAY)` +
      `${opts.strictShould ? '; --strict-should: warnings fail the run' : ''}`,
  );
  // Plain closing line: passed = ok; failed = failures that fail the run;
  // skipped = failures that are reported but not enforced (SHOULD without
  // --strict-should, and MAY).
  console.log(`conformance: ${counts.ok} passed, ${failed} failed, ${unenforced} skipped`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`audit.mjs: fatal: ${describe(err)}`);
    process.exit(2);
  },
);
