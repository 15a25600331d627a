// The web client's copies of the server's closed vocabularies, checked
// against the OpenAPI document the real server serves: every vocabulary the
// pages label (web-client/js/vocabularies.js) is a schema of the API, each of
// its values has a text in both translation tables, every list of values the
// forms offer is exactly the schema's enum, the groups of states the pages
// test for are made of the schema's values, and no vocabulary of the API is
// left unaccounted for.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import zhCN from "../../web-client/js/lang/zh-CN.js";
import en from "../../web-client/js/lang/en.js";
import { FOLLOW_UP_STATES, OPEN_SESSION_STATES, VOCABULARIES } from "../../web-client/js/vocabularies.js";
import { startServer } from "./harness.mjs";

const TABLES = { "zh-CN": zhCN, en };

/** Vocabularies of the API that no page shows by label(), and why. */
const NOT_LABELLED = {
  Signer: "a confirmation shows the party's name; only the mediator has a text (signer_mediator)",
  ConfirmMethod: "recorded with a confirmation, never shown",
  UnitKind: "units are shown by their names",
  UnitCollection: "collection names in paths (/districts, /towns, /villages), never shown",
  RecordedOutcome: "the kinds POST /cases/{id}/outcome takes (oral, failed, referred): the outcome tabs label them as OutcomeKind",
  ConsentMethod: "recorded with a party's decision (own_device, at_station), never shown",
  FlagState: "the filter of GET /risk-flags (open, closed, all): the list's buttons have their own texts (risk_list_*)",
};

let server;
let schemas;

before(async () => {
  server = await startServer();
  const response = await fetch(`${server.url}/api/v1/openapi.json`);
  assert.equal(response.status, 200, "the OpenAPI document is served");
  schemas = (await response.json()).components.schemas;
});

after(async () => {
  await server?.stop();
});

/** The values of a closed vocabulary's schema, or null when it is not one. */
function enumOf(schema) {
  return schema?.type === "string" && Array.isArray(schema.enum) ? schema.enum : null;
}

/** Translation keys (`language.prefix_value`) that a vocabulary value lacks. */
function missingTranslations(vocabularies, allSchemas, tables) {
  const missing = [];
  for (const [prefix, { schema }] of Object.entries(vocabularies)) {
    for (const value of enumOf(allSchemas[schema]) || []) {
      for (const [language, table] of Object.entries(tables)) {
        if (!Object.hasOwn(table, `${prefix}_${value}`)) missing.push(`${language}.${prefix}_${value}`);
      }
    }
  }
  return missing;
}

/** How the lists of values the client offers differ from their schemas' enums. */
function listMismatches(vocabularies, allSchemas) {
  const mismatches = [];
  for (const [prefix, { schema, values }] of Object.entries(vocabularies)) {
    if (!values) continue;
    const allowed = enumOf(allSchemas[schema]) || [];
    const unknown = values.filter((value) => !allowed.includes(value));
    const leftOut = allowed.filter((value) => !values.includes(value));
    const repeated = values.filter((value, index) => values.indexOf(value) !== index);
    if (unknown.length || leftOut.length || repeated.length) mismatches.push({ prefix, schema, unknown, leftOut, repeated });
  }
  return mismatches;
}

test("every vocabulary the pages label is a closed vocabulary of the API", () => {
  const notVocabularies = Object.entries(VOCABULARIES)
    .filter(([, { schema }]) => !enumOf(schemas[schema]))
    .map(([prefix, { schema }]) => `${prefix} → ${schema}`);
  assert.deepEqual(notVocabularies, [], "vocabularies whose schema is missing or not a string enum");
});

test("every value of those vocabularies has a text in both languages", () => {
  assert.deepEqual(missingTranslations(VOCABULARIES, schemas, TABLES), [], "vocabulary values without a text");
});

test("the values the forms offer are exactly the API's", () => {
  assert.deepEqual(listMismatches(VOCABULARIES, schemas), [], "lists of values that differ from the schema's enum");
});

test("the groups of states the pages test for are states of the API", () => {
  const sessionStates = enumOf(schemas.SessionState) || [];
  const caseStates = enumOf(schemas.CaseState) || [];
  assert.deepEqual(OPEN_SESSION_STATES.filter((state) => !sessionStates.includes(state)), [], "open session states that are not session states");
  assert.deepEqual(FOLLOW_UP_STATES.filter((state) => !caseStates.includes(state)), [], "follow-up states that are not case states");
});

test("every closed vocabulary of the API is labelled by the pages or known not to be", () => {
  const labelled = new Set(Object.values(VOCABULARIES).map(({ schema }) => schema));
  const vocabularies = Object.entries(schemas).filter(([, schema]) => enumOf(schema)).map(([name]) => name);
  assert.deepEqual(vocabularies.filter((name) => !labelled.has(name) && !Object.hasOwn(NOT_LABELLED, name)), [],
    "vocabularies of the API the web client neither labels nor lists in NOT_LABELLED");
  assert.deepEqual(Object.keys(NOT_LABELLED).filter((name) => !vocabularies.includes(name)), [],
    "NOT_LABELLED names vocabularies the API no longer has");
});

test("the checks fail on a missing text and on a list that differs from the API", () => {
  const english = { ...en };
  delete english.category_neighbour;
  assert.deepEqual(missingTranslations(VOCABULARIES, schemas, { "zh-CN": zhCN, en: english }), ["en.category_neighbour"]);
  const shortened = { ...VOCABULARIES, route: { ...VOCABULARIES.route, values: ["court", "court", "appeal"] } };
  assert.deepEqual(listMismatches(shortened, schemas), [
    { prefix: "route", schema: "Route", unknown: ["appeal"], leftOut: ["arbitration", "administrative"], repeated: ["court"] },
  ]);
});
