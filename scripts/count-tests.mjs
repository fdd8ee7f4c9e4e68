#!/usr/bin/env node
// Sum individual test cases from a ctest JUnit file (ctest --output-junit, with
// full output kept via --test-output-size-passed/failed).
//
// For every ctest test (<testcase>), in its captured output:
//   * Qt Test:   "Totals: P passed, F failed, S skipped, B blacklisted, Tms"
//                (one line per test executable / per test class run)
//   * node TAP:  "# pass P" / "# fail F" / "# cancelled C" (cancelled = failed)
// If a ctest test has no such lines: it counts as one case (passed or failed by
// its ctest status). If it failed (crash, timeout, non-zero exit) but its
// counted cases show no failure, one extra failure is counted so a broken
// test binary can never look green.
//
// Prints one line "N passed, N failed" on stdout; details on stderr.
import { readFileSync, existsSync } from "node:fs";

const junitPath = process.argv[2];
if (!junitPath || !existsSync(junitPath)) {
  console.error(`[kernia] count-tests: JUnit file not found: ${junitPath}`);
  process.exit(2);
}
const xml = readFileSync(junitPath, "utf8");

const unescape = (s) => s
  .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'")
  .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
  .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
  .replace(/&amp;/g, "&");

const attr = (tag, name) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescape(m[1]) : undefined;
};

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];

const caseRe = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
let m;
while ((m = caseRe.exec(xml))) {
  const open = m[1];
  const inner = m[3] ?? "";
  const name = attr(open, "name") ?? "?";
  const status = attr(open, "status") ?? "run";
  if (status === "disabled" || status === "notrun") {
    // not run (disabled, or missing executable): a not-run test is a failure
    // unless it was explicitly disabled.
    if (status === "notrun") { failed += 1; rows.push(`${name}: NOT RUN → 1 failed`); }
    else { skipped += 1; rows.push(`${name}: disabled`); }
    continue;
  }
  const ctestFailed = status === "fail" || /<failure\b/.test(inner) || /<error\b/.test(inner);
  const outMatch = /<system-out>([\s\S]*?)<\/system-out>/.exec(inner);
  const out = outMatch ? unescape(outMatch[1]) : "";

  let p = 0, f = 0, s = 0, found = false;
  // Qt Test
  for (const t of out.matchAll(/^Totals:\s+(\d+)\s+passed,\s+(\d+)\s+failed,\s+(\d+)\s+skipped/gm)) {
    found = true; p += Number(t[1]); f += Number(t[2]); s += Number(t[3]);
  }
  // node:test TAP summary (take the last summary block of the output)
  const tapPass = [...out.matchAll(/^# pass (\d+)\s*$/gm)];
  const tapFail = [...out.matchAll(/^# fail (\d+)\s*$/gm)];
  if (tapPass.length || tapFail.length) {
    found = true;
    p += Number(tapPass.at(-1)?.[1] ?? 0);
    f += Number(tapFail.at(-1)?.[1] ?? 0);
    f += Number([...out.matchAll(/^# cancelled (\d+)\s*$/gm)].at(-1)?.[1] ?? 0);
    s += Number([...out.matchAll(/^# skipped (\d+)\s*$/gm)].at(-1)?.[1] ?? 0);
  }
  if (!found) {
    if (ctestFailed) f = 1; else p = 1;
  } else if (ctestFailed && f === 0) {
    f = 1; // crashed/timed out after (or without) printing a clean summary
  }
  passed += p; failed += f; skipped += s;
  rows.push(`${name}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ""}${found ? "" : " (no per-case summary)"}${ctestFailed ? " [ctest: FAILED]" : ""}`);
}

console.error("[kernia] test cases per ctest test:");
for (const r of rows) console.error(`[kernia]   ${r}`);
if (skipped) console.error(`[kernia] ${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
