// What validate.mjs and analysis.mjs share: reading YAML documents, and
// the self-test that breaks the real documents on purpose.
import { readFileSync, readdirSync } from "node:fs";
import { join, basename } from "node:path";
import * as yaml from "js-yaml";

// Every document of a YAML file, with where it was for the messages.
export function load(file) {
  return yaml
    .loadAll(readFileSync(file, "utf8"))
    .filter((d) => d != null)
    .map((obj, i) => ({ file: basename(file), index: i, obj }));
}

// The documents of every .yaml/.yml file in dir, in name order.
export function loadDir(dir) {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => load(join(dir, f)));
}

// The real documents (real()) must pass baseCheck; each mutation breaks a
// fresh copy of them in one way, and check must catch it. Returns the
// exit status.
export function selfTest({ tool, what, real, check, baseCheck = check, mutations }) {
  let passed = 0;
  let failed = 0;
  const base = baseCheck(real());
  if (base.length) {
    console.log(`FAIL - the real ${what} do not pass:\n  ` + base.join("\n  "));
    failed++;
  } else {
    console.log(`ok   - the real ${what} pass`);
    passed++;
  }
  for (const [name, mutate] of Object.entries(mutations)) {
    const docs = structuredClone(real());
    mutate(docs);
    const f = check(docs);
    if (f.length) {
      console.log(`ok   - caught: ${name}: ${f[0]}`);
      passed++;
    } else {
      console.log(`FAIL - not caught: ${name}`);
      failed++;
    }
  }
  console.log(`${tool} self-test: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

// Print each failure and a summary on stderr; returns the exit status.
export function report(tool, docs, failures) {
  for (const f of failures) console.error(`${tool}: ${f}`);
  console.error(
    `${tool}: ${docs.length} objects, ${failures.length ? failures.length + " problems" : "all valid"}`,
  );
  return failures.length ? 1 : 0;
}
