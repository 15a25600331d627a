// The mediator's workspace (also used by district and system administrators):
// cases with search, registration, the case file with scheduling, invitation
// links and QR codes, the outcome forms the People's Mediation Law needs,
// the written agreement (draft, sign, print), judicial-confirmation deadline,
// follow-ups and closing; the session page; statistics with bar charts and a
// CSV download; consultations.
import { t } from "./i18n.js";
import {
  $, announce, api, chinaDate, chinaLocalToIso, describeError, formatDateTime, h, isoToChinaLocal, label, requireStaff,
  fill, setUpFrame,
} from "./api.js";
import {
  CASE_STATES, CATEGORIES, SOURCES, actionForm, checkboxes, checkedValues, field, objectSelect, valueOf, vocabularySelect,
} from "./forms.js";
import { accountsPage } from "./accounts.js";
import { consultationsPage } from "./consultations.js";

const workspace = { me: null, villages: [], stations: [], advisers: [], mediators: [] };

/** The current route's view: a page still loading for an earlier route draws into a detached one. */
function main() {
  return workspace.view || $("main");
}

// ----- routing --------------------------------------------------------------

async function route() {
  const view = h("div", { class: "view" });
  workspace.view = view;
  fill($("main"), view);
  const [name, id, part] = location.hash.replace(/^#/, "").split("/");
  for (const link of document.querySelectorAll(".tabs a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#${name || "cases"}`);
  }
  try {
    switch (name) {
      case "new-case":
        return newCasePage();
      case "case":
        return await casePage(id, part);
      case "session":
        return await sessionPage(id);
      case "sessions":
        return await sessionsPage();
      case "stats":
        return await statsPage();
      case "consultations":
        return await consultationsPage(main(), { villages: workspace.villages, advisers: workspace.advisers });
      case "accounts":
        return await accountsPage(main(), workspace.me);
      default:
        return await casesPage();
    }
  } catch (error) {
    fill(view, h("p", { class: "error", role: "alert" }, describeError(error)));
  }
}

function villageName(id) {
  return workspace.villages.find((v) => v.id === id)?.name || "—";
}

function facts(pairs) {
  return h("dl", { class: "facts" }, ...pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
    .flatMap(([term, value]) => [h("dt", {}, t(term)), h("dd", {}, value)]));
}

function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, label("case_state", state));
}

// ----- cases ------------------------------------------------------------------

async function casesPage() {
  const view = main();
  const params = new URLSearchParams(location.search);
  const filters = actionForm({ class: "filters", id: "case-filters", role: "search" }, [
    field("state", vocabularySelect("state", "case_state", CASE_STATES, { any: true, selected: params.get("state") })),
    field("village", objectSelect("village_id", workspace.villages, { any: true, selected: params.get("village_id") })),
    field("category", vocabularySelect("category", "category", CATEGORIES, { any: true, selected: params.get("category") })),
    field("search_text", { name: "q", type: "search", value: params.get("q") || "" }),
  ], "search", async (form) => {
    const query = new URLSearchParams();
    for (const name of ["state", "village_id", "category", "q"]) {
      const value = valueOf(form, name);
      if (value) query.set(name, value);
    }
    history.replaceState(null, "", `?${query}#cases`);
    await showList(query);
  });
  const results = h("div", { id: "case-results" });
  const todo = h("section", { class: "panel", id: "todo", "aria-labelledby": "todo-title" }, h("h2", { id: "todo-title" }, t("todo_title")));
  fill(view,
    h("div", { class: "page-head" }, h("h1", {}, t("nav_cases")), h("a", { class: "button primary", href: "#new-case" }, t("nav_new_case"))),
    todo,
    filters,
    results,
  );
  showTodo(todo).catch((error) => todo.append(h("p", { class: "error" }, describeError(error))));
  async function showList(query) {
    const cases = await api(`/cases?${query}`);
    fill(results, cases.length === 0 ? h("p", { class: "hint" }, t("cases_none")) : h("table", { class: "grid" },
      h("caption", {}, t("cases_found", { n: cases.length })),
      h("thead", {}, h("tr", {}, ...["case_number", "village", "category", "state", "registered_at", "summary"].map((key) => h("th", { scope: "col" }, t(key))))),
      h("tbody", {}, ...cases.map((c) => h("tr", {},
        h("td", {}, h("a", { href: `#case/${c.id}` }, c.case_number)),
        h("td", {}, c.village_name), h("td", {}, label("category", c.category)), h("td", {}, stateBadge(c.state)),
        h("td", {}, formatDateTime(c.registered_at)), h("td", { class: "summary-cell" }, c.summary))))));
  }
  const filterNames = ["state", "village_id", "category", "q"];
  await showList(new URLSearchParams([...params].filter(([name]) => filterNames.includes(name))));
}

/** Days from today (China time) to a YYYY-MM-DD date. */
function daysUntil(date) {
  return Math.round((Date.parse(`${date}T00:00:00+08:00`) - Date.parse(`${chinaDate()}T00:00:00+08:00`)) / 86400_000);
}

/**
 * What is due: cases with an outcome still to be followed up, and written
 * agreements whose 30 days for judicial confirmation are running (the
 * deadline as the server computes it, in each case file).
 */
async function showTodo(box) {
  const awaiting = ["agreed_written", "agreed_oral", "failed", "referred"];
  const lists = await Promise.all(awaiting.map((state) => api(`/cases?state=${state}&limit=100`)));
  const followUps = lists.flat().sort((a, b) => (a.outcome_at || "").localeCompare(b.outcome_at || ""));
  const written = await Promise.all(lists[0].slice(0, 30).map((c) => api(`/cases/${c.id}`)));
  const deadlines = written
    .filter((file) => file.judicial_confirmation_deadline && !file.judicial_confirmation && daysUntil(file.judicial_confirmation_deadline) >= 0)
    .sort((a, b) => a.judicial_confirmation_deadline.localeCompare(b.judicial_confirmation_deadline));
  const link = (c) => h("a", { href: `#case/${c.id}` }, c.case_number);
  box.append(
    h("h3", {}, t("todo_judicial", { n: deadlines.length })),
    deadlines.length === 0 ? h("p", { class: "hint" }, t("todo_none")) : h("ul", { class: "plain", id: "todo-judicial" },
      ...deadlines.map((file) => {
        const left = daysUntil(file.judicial_confirmation_deadline);
        return h("li", { class: left <= 7 ? "urgent" : "" }, link(file.case), ` · ${file.case.village_name} · `,
          t("todo_deadline", { date: file.judicial_confirmation_deadline, days: left }));
      })),
    h("h3", {}, t("todo_follow_up", { n: followUps.length })),
    followUps.length === 0 ? h("p", { class: "hint" }, t("todo_none")) : h("ul", { class: "plain", id: "todo-follow-up" },
      ...followUps.map((c) => h("li", {}, link(c), ` · ${c.village_name} · ${label("case_state", c.state)} · ${formatDateTime(c.outcome_at)}`))),
  );
}

function partyRow(side) {
  return h("fieldset", { class: "party-row" }, h("legend", {}, t("party")),
    field("party_name", { name: "party_name", required: true }),
    field("party_side", vocabularySelect("party_side", "side", ["applicant", "respondent", "third_party"], { selected: side })),
    field("phone", { name: "party_phone", type: "tel", inputmode: "tel" }),
    field("id_number", { name: "party_id_number", maxlength: 18, autocomplete: "off" }, "id_number_hint"),
  );
}

function newCasePage() {
  const view = main();
  const parties = h("div", { id: "parties" }, partyRow("applicant"), partyRow("respondent"));
  const form = actionForm({ class: "panel", id: "new-case-form" }, [
    field("village", objectSelect("village_id", workspace.villages, { required: true })),
    field("category", vocabularySelect("category", "category", CATEGORIES, { required: true })),
    field("source", vocabularySelect("source", "source", SOURCES, { required: true })),
    field("summary", h("textarea", { name: "summary", rows: 4, required: true })),
    field("amount_yuan", { name: "amount_yuan", inputmode: "decimal" }, "amount_hint"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "public_session" }), t("public_session")),
    h("h2", {}, t("parties")),
    parties,
    h("button", { type: "button", onclick: () => parties.append(partyRow("third_party")) }, t("add_party")),
  ], "register_case", async (element) => {
    const rows = [...element.querySelectorAll(".party-row")].map((row) => ({
      name: row.querySelector("[name=party_name]").value.trim(),
      side: row.querySelector("[name=party_side]").value,
      phone: row.querySelector("[name=party_phone]").value.trim() || null,
      id_number: row.querySelector("[name=party_id_number]").value.trim() || null,
    })).filter((party) => party.name);
    const created = await api("/cases", {
      method: "POST",
      body: {
        village_id: valueOf(element, "village_id"),
        category: valueOf(element, "category"),
        source: valueOf(element, "source"),
        summary: valueOf(element, "summary") || "",
        amount_yuan: valueOf(element, "amount_yuan"),
        public_session: element.elements.namedItem("public_session").checked,
        parties: rows,
      },
    });
    announce(t("case_registered", { number: (created.case || created).case_number }));
    location.hash = `#case/${(created.case || created).id}`;
  });
  fill(view, h("h1", {}, t("nav_new_case")), form);
}

// ----- the case file ----------------------------------------------------------

async function casePage(id, part) {
  const view = main();
  const file = await api(`/cases/${id}`);
  const c = file.case;
  const manage = file.access === "manage";
  const agreement = file.agreement ? await api(`/cases/${id}/agreement`) : null;
  const reload = () => casePage(id, part);
  const sections = [
    h("div", { class: "page-head" }, h("h1", {}, c.case_number), stateBadge(c.state)),
    h("section", { class: "panel" }, facts([
      ["village", c.village_name], ["office", c.office_name], ["category", label("category", c.category)],
      ["source", label("source", c.source)], ["summary", c.summary], ["amount_yuan", c.amount_yuan],
      ["public_session", t(c.public_session ? "yes" : "no")], ["registered_at", formatDateTime(c.registered_at)],
    ]), manage && !file.outcome ? editCaseForm(c, reload) : null),
    h("section", { class: "panel", "aria-labelledby": "parties-title" }, h("h2", { id: "parties-title" }, t("parties")),
      h("ul", { class: "plain" }, ...file.parties.map((p) => h("li", { dataset: { partyId: p.id } },
        `${label("side", p.side)}：${p.name}`, p.phone ? ` · ${p.phone}` : "", p.id_number || p.id_number_masked ? ` · ${p.id_number || p.id_number_masked}` : "",
        manage && !file.outcome ? editPartyForm(c.id, p, reload) : null)))),
    sessionsSection(file, manage, reload),
    outcomeSection(file, agreement, manage, reload),
  ];
  if (agreement?.state === "effective" || file.judicial_confirmation) sections.push(judicialSection(file, manage, reload));
  if (file.outcome && (file.follow_ups.length || file.next_states.includes("followed_up") || c.state === "followed_up")) {
    sections.push(followUpSection(file, manage, reload));
  }
  if (manage && (c.state === "followed_up" || c.state === "withdrawn")) {
    sections.push(h("section", { class: "panel" }, h("button", { type: "button", id: "close-case", onclick: async () => {
      try {
        await api(`/cases/${id}/close`, { method: "POST" });
        announce(t("case_closed"));
        reload();
      } catch (error) {
        announce(describeError(error), "error");
      }
    } }, t("close_case"))));
  }
  fill(view, ...sections);
  if (part) document.getElementById(part)?.scrollIntoView();
}

/** Corrects the case's details before an outcome (the server refuses afterwards). */
function editCaseForm(c, reload) {
  const form = actionForm({ id: "edit-case-form" }, [
    field("category", vocabularySelect("category", "category", CATEGORIES, { selected: c.category })),
    field("summary", h("textarea", { name: "summary", rows: 3, required: true }, c.summary)),
    field("amount_yuan", { name: "amount_yuan", inputmode: "decimal", value: c.amount_yuan || "" }, "amount_hint"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "public_session", checked: c.public_session }), t("public_session")),
  ], "save", async (element) => {
    await api(`/cases/${c.id}`, {
      method: "PATCH",
      body: {
        category: valueOf(element, "category"),
        summary: valueOf(element, "summary") || "",
        amount_yuan: valueOf(element, "amount_yuan"),
        public_session: element.elements.namedItem("public_session").checked,
      },
    });
    announce(t("saved"));
    reload();
  });
  return h("details", { class: "subpanel" }, h("summary", {}, t("edit_case")), form);
}

/** Corrects one party's name, phone or ID number (a saved agreement must then be saved again). */
function editPartyForm(caseId, party, reload) {
  const form = actionForm({ class: "edit-party-form" }, [
    field("party_name", { name: "name", required: true, value: party.name }),
    field("phone", { name: "phone", type: "tel", value: party.phone || "" }),
    field("id_number", { name: "id_number", maxlength: 18, autocomplete: "off", placeholder: party.id_number_masked || "" }, "id_number_keep_hint"),
  ], "save", async (element) => {
    const body = { name: valueOf(element, "name") || "", phone: valueOf(element, "phone") };
    const idNumber = valueOf(element, "id_number");
    if (idNumber) body.id_number = idNumber;
    await api(`/cases/${caseId}/parties/${party.id}`, { method: "PATCH", body });
    announce(t("saved"));
    reload();
  });
  return h("details", {}, h("summary", {}, t("edit_party", { name: party.name })), form);
}

function sessionsSection(file, manage, reload) {
  const c = file.case;
  const rows = file.sessions.map((s) => h("tr", {},
    h("td", {}, h("a", { href: `#session/${s.id}` }, formatDateTime(s.planned_start))),
    h("td", {}, label("mode", s.mode)), h("td", {}, label("session_state", s.state))));
  const townStations = workspace.stations;
  const form = manage && !file.outcome ? actionForm({ id: "schedule-form", class: "subpanel", "aria-labelledby": "schedule-title" }, [
    h("h3", { id: "schedule-title" }, t("schedule_session")),
    field("planned_start", { name: "planned_start", type: "datetime-local", required: true, value: isoToChinaLocal(new Date(Date.now() + 10 * 60_000)) }, "china_time_hint"),
    field("planned_minutes", { name: "planned_minutes", type: "number", min: 5, max: 480, value: 60, required: true }),
    field("mode", vocabularySelect("mode", "mode", ["video", "in_person", "phone"], { selected: "video" })),
    checkboxes("station_ids", "choose_stations", townStations, {
      text: (a) => a.display_name, checked: (a) => a.unit_id === c.village_id,
    }),
    checkboxes("adviser_ids", "choose_advisers", workspace.advisers, { text: (a) => a.display_name }),
    checkboxes("mediator_ids", "choose_mediators", workspace.mediators, { text: (a) => a.display_name, checked: (a) => a.id === workspace.me.id }),
    checkboxes("party_ids", "choose_parties_own_device", file.parties, { text: (p) => p.name }),
  ], "schedule", async (element) => {
    const created = await api(`/cases/${c.id}/sessions`, {
      method: "POST",
      body: {
        planned_start: chinaLocalToIso(valueOf(element, "planned_start")),
        planned_minutes: Number(valueOf(element, "planned_minutes")),
        mode: valueOf(element, "mode"),
        station_ids: checkedValues(element, "station_ids"),
        adviser_ids: checkedValues(element, "adviser_ids"),
        mediator_ids: checkedValues(element, "mediator_ids"),
        party_ids: checkedValues(element, "party_ids"),
      },
    });
    announce(t("session_scheduled"));
    location.hash = `#session/${created.id}`;
  }) : null;
  return h("section", { class: "panel", id: "sessions", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, t("sessions")),
    rows.length ? h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("planned_time")), h("th", { scope: "col" }, t("mode")), h("th", { scope: "col" }, t("state")))),
      h("tbody", {}, ...rows)) : h("p", { class: "hint" }, t("sessions_none")),
    form);
}

// ----- outcomes ---------------------------------------------------------------

function tabs(id, entries) {
  const list = h("div", { class: "tab-list", role: "tablist", "aria-label": t("outcome_kind") });
  const panels = [];
  entries.forEach(([key, panel], index) => {
    const tab = h("button", { type: "button", role: "tab", id: `${id}-tab-${key}`, "aria-controls": `${id}-${key}`, "aria-selected": String(index === 0), tabindex: index === 0 ? "0" : "-1" }, t(`outcome_${key}`));
    const wrapper = h("div", { role: "tabpanel", id: `${id}-${key}`, "aria-labelledby": tab.id, hidden: index !== 0 }, panel);
    tab.addEventListener("click", () => {
      for (const other of list.children) other.setAttribute("aria-selected", String(other === tab));
      for (const other of list.children) other.tabIndex = other === tab ? 0 : -1;
      for (const other of panels) other.hidden = other !== wrapper;
    });
    tab.addEventListener("keydown", (event) => {
      const tabsNow = [...list.children];
      const at = tabsNow.indexOf(tab);
      const next = event.key === "ArrowRight" ? tabsNow[(at + 1) % tabsNow.length] : event.key === "ArrowLeft" ? tabsNow[(at - 1 + tabsNow.length) % tabsNow.length] : null;
      if (next) {
        next.focus();
        next.click();
      }
    });
    list.append(tab);
    panels.push(wrapper);
  });
  return h("div", { class: "tabs-box" }, list, ...panels);
}

function describeOutcome(outcome) {
  return facts([
    ["outcome_kind", label("outcome", outcome.kind)],
    ["reached_via", outcome.reached_via ? label("channel", outcome.reached_via) : null],
    ["terms", outcome.terms],
    ["reason", outcome.reason],
    ["routes_told", outcome.routes_told?.map((r) => label("route", r)).join("、")],
    ["referred_to", outcome.referred_to],
    ["reference_number", outcome.reference_number],
    ["effective_at", formatDateTime(outcome.effective_at)],
  ]);
}

function agreementBlock(file, agreement, manage, reload) {
  const id = file.case.id;
  const draft = agreement || {};
  const form = manage && !file.outcome ? actionForm({ id: "agreement-form" }, [
    field("agreement_facts", h("textarea", { name: "facts", rows: 3, required: true }, draft.facts || "")),
    field("agreement_responsibilities", h("textarea", { name: "responsibilities", rows: 3, required: true }, draft.responsibilities || "")),
    field("agreement_terms", h("textarea", { name: "terms", rows: 4, required: true }, draft.terms || "")),
    field("performance_manner", h("textarea", { name: "performance_manner", rows: 2, required: true }, draft.performance_manner || "")),
    field("performance_deadline", { name: "performance_deadline", type: "date", required: true, value: draft.performance_deadline || chinaDate(new Date(Date.now() + 30 * 86400_000)) }),
  ], agreement ? "save_agreement_new_version" : "save_agreement", async (element) => {
    await api(`/cases/${id}/agreement`, {
      method: "PUT",
      body: Object.fromEntries(["facts", "responsibilities", "terms", "performance_manner", "performance_deadline"].map((name) => [name, valueOf(element, name) || ""])),
    });
    announce(t("saved"));
    reload();
  }) : null;
  const status = agreement ? h("div", { class: "agreement-status", id: "agreement-status" },
    facts([
      ["agreement_state", label("agreement_state", agreement.state)],
      ["version", String(agreement.version)],
      ["confirmed_by_label", agreement.confirmations.filter((c) => !c.voided_at).map((c) => c.signer === "mediator" ? t("signer_mediator") : file.parties.find((p) => p.id === c.party_id)?.name).join("、") || "—"],
      ["awaiting", (agreement.awaiting || []).map((a) => a.signer === "mediator" ? t("signer_mediator") : a.name).join("、") || "—"],
    ]),
    h("pre", { class: "agreement-text" }, agreement.text),
    h("div", { class: "button-row" },
      manage && (agreement.awaiting || []).some((a) => a.signer === "mediator") ? h("button", { type: "button", id: "sign-agreement", onclick: async () => {
        try {
          await api(`/cases/${id}/agreement/confirmations`, { method: "POST", body: { signer: "mediator", method: "video_room", text_sha256: agreement.text_sha256 } });
          announce(t("signed_note"));
          reload();
        } catch (error) {
          announce(describeError(error), "error");
        }
      } }, t("sign_as_mediator")) : null,
      h("button", { type: "button", id: "print-agreement", onclick: () => printAgreement(id) }, t("print_agreement")),
    )) : null;
  return h("div", {}, h("p", { class: "hint" }, t("written_hint")), status, form);
}

function outcomeSection(file, agreement, manage, reload) {
  const id = file.case.id;
  const record = (body) => async () => {
    await api(`/cases/${id}/outcome`, { method: "POST", body });
    announce(t("outcome_recorded"));
    reload();
  };
  const body = [h("h2", { id: "outcome-title" }, t("outcome_title"))];
  if (file.outcome) body.push(describeOutcome(file.outcome));
  if (file.outcome?.kind === "written" || (agreement && file.outcome)) body.push(agreementBlock(file, agreement, manage, reload));
  if (!file.outcome && manage) {
    const oral = actionForm({ id: "oral-form" }, [
      field("oral_terms", h("textarea", { name: "terms", rows: 3, required: true })),
      field("reached_via", vocabularySelect("reached_via", "channel", ["video", "phone", "in_person"])),
    ], "record_outcome", (element) => record({ kind: "oral", terms: valueOf(element, "terms") || "", reached_via: valueOf(element, "reached_via") })());
    const failed = actionForm({ id: "failed-form" }, [
      field("reason", h("textarea", { name: "reason", rows: 2, required: true })),
      checkboxes("routes_told", "routes_told", ["arbitration", "administrative", "court"].map((r) => ({ id: r, name: label("route", r) }))),
    ], "record_outcome", (element) => record({ kind: "failed", reason: valueOf(element, "reason") || "", routes_told: checkedValues(element, "routes_told") })());
    const referred = actionForm({ id: "referred-form" }, [
      field("referred_to", { name: "referred_to", required: true }),
      field("reference_number", { name: "reference_number" }),
      field("reason", h("textarea", { name: "reason", rows: 2 })),
    ], "record_outcome", (element) => record({ kind: "referred", referred_to: valueOf(element, "referred_to") || "", reference_number: valueOf(element, "reference_number"), reason: valueOf(element, "reason") })());
    const withdraw = actionForm({ id: "withdraw-form" }, [
      field("withdraw_reason", h("textarea", { name: "reason", rows: 2, required: true })),
    ], "withdraw_case", async (element) => {
      await api(`/cases/${id}/withdraw`, { method: "POST", body: { reason: valueOf(element, "reason") || "" } });
      announce(t("case_withdrawn"));
      reload();
    });
    body.push(tabs("outcome", [
      ["written", agreementBlock(file, agreement, manage, reload)],
      ["oral", oral],
      ["failed", failed],
      ["referred", referred],
      ["withdrawn", withdraw],
    ]));
  }
  return h("section", { class: "panel", id: "outcome", "aria-labelledby": "outcome-title" }, ...body);
}

function judicialSection(file, manage, reload) {
  const id = file.case.id;
  const current = file.judicial_confirmation;
  const form = manage ? actionForm({ id: "judicial-form" }, [
    field("applied_on", { name: "applied_on", type: "date", required: true, value: current?.applied_on || chinaDate() }),
    field("court", { name: "court", required: true, value: current?.court || "" }),
    field("judicial_result", vocabularySelect("result", "judicial_result", ["pending", "confirmed", "rejected"], { selected: current?.result || "pending" })),
    field("result_on", { name: "result_on", type: "date", value: current?.result_on || "" }),
  ], "save", async (element) => {
    await api(`/cases/${id}/judicial-confirmation`, {
      method: "PUT",
      body: { applied_on: valueOf(element, "applied_on"), court: valueOf(element, "court") || "", result: valueOf(element, "result"), result_on: valueOf(element, "result_on") },
    });
    announce(t("saved"));
    reload();
  }) : null;
  return h("section", { class: "panel", id: "judicial", "aria-labelledby": "judicial-title" },
    h("h2", { id: "judicial-title" }, t("judicial_title")),
    file.judicial_confirmation_deadline ? h("p", { class: "deadline" }, t("judicial_deadline", { date: file.judicial_confirmation_deadline })) : null,
    form);
}

function followUpSection(file, manage, reload) {
  const id = file.case.id;
  const form = manage && file.case.state !== "closed" ? actionForm({ id: "follow-up-form" }, [
    field("visited_on", { name: "visited_on", type: "date", required: true, value: chinaDate() }),
    field("visited_by", { name: "visited_by", required: true, value: workspace.me.display_name }),
    field("performance", vocabularySelect("performance", "performance", ["fully", "partially", "not_yet", "refused", "not_applicable"])),
    field("satisfaction", vocabularySelect("satisfaction", "satisfaction", ["satisfied", "basically_satisfied", "dissatisfied"])),
    field("remaining_risk", { name: "remaining_risk" }),
    field("next_step", { name: "next_step" }),
  ], "save_follow_up", async (element) => {
    await api(`/cases/${id}/follow-ups`, {
      method: "POST",
      body: {
        visited_on: valueOf(element, "visited_on"), visited_by: valueOf(element, "visited_by") || "",
        performance: valueOf(element, "performance"), satisfaction: valueOf(element, "satisfaction"),
        remaining_risk: valueOf(element, "remaining_risk"), next_step: valueOf(element, "next_step"),
      },
    });
    announce(t("saved"));
    reload();
  }) : null;
  return h("section", { class: "panel", id: "follow-ups", "aria-labelledby": "follow-title" },
    h("h2", { id: "follow-title" }, t("follow_ups")),
    file.follow_ups.length === 0 ? h("p", { class: "hint" }, t("follow_ups_none")) : h("ul", { class: "plain" },
      ...file.follow_ups.map((f) => h("li", {}, `${f.visited_on} · ${f.visited_by} · ${label("performance", f.performance)} · ${label("satisfaction", f.satisfaction)}`))),
    form);
}

/** Prints an HTML document through a hidden frame. */
function printHtml(html) {
  const frame = h("iframe", { class: "print-frame", title: t("print"), "aria-hidden": "true" });
  document.body.append(frame);
  frame.srcdoc = html;
  frame.addEventListener("load", () => {
    frame.contentWindow.focus();
    frame.contentWindow.print();
    setTimeout(() => frame.remove(), 60_000);
  });
}

async function printAgreement(caseId) {
  try {
    printHtml(await api(`/cases/${caseId}/agreement/document`, { accept: "text/html" }));
  } catch (error) {
    announce(describeError(error), "error");
  }
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function printInvitation(detail, participant) {
  const link = participant.invitation.link;
  printHtml(`<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>${escapeHtml(t("invitation"))}</title>
<body style="font-family:sans-serif;font-size:16pt;max-width:170mm;margin:20mm auto">
<h1>${escapeHtml(t("invitation_print_title"))}</h1>
<p>${escapeHtml(t("hello_name", { name: participant.display_name }))}</p>
<p>${escapeHtml(t("invitation_print_text", { number: detail.case.case_number, time: formatDateTime(detail.planned_start) }))}</p>
<div style="width:70mm">${participant.invitation.qr_svg}</div>
<p style="word-break:break-all;font-size:10pt">${escapeHtml(link)}</p>
<p>${escapeHtml(t("invitation_print_note"))}</p></body></html>`);
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    announce(t("copied"));
  } catch {
    announce(t("copy_failed"), "error");
  }
}

// ----- sessions ---------------------------------------------------------------

async function sessionPage(id) {
  const view = main();
  const detail = await api(`/sessions/${id}`);
  const reload = () => sessionPage(id);
  const staffLink = `${location.origin}/join.html?session=${detail.id}`;
  const open = detail.state === "planned" || detail.state === "live";
  const people = detail.participants.map((p) => {
    let access;
    if (p.kind === "party") {
      access = p.invitation ? h("div", { class: "invitation" },
        h("input", { readonly: true, value: p.invitation.link, class: "link-field", "aria-label": t("invitation_link_for", { name: p.display_name }) }),
        h("div", { class: "button-row" },
          h("button", { type: "button", class: "small", onclick: () => copy(p.invitation.link) }, t("copy_link")),
          h("button", { type: "button", class: "small", onclick: () => printInvitation(detail, p) }, t("print_invitation")),
          open ? h("button", { type: "button", class: "small danger", onclick: async () => {
            if (!confirm(t("revoke_confirm", { name: p.display_name }))) return;
            try {
              await api(`/invitations/${p.invitation.id}/revoke`, { method: "POST" });
              announce(t("invitation_revoked_note"));
              reload();
            } catch (error) {
              announce(describeError(error), "error");
            }
          } }, t("revoke_invitation")) : null),
        h("img", { class: "qr", alt: t("qr_for", { name: p.display_name }), src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(p.invitation.qr_svg)}` }),
      ) : h("span", { class: "hint" }, t("no_live_invitation"));
    } else {
      access = h("div", { class: "invitation" },
        h("input", { readonly: true, value: staffLink, class: "link-field staff-link", dataset: { participantKind: p.kind }, "aria-label": t("staff_link_for", { name: p.display_name }) }),
        h("button", { type: "button", class: "small", onclick: () => copy(staffLink) }, t("copy_link")),
        h("span", { class: "hint" }, t("staff_link_hint")));
    }
    return h("tr", { dataset: { participantId: p.id } }, h("td", {}, p.display_name), h("td", {}, label("kind", p.kind)), h("td", {}, access));
  });
  const attendance = detail.attendance.map((a) => {
    const who = detail.participants.find((p) => p.id === a.participant_id)?.display_name || "—";
    return h("li", {}, `${who}：${formatDateTime(a.joined_at)} – ${a.left_at ? formatDateTime(a.left_at) : t("still_in_room")}`);
  });
  const reschedule = detail.state === "planned" ? actionForm({ id: "reschedule-form", class: "subpanel" }, [
    h("h3", {}, t("reschedule")),
    field("planned_start", { name: "planned_start", type: "datetime-local", required: true, value: isoToChinaLocal(new Date(detail.planned_start)) }, "china_time_hint"),
    field("planned_minutes", { name: "planned_minutes", type: "number", min: 5, max: 480, value: detail.planned_minutes }),
    field("reason", { name: "reason" }),
  ], "reschedule", async (element) => {
    await api(`/sessions/${id}`, { method: "PATCH", body: { planned_start: chinaLocalToIso(valueOf(element, "planned_start")), planned_minutes: Number(valueOf(element, "planned_minutes")), reason: valueOf(element, "reason") } });
    announce(t("saved"));
    reload();
  }) : null;
  const cancel = open ? actionForm({ id: "cancel-form", class: "subpanel" }, [
    h("h3", {}, t("cancel_session")),
    field("reason", { name: "reason", required: true }),
  ], "cancel_session", async (element) => {
    await api(`/sessions/${id}/cancel`, { method: "POST", body: { reason: valueOf(element, "reason") || "" } });
    announce(t("saved"));
    reload();
  }) : null;
  fill(view,
    h("div", { class: "page-head" },
      h("h1", {}, t("session_of", { number: detail.case.case_number })),
      open && detail.mode === "video" ? h("a", { class: "button primary big", id: "enter-room", href: `/join.html?session=${detail.id}` }, t("enter_room")) : null),
    h("section", { class: "panel" }, facts([
      ["case_number", h("a", { href: `#case/${detail.case.id}` }, detail.case.case_number)],
      ["village", detail.case.village_name],
      ["planned_time", `${formatDateTime(detail.planned_start)}（${t("minutes", { n: detail.planned_minutes })}）`],
      ["mode", label("mode", detail.mode)],
      ["state", label("session_state", detail.state)],
      ["actual_start", detail.actual_start ? formatDateTime(detail.actual_start) : null],
      ["actual_end", detail.actual_end ? formatDateTime(detail.actual_end) : null],
    ])),
    h("section", { class: "panel", "aria-labelledby": "participants-title" },
      h("h2", { id: "participants-title" }, t("participants_and_links")),
      h("table", { class: "grid", id: "participants" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("name")), h("th", { scope: "col" }, t("kind")), h("th", { scope: "col" }, t("how_to_join")))),
        h("tbody", {}, ...people))),
    h("section", { class: "panel", "aria-labelledby": "attendance-title" },
      h("h2", { id: "attendance-title" }, t("attendance")),
      attendance.length ? h("ul", { class: "plain" }, ...attendance) : h("p", { class: "hint" }, t("attendance_none"))),
    reschedule, cancel,
  );
}

async function sessionsPage() {
  const view = main();
  const sessions = await api(`/sessions?from=${chinaDate(new Date(Date.now() - 7 * 86400_000))}`);
  fill(view, h("h1", {}, t("nav_sessions")),
    sessions.length === 0 ? h("p", { class: "hint" }, t("sessions_none")) : h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ...["planned_time", "case_number", "village", "category", "state"].map((key) => h("th", { scope: "col" }, t(key))))),
      h("tbody", {}, ...sessions.map((s) => h("tr", {},
        h("td", {}, h("a", { href: `#session/${s.id}` }, formatDateTime(s.planned_start))), h("td", {}, s.case_number),
        h("td", {}, s.village_name), h("td", {}, label("category", s.category)), h("td", {}, label("session_state", s.state)))))));
}

// ----- statistics -------------------------------------------------------------

function barChart(id, titleKey, rows) {
  const max = Math.max(1, ...rows.map((row) => row.value));
  return h("figure", { class: "chart", id },
    h("figcaption", {}, t(titleKey)),
    rows.length === 0 ? h("p", { class: "hint" }, t("no_data")) : h("table", { class: "bars-table" },
      h("tbody", {}, ...rows.map((row) => h("tr", {},
        h("th", { scope: "row" }, row.label),
        h("td", {}, h("span", { class: "chart-bar", style: `width:${(row.value / max) * 100}%` }), h("span", { class: "bar-value" }, String(row.value))))))));
}

async function statsPage() {
  const view = main();
  const params = new URLSearchParams(location.search);
  const year = chinaDate().slice(0, 4);
  const from = params.get("from") || `${year}-01-01`;
  const to = params.get("to") || chinaDate();
  const village = params.get("village") || "";
  const town = params.get("town") || "";
  const query = new URLSearchParams({ from, to });
  if (village) query.set("village", village);
  if (town) query.set("town", town);
  // Administrators reach several towns: they may narrow to one.
  workspace.towns ??= workspace.me.role === "mediator" ? [] : await api("/towns?active=true");
  const stats = await api(`/stats?${query}`);
  const form = actionForm({ class: "filters", id: "stats-filters" }, [
    field("from", { name: "from", type: "date", value: from }),
    field("to", { name: "to", type: "date", value: to }),
    workspace.towns.length > 1 ? field("town", objectSelect("town", workspace.towns, { any: true, selected: town })) : null,
    field("village", objectSelect("village", workspace.villages, { any: true, selected: village })),
  ], "show", async (element) => {
    const next = new URLSearchParams();
    for (const name of ["from", "to", "town", "village"]) if (valueOf(element, name)) next.set(name, valueOf(element, name));
    history.replaceState(null, "", `?${next}#stats`);
    await statsPage();
  });
  const numbers = [
    ["cases_registered", stats.cases_registered], ["mediated_successfully", stats.mediated_successfully],
    ["written_agreements", stats.written_agreements], ["oral_agreements", stats.oral_agreements],
    ["cases_with_video_session", stats.cases_with_video_session], ["legal_consultations", stats.legal_consultations],
    ["pending", stats.pending], ["open_over_one_month", stats.open_over_one_month],
  ];
  const csv = h("button", { type: "button", id: "stats-csv", onclick: async () => {
    try {
      const text = await api(`/stats?${query}&format=csv`, { accept: "text/csv" });
      const url = URL.createObjectURL(new Blob(["\ufeff", text], { type: "text/csv;charset=utf-8" }));
      const link = h("a", { href: url, download: `mediation-stats-${from}-${to}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      announce(describeError(error), "error");
    }
  } }, t("download_csv"));
  fill(view,
    h("div", { class: "page-head" }, h("h1", {}, t("nav_stats")), csv),
    form,
    h("ul", { class: "numbers", id: "stats-numbers" }, ...numbers.map(([key, value]) => h("li", { dataset: { metric: key } },
      h("span", { class: "number" }, String(value)), h("span", { class: "number-label" }, t(`stat_${key}`))))),
    stats.average_days_to_outcome !== null && stats.average_days_to_outcome !== undefined
      ? h("p", {}, t("average_days", { days: stats.average_days_to_outcome.toFixed(1) })) : null,
    h("div", { class: "charts" },
      barChart("chart-outcome", "chart_by_outcome", [
        ["written_agreements", stats.written_agreements], ["oral_in_person", stats.oral_in_person], ["oral_phone", stats.oral_phone],
        ["oral_video", stats.oral_video], ["failed", stats.failed], ["referred", stats.referred], ["withdrawn", stats.withdrawn], ["pending", stats.pending],
      ].map(([key, value]) => ({ label: t(`stat_${key}`), value }))),
      barChart("chart-month", "chart_by_month", stats.by_month.map((row) => ({ label: row.key, value: row.count }))),
      barChart("chart-village", "chart_by_village", stats.by_village.map((row) => ({ label: row.village_name, value: row.count }))),
      barChart("chart-category", "chart_by_category", stats.by_category.map((row) => ({ label: label("category", row.key), value: row.count }))),
    ),
  );
}

// ----- start ------------------------------------------------------------------

async function loadWorkspace() {
  workspace.me = await requireStaff(["mediator", "district_admin", "admin"]);
  $("who").textContent = workspace.me.display_name;
  const [villages, stations, advisers, mediators] = await Promise.all([
    api("/villages?active=true"),
    api("/accounts?role=station&active=true"),
    api("/accounts?role=adviser&active=true"),
    api("/accounts?role=mediator&active=true"),
  ]);
  Object.assign(workspace, { villages, stations, advisers, mediators });
}

// Listening before the data is in, so no change of route is missed meanwhile.
const ready = loadWorkspace();
window.addEventListener("hashchange", () => ready.then(route));

async function start() {
  await ready;
  await route();
}

setUpFrame(() => route());
start().catch((error) => fill($("main"), h("p", { class: "error", role: "alert" }, describeError(error))));

