// The server's closed vocabularies as the web client uses them: the values
// forms offer (in the order offered), the groups of states pages test for,
// and for every vocabulary shown by label() the OpenAPI schema it mirrors.
// Plain data without imports: tests/e2e/vocabularies.test.mjs checks it, and
// both translation tables, against /api/v1/openapi.json.

export const CATEGORIES = [
  "marriage_family", "neighbour", "housing_homestead", "land_forest", "contract", "production_business", "damages",
  "labour", "land_acquisition", "consumer", "road_traffic", "property_management", "other",
];
export const CASE_SOURCES = ["party_application", "own_initiative", "police_referral", "court_referral", "government_assignment", "grid_report"];
export const CASE_STATES = [
  "registered", "scheduled", "in_session", "agreed_written", "agreed_oral", "failed", "referred", "followed_up", "withdrawn", "closed",
];
export const PARTY_SIDES = ["applicant", "respondent", "third_party"];
export const SESSION_MODES = ["video", "in_person", "phone"];
/** How an oral agreement was reached or a consultation given. */
export const CHANNELS = ["video", "phone", "in_person"];
/** The outcome forms, one tab each. */
export const OUTCOME_KINDS = ["written", "oral", "failed", "referred", "withdrawn"];
/** The other routes a party is told of when mediation fails. */
export const ROUTES = ["arbitration", "administrative", "court"];
export const JUDICIAL_RESULTS = ["pending", "confirmed", "rejected"];
export const PERFORMANCES = ["fully", "partially", "not_yet", "refused", "not_applicable"];
export const SATISFACTIONS = ["satisfied", "basically_satisfied", "dissatisfied"];
/** Risk flags (Art 25): what a dispute may turn into, and whom it was reported to. */
export const RISK_KINDS = ["escalation", "public_order", "criminal"];
export const REPORTED_TO = ["public_security", "justice_office", "governance_centre", "other"];
/** Public or non-public mediation, as a consenting party is asked (the default first). */
export const PUBLICITIES = ["non_public", "public"];

/** Session states in which people can still join. */
export const OPEN_SESSION_STATES = ["planned", "live"];
/** Case states after an outcome that still wait for a follow-up visit. */
export const FOLLOW_UP_STATES = ["agreed_written", "agreed_oral", "failed", "referred"];

export function sessionIsOpen(session) {
  return OPEN_SESSION_STATES.includes(session.state);
}

/**
 * Every vocabulary the pages show through label(prefix, value) (translation
 * keys `${prefix}_${value}`): the OpenAPI schema it mirrors and, where the
 * client lists the values, that list.
 */
export const VOCABULARIES = {
  category: { schema: "Category", values: CATEGORIES },
  source: { schema: "CaseSource", values: CASE_SOURCES },
  case_state: { schema: "CaseState", values: CASE_STATES },
  side: { schema: "PartySide", values: PARTY_SIDES },
  mode: { schema: "SessionMode", values: SESSION_MODES },
  session_state: { schema: "SessionState" },
  kind: { schema: "ParticipantKind" },
  outcome: { schema: "OutcomeKind", values: OUTCOME_KINDS },
  channel: { schema: "Channel", values: CHANNELS },
  route: { schema: "Route", values: ROUTES },
  agreement_state: { schema: "AgreementState" },
  judicial_result: { schema: "JudicialResult", values: JUDICIAL_RESULTS },
  performance: { schema: "Performance", values: PERFORMANCES },
  satisfaction: { schema: "Satisfaction", values: SATISFACTIONS },
  risk: { schema: "RiskKind", values: RISK_KINDS },
  reported_to: { schema: "ReportedTo", values: REPORTED_TO },
  role: { schema: "Role" },
  consent_state: { schema: "ConsentDecision" },
  publicity: { schema: "Publicity", values: PUBLICITIES },
  identity: { schema: "IdentityMethod" },
};
