// Every page in both languages: each must render without a console error
// (a missing translation key is reported as one), without an uncaught
// exception and without a visible control a screen reader cannot name;
// both translation tables must hold the same keys; the language switch must
// switch.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import zhCN from "../../web-client/js/lang/zh-CN.js";
import en from "../../web-client/js/lang/en.js";
import { DEMO_PASSWORD, launchBrowser, personPage, restAs, sleep, startServer } from "./harness.mjs";

let server;
let browser;
const fixture = {};

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const mediator = await restAs(server.url, "mediator1");
  const villages = await mediator.get("/villages");
  const dongping = villages.find((village) => village.name === "东平村");
  const created = await mediator.post("/cases", {
    village_id: dongping.id, category: "land_forest", source: "party_application", summary: "承包地边界争议",
    public_session: false,
    parties: [{ name: "赵家", side: "applicant" }, { name: "钱家", side: "respondent", phone: "13800000002" }],
  });
  const caseId = (created.case || created).id;
  const [station] = await mediator.get("/accounts?role=station").then((list) => list.filter((a) => a.username === "station-dongping"));
  const [adviser] = await mediator.get("/accounts?role=adviser");
  const file = await mediator.get(`/cases/${caseId}`);
  const session = await mediator.post(`/cases/${caseId}/sessions`, {
    planned_start: new Date(Date.now() + 10 * 60_000).toISOString(), planned_minutes: 60, mode: "video",
    station_ids: [station.id], adviser_ids: [adviser.id], party_ids: [file.parties[1].id],
  });
  await mediator.put(`/cases/${caseId}/agreement`, {
    facts: "边界不清", responsibilities: "双方均有责任", terms: "按二〇一〇年确权图为准", performance_manner: "共同埋设界桩",
    performance_deadline: new Date(Date.now() + 20 * 86400_000).toISOString().slice(0, 10),
  });
  fixture.caseId = caseId;
  fixture.sessionId = session.id;
  fixture.invitationLink = session.participants.find((p) => p.kind === "party").invitation.link;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("both translation tables hold the same keys, none empty", () => {
  const missingInEnglish = Object.keys(zhCN).filter((key) => !(key in en));
  const missingInChinese = Object.keys(en).filter((key) => !(key in zhCN));
  assert.deepEqual(missingInEnglish, [], "keys without an English text");
  assert.deepEqual(missingInChinese, [], "keys without a Chinese text");
  for (const [key, text] of [...Object.entries(zhCN), ...Object.entries(en)]) assert.ok(text.trim(), `empty text for ${key}`);
});

/** Signs in without the sign-in form (its own page is checked separately). */
async function signedIn(page, username) {
  await page.goto("/index.html");
  await page.evaluate(async ({ username, password }) => {
    const response = await fetch("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
    const body = await response.json();
    sessionStorage.setItem("mediation.token", body.token);
  }, { username, password: DEMO_PASSWORD });
}

/** Opens `path`, waits for it to settle and for `ready`, and returns what went wrong. */
async function visit(page, path, ready) {
  // A fresh load each time, also between routes of one page.
  await page.goto("about:blank");
  await page.goto(path);
  if (ready) await page.locator(ready).first().waitFor();
  await page.waitForLoadState("networkidle");
  await sleep(300);
  const raw = await page.evaluate(() => document.body.innerText.match(/\b[a-z]+(_[a-z]+)+\b/g) || []);
  return { problems: [...page.problems.splice(0), ...(await unnamedControls(page))], raw };
}

/** Visible controls a screen reader could not name: fields without a label, buttons and links without text. */
function unnamedControls(page) {
  return page.evaluate(() => {
    const visible = (element) => element.offsetParent !== null || element.getClientRects().length > 0;
    const problems = [];
    for (const element of document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href]")) {
      if (!visible(element)) continue;
      const named = element.getAttribute("aria-label")
        || element.labels?.length
        || element.closest("label")
        || (["BUTTON", "A"].includes(element.tagName) && element.textContent.trim());
      if (!named) problems.push(`unnamed control: ${element.outerHTML.slice(0, 120)}`);
    }
    return problems;
  });
}

for (const lang of ["zh-CN", "en"]) {
  test(`every page in ${lang}`, async () => {
    const results = {};
    const anonymous = await personPage(browser, server.url, { lang });
    results.login = await visit(anonymous, "/index.html", "#login-form");
    results.joinWithoutLink = await visit(anonymous, "/join.html", "[role=alert]");
    // A party sees the consent notice before anything else.
    results.joinAsParty = await visit(anonymous, new URL(fixture.invitationLink).pathname + new URL(fixture.invitationLink).hash, "#party-notice");

    const mediator = await personPage(browser, server.url, { lang });
    await signedIn(mediator, "mediator1");
    for (const route of ["cases", "new-case", `case/${fixture.caseId}`, `session/${fixture.sessionId}`, "sessions", "stats", "consultations", "accounts"]) {
      results[`mediator#${route}`] = await visit(mediator, `/mediator.html#${route}`, "main h1");
    }
    results.mediatorJoin = await visit(mediator, `/join.html?session=${fixture.sessionId}`, "#device-join:not([disabled])");
    await mediator.click("#device-join");
    await mediator.locator("#lobby-panel").waitFor();
    await mediator.click("#push-agreement");
    await mediator.locator("#agreement-dialog[open]").waitFor();
    await mediator.click("#agreement-close");
    results.room = {
      problems: [...mediator.problems.splice(0), ...(await unnamedControls(mediator))],
      raw: await mediator.evaluate(() => document.body.innerText.match(/\b[a-z]+(_[a-z]+)+\b/g) || []),
    };
    await mediator.click("#leave");
    await mediator.locator("#ended").waitFor();

    const district = await personPage(browser, server.url, { lang });
    await signedIn(district, "district");
    results.districtCases = await visit(district, "/mediator.html#cases", "#todo h3");
    results.districtStats = await visit(district, "/mediator.html#stats", "#stats-numbers");
    results.districtAccounts = await visit(district, "/mediator.html#accounts", "#account-form");

    const station = await personPage(browser, server.url, { lang });
    await signedIn(station, "station-dongping");
    results.station = await visit(station, "/station.html", `.kiosk-card[data-session-id="${fixture.sessionId}"]`);

    const adviser = await personPage(browser, server.url, { lang });
    await signedIn(adviser, "adviser1");
    results.adviserSessions = await visit(adviser, "/adviser.html#sessions", `[data-session-id="${fixture.sessionId}"]`);
    results.adviserConsultations = await visit(adviser, "/adviser.html#consultations", "#consultation-form");

    const failures = Object.entries(results).filter(([, result]) => result.problems.length || result.raw.length);
    assert.deepEqual(failures, [], "pages with console errors or untranslated keys");
    for (const page of [anonymous, mediator, district, station, adviser]) await page.context().close();
  });
}

test("the language switch turns a page into English and back", async () => {
  const page = await personPage(browser, server.url);
  await page.goto("/index.html");
  assert.equal(await page.locator("#login-title").textContent(), zhCN.login_title);
  await page.click("#lang");
  assert.equal(await page.locator("#login-title").textContent(), en.login_title);
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
  await page.click("#lang");
  assert.equal(await page.locator("#login-title").textContent(), zhCN.login_title);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("signing in works by keyboard alone, with a visible focus ring", async () => {
  const page = await personPage(browser, server.url);
  await page.goto("/index.html");
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  const tabTo = async (id) => {
    for (let presses = 0; presses < 10 && (await focused()) !== id; presses += 1) await page.keyboard.press("Tab");
    assert.equal(await focused(), id, `Tab reaches #${id}`);
  };
  await tabTo("username");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineWidth);
  assert.equal(outline, "3px", "the focused field shows the focus ring");
  await page.keyboard.type("mediator1");
  await tabTo("password");
  await page.keyboard.type(DEMO_PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/mediator\.html/);
  await page.locator("#who", { hasText: "张敏" }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a district administrator creates a station account, and deactivating it stops it at once", async () => {
  const page = await personPage(browser, server.url);
  await signedIn(page, "district");
  await page.goto("/mediator.html#accounts");
  const form = page.locator("#account-form");
  await form.locator("[name=username]").fill("station-dongping-2");
  await form.locator("[name=display_name]").fill("东平村第二说事拉理室");
  await form.locator("select[name=role]").selectOption("station");
  await form.locator("select[name=unit_id]").selectOption({ label: "东平村" });
  await form.locator("button[type=submit]").click();
  const notice = await page.locator("#generated-password").textContent();
  const password = notice.split("：")[1].split("（")[0].trim();
  const login = (secret) => fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "station-dongping-2", password: secret }),
  });
  assert.equal((await login(password)).status, 200, "the shown password works");
  const row = page.locator("#accounts tr", { hasText: "station-dongping-2" });
  await row.locator("button.danger").click();
  await row.filter({ hasText: zhCN.account_inactive }).waitFor();
  assert.equal((await login(password)).status, 401, "a deactivated account cannot sign in");
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a browser that refuses the camera and microphone gets a plain message and can still join to listen", async () => {
  const refusing = await launchBrowser({ refuseDevices: true });
  try {
    const context = await refusing.newContext({ baseURL: server.url, locale: "zh-CN" });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(new URL(fixture.invitationLink).pathname + new URL(fixture.invitationLink).hash);
    // The decision comes first (the earlier tests only looked at the notice).
    await page.locator("#party-consent").click();
    await page.locator(".device-problem", { hasText: zhCN.device_denied.slice(0, 12) }).waitFor();
    assert.equal(await page.locator("#device-join").isEnabled(), true, "joining to watch and listen stays possible");
    assert.equal(await page.locator(".device-status .missing").count(), 2, "camera and microphone both reported missing");
    assert.deepEqual(errors, []);
  } finally {
    await refusing.close();
  }
});
