// The risk flag (People's Mediation Law Art 25) as people use it: the
// mediator flags a dispute from its case file with the report to the
// police, the district administrator finds it in the workspace's risk list,
// and once the mediator closes it with a note it leaves the open list.
import { test } from "node:test";
import assert from "node:assert/strict";
import { personPage, registerCase, restAs, screenshot, serverAndBrowserForFile, signInThroughPage } from "./harness.mjs";

const running = serverAndBrowserForFile();

test("a mediator flags a dispute and the district sees it until it is closed", async () => {
  const registered = await registerCase(await restAs(running.server.url, "mediator1"), {
    category: "housing_homestead", summary: "宅基地界址争议，双方在村口推搡。",
  });
  const [caseId, caseNumber] = [registered.id, registered.case_number];

  const mediator = await personPage(running.browser, running.server.url);
  await signInThroughPage(mediator, "mediator1", /mediator\.html/);
  await mediator.goto(`/mediator.html#case/${caseId}/risks`);
  const section = mediator.locator("#risks");
  await section.locator("summary").click();
  const form = section.locator("#risk-flag-form");
  await form.locator("select[name=risk]").selectOption("public_order");
  await form.locator("textarea[name=description]").fill("一方扬言要砸对方的院墙，已劝离，并通知村委会。");
  await form.locator("select[name=reported_to]").selectOption("public_security");
  await form.locator("input[name=report_detail]").fill("下洼派出所值班民警，电话报告");
  await form.locator("button[type=submit]").click();
  const flag = section.locator("li.risk.open");
  await flag.waitFor();
  assert.match(await flag.textContent(), /可能引发治安案件/);
  assert.match(await flag.textContent(), /公安机关（派出所）/);
  await screenshot(mediator, "risk-flag-case-file", { keepScroll: true });

  const district = await personPage(running.browser, running.server.url);
  await signInThroughPage(district, "district", /mediator\.html/);
  await district.goto("/mediator.html#risks");
  const row = district.locator(`#risk-table tr[data-flag-id]`);
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.match(await row.first().textContent(), new RegExp(caseNumber.replace(/[()]/g, "\\$&")));
  assert.match(await row.first().textContent(), /东平村/);
  await screenshot(district, "risk-flags-district");

  await flag.locator(".risk-actions summary").click();
  await flag.locator(".risk-close-form input[name=note]").fill("双方已和解，危险解除。");
  await flag.locator(".risk-close-form button[type=submit]").click();
  await section.locator("li.risk.closed").waitFor();
  await district.reload();
  await district.locator("#risks-none").waitFor();
  await district.goto("/mediator.html#risks/closed");
  await district.locator("#risk-table tr[data-flag-id]").first().waitFor();

  assert.deepEqual(mediator.problems, [], "console errors on the mediator's pages");
  assert.deepEqual(district.problems, [], "console errors on the district's pages");
});
