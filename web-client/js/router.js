// A workspace's hash routes (#name/id/part): the page that draws each one
// into a fresh view (a page still loading for an earlier route draws into a
// detached one), the current tab marked, and a failure shown in place of the
// page.
import { $, fill, h } from "./dom.js";
import { errorAlert } from "./views.js";

/**
 * A function that draws the current route: `pages` maps a route name to
 * `async (view, ...parts)`; an empty or unknown name draws `fallback`.
 */
export function hashRouter(pages, fallback) {
  return async function drawRoute() {
    const view = h("div", { class: "view" });
    fill($("main"), view);
    const [name, ...parts] = location.hash.replace(/^#/, "").split("/");
    for (const link of document.querySelectorAll(".tabs a")) {
      link.toggleAttribute("aria-current", link.getAttribute("href") === `#${name || fallback}`);
    }
    const page = Object.hasOwn(pages, name) ? pages[name] : pages[fallback];
    try {
      await page(view, ...parts);
    } catch (error) {
      fill(view, errorAlert(error));
    }
  };
}
