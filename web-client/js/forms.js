// Form building blocks shared by the workspaces: labelled fields, choices from
// the API's vocabularies (the lists live in vocabularies.js), reading a form
// into a request body, and showing a request's error next to the form that
// sent it.
import { t } from "./i18n.js";
import { describeError } from "./api.js";
import { h } from "./dom.js";
import { label } from "./format.js";
import { announce } from "./frame.js";

let fieldCounter = 0;

/** A labelled input; `control` is an element or the attributes of an <input>. */
export function field(labelKey, control, hintKey) {
  const element = control instanceof Node ? control : h("input", control);
  element.id ||= `field-${++fieldCounter}`;
  const hint = hintKey ? h("small", { class: "hint", id: `${element.id}-hint` }, t(hintKey)) : null;
  if (hint) element.setAttribute("aria-describedby", hint.id);
  return h("div", { class: "field" }, h("label", { for: element.id }, t(labelKey)), element, hint);
}

/** A <select> over a vocabulary, with an optional "any" entry. */
export function vocabularySelect(name, vocabulary, values, { any = false, selected, required = false } = {}) {
  return h("select", { name, required },
    any ? h("option", { value: "" }, t("any")) : null,
    ...values.map((value) => h("option", { value, selected: value === selected }, label(vocabulary, value))));
}

/** A <select> over objects with an id and a name. */
export function objectSelect(name, items, { any = false, selected, required = false, text = (item) => item.name } = {}) {
  return h("select", { name, required },
    any ? h("option", { value: "" }, t("any")) : null,
    ...items.map((item) => h("option", { value: item.id, selected: item.id === selected }, text(item))));
}

/** Check boxes for choosing several of `items`. */
export function checkboxes(name, legendKey, items, { text = (item) => item.name, checked = () => false } = {}) {
  return h("fieldset", { class: "checks" }, h("legend", {}, t(legendKey)),
    items.length === 0 ? h("p", { class: "hint" }, t("none_available")) : null,
    ...items.map((item) => h("label", { class: "check" }, h("input", { type: "checkbox", name, value: item.id, checked: checked(item) }), text(item))));
}

/** The values of the checked boxes called `name` inside `form`. */
export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

/** The trimmed value of the control called `name`, or null when empty. */
export function valueOf(form, name) {
  const control = form.elements.namedItem(name);
  const value = control?.value?.trim();
  return value ? value : null;
}

/**
 * A form whose submit runs `action(form)`; the button is disabled meanwhile,
 * errors appear in the form's alert line and the field the server named is
 * focused.
 */
export function actionForm(attributes, children, submitKey, action) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, t(submitKey));
  const form = h("form", { ...attributes, novalidate: true }, ...children, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      await action(form);
    } catch (failure) {
      error.textContent = describeError(failure);
      error.hidden = false;
      const named = failure.field && form.elements.namedItem(failure.field.split(".")[0].split("[")[0]);
      if (named?.focus) named.focus();
      announce(error.textContent, "error");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
