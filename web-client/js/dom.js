// DOM helpers every page uses: finding an element by id, building elements
// with attributes and children, and replacing an element's children.

export const $ = (id) => document.getElementById(id);

/** Creates an element with attributes and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "muted") {
      // Only the parser turns the attribute into the property; a self-view must not play back its own microphone.
      element.muted = true;
      element.setAttribute(name, "");
    } else if (name === "style") {
      // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      element.style.cssText = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces the children of `container`, skipping empty (null, false) ones. */
export function fill(container, ...children) {
  container.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}
