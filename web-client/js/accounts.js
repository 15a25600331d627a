// Accounts in the caller's reach: the list, creating one (a mediator creates
// the station accounts of the town; a district administrator mediators,
// stations and advisers of the district), deactivating and reactivating
// (at once: the account's tokens stop working), and password resets with
// the generated password shown once.
import { t } from "./i18n.js";
import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { announce, withErrorAnnounced } from "./frame.js";
import { actionForm, field, objectSelect, valueOf, vocabularySelect } from "./forms.js";
import { tableHead } from "./views.js";

/** The roles the caller may create, and the kind of home unit each needs. */
const CREATABLE = {
  admin: ["district_admin", "mediator", "station", "adviser"],
  district_admin: ["mediator", "station", "adviser"],
  mediator: ["station"],
};
const HOME_KIND = { district_admin: "districts", adviser: "districts", mediator: "towns", station: "villages" };

/** The one-time message for a generated password. */
function passwordNotice(result) {
  return result.generated_password ? t("password_once", { username: result.username, password: result.generated_password }) : "";
}

/**
 * Draws the accounts page into `container` for `me`; `notice` (a generated
 * password) is shown once at the top.
 */
export async function accountsPage(container, me, notice = "") {
  const [accounts, districts, towns, villages] = await Promise.all([
    api("/accounts"),
    api("/districts?active=true"),
    api("/towns?active=true"),
    api("/villages?active=true"),
  ]);
  const units = { districts, towns, villages };
  const unitName = (id) => [...districts, ...towns, ...villages].find((unit) => unit.id === id)?.name || "—";
  const act = (path, done) => withErrorAnnounced(async () => {
    const result = await api(path, { method: "POST", body: {} });
    announce(done);
    await accountsPage(container, me, passwordNotice(result));
  });
  const manageable = (account) => (CREATABLE[me.role] || []).includes(account.role);
  const rows = accounts.map((account) => h("tr", { dataset: { accountId: account.id } },
    h("td", {}, account.username), h("td", {}, account.display_name), h("td", {}, t(`role_${account.role}`)),
    h("td", {}, account.unit_id ? unitName(account.unit_id) : t("no_unit")),
    h("td", {}, t(account.active ? "account_active" : "account_inactive")),
    h("td", {}, account.id === me.id ? h("span", { class: "hint" }, t("this_is_you")) : !manageable(account) ? null : h("span", { class: "button-row" },
      h("button", {
        type: "button", class: account.active ? "small danger" : "small", "aria-label": `${t(account.active ? "deactivate" : "activate")}：${account.username}`,
        onclick: act(`/accounts/${account.id}/${account.active ? "deactivate" : "activate"}`, t("saved")),
      }, t(account.active ? "deactivate" : "activate")),
      h("button", {
        type: "button", class: "small", "aria-label": `${t("reset_password")}：${account.username}`,
        onclick: () => confirm(t("reset_password_confirm", { username: account.username })) && act(`/accounts/${account.id}/password`, t("saved"))(),
      }, t("reset_password")),
    )),
  ));
  const roles = CREATABLE[me.role] || [];
  const unitSelect = h("div", { id: "home-unit" });
  const roleSelect = vocabularySelect("role", "role", roles, { required: true });
  const showUnits = () => fill(unitSelect, field("home_unit", objectSelect("unit_id", units[HOME_KIND[roleSelect.value]] || [], { required: true })));
  roleSelect.addEventListener("change", showUnits);
  showUnits();
  const form = roles.length ? actionForm({ class: "panel", id: "account-form", "aria-labelledby": "account-form-title" }, [
    h("h2", { id: "account-form-title" }, t("create_account")),
    field("username", { name: "username", required: true, autocapitalize: "none", spellcheck: "false" }),
    field("display_name", { name: "display_name", required: true }),
    field("role_label", roleSelect),
    unitSelect,
    field("phone", { name: "phone", type: "tel" }),
  ], "create_account", async (element) => {
    const created = await api("/accounts", {
      method: "POST",
      body: {
        username: valueOf(element, "username") || "",
        display_name: valueOf(element, "display_name") || "",
        role: valueOf(element, "role"),
        unit_id: valueOf(element, "unit_id"),
        phone: valueOf(element, "phone"),
      },
    });
    await accountsPage(container, me, passwordNotice(created));
  }) : null;
  fill(container,
    h("h1", {}, t("nav_accounts")),
    notice ? h("p", { class: "ok big-text", id: "generated-password", role: "status" }, notice) : null,
    h("section", { class: "panel" },
      h("table", { class: "grid", id: "accounts" },
        tableHead(["username", "display_name", "role_label", "home_unit", "state", "actions"]),
        h("tbody", {}, ...rows))),
    form,
  );
}
