// Writes the introspection documents tools send, as graphql-js builds them
// (getIntrospectionQuery with every combination of its options), into
// tests/suite/introspection-documents.json. The suite posts each one and
// expects a schema.
// Run after bumping graphql: node tests/conformance/introspection-documents.mjs
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getIntrospectionQuery, version } from "graphql";

const options = [
  "descriptions",
  "specifiedByUrl",
  "directiveIsRepeatable",
  "schemaDescription",
  "inputValueDeprecation",
  "oneOf",
];
const out = join(dirname(fileURLToPath(import.meta.url)), "..", "suite", "introspection-documents.json");

const seen = new Map();
for (let mask = 0; mask < 1 << options.length; mask++) {
  const chosen = Object.fromEntries(options.map((name, bit) => [name, (mask & (1 << bit)) !== 0]));
  const document = getIntrospectionQuery(chosen);
  if (seen.has(document)) continue;
  const on = options.filter((name) => chosen[name]);
  const name = on.length === 0 ? "none" : on.join("+");
  seen.set(document, `graphql-js ${version}: ${name}`);
}
const documents = Object.fromEntries([...seen].map(([document, name]) => [name, document]));
writeFileSync(out, `${JSON.stringify(documents, null, 2)}\n`);
console.log(`${seen.size} distinct documents written to ${out}`);
