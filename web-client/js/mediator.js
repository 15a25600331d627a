// The mediator's workspace (also used by district and system administrators):
// its routes, each drawn by the module under mediator/ that owns the page.
// Cases with search and the to-do list; registration; the case file with
// scheduling, the outcome forms the People's Mediation Law needs, the
// written agreement, judicial confirmation, follow-ups and closing; the
// session page with invitation links and QR codes; statistics with bar
// charts and a CSV download; risk flags (Art 25); consultations; accounts.
import { bootWorkspace } from "./frame.js";
import { accountsPage } from "./accounts.js";
import { consultationsPage } from "./consultations.js";
import { casePage } from "./mediator/case-file.js";
import { casesPage } from "./mediator/cases.js";
import { newCasePage } from "./mediator/new-case.js";
import { risksPage } from "./mediator/risks.js";
import { sessionPage, sessionsPage } from "./mediator/sessions.js";
import { statisticsPage } from "./mediator/statistics.js";
import { loadWorkspace, workspace } from "./mediator/workspace.js";

bootWorkspace({
  roles: ["mediator", "district_admin", "admin"],
  load: loadWorkspace,
  routes: {
    cases: casesPage,
    "new-case": newCasePage,
    case: casePage,
    session: sessionPage,
    sessions: sessionsPage,
    stats: statisticsPage,
    risks: risksPage,
    consultations: (view) => consultationsPage(view, { villages: workspace.villages, advisers: workspace.advisers }),
    accounts: (view) => accountsPage(view, workspace.me),
  },
  fallback: "cases",
});
