// The first run of a freshly installed server, as a town's IT officer meets
// it: no demo town, no administrator; the sign-in page sends them to the
// set-up page, which takes the code the server printed, the district's name
// and the administrator's account, and signs the new administrator in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { personPage, screenshot, serverAndBrowserForFile } from "./harness.mjs";

const running = serverAndBrowserForFile({ env: { E2E_EMPTY: "1" } });

test("the first page of an empty server asks for the set-up code and creates the administrator", async () => {
  assert.match(running.server.setupCode, /^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/, "the server printed a set-up code");
  const page = await personPage(running.browser, running.server.url);
  await page.goto("/");
  await page.waitForURL(/setup\.html/);
  await page.locator("#setup-code").fill("AAAA-BBBB-CCCC-DDDD");
  await page.locator("#setup-district").fill("沾化区");
  await page.locator("#setup-display-name").fill("王工");
  await page.locator("#setup-username").fill("it-officer");
  await page.locator("#setup-password").fill("a long enough password");
  await page.locator("#setup-password-again").fill("a long enough password");
  await screenshot(page, "setup");
  await page.locator("#setup-button").click();
  await page.locator("#setup-error:not([hidden])").waitFor();
  assert.match(await page.locator("#setup-error").textContent(), /设置码不对/, "a wrong code is named as such");

  // Typed as people type it: lower case, spaces for dashes.
  await page.locator("#setup-code").fill(running.server.setupCode.toLowerCase().replaceAll("-", " "));
  await page.locator("#setup-button").click();
  await page.locator("#setup-done:not([hidden])").waitFor();
  await page.locator("#setup-done a").click();
  await page.waitForURL(/mediator\.html/);
  const me = await page.evaluate(async () => {
    const response = await fetch("/api/v1/me", { headers: { authorization: `Bearer ${sessionStorage.getItem("mediation.token")}` } });
    return response.ok ? response.json() : null;
  });
  assert.equal(me?.role, "admin", "the new administrator is signed in");

  // Set up once: the page now sends people to sign in.
  const later = await personPage(running.browser, running.server.url);
  await later.goto("/setup.html");
  await later.waitForURL(/index\.html/);
  assert.deepEqual(page.problems.filter((problem) => !/403/.test(problem)), [], "console errors on the set-up pages");
  assert.deepEqual(later.problems, [], "console errors on the sign-in page");
});
