/**
 * Browser entry (bundled to `static/islands/islands.js`): hydrates every island the server
 * marked, with the props from its `data-props` attribute.
 * @module
 */
import { h, hydrate } from "preact";
import { ISLANDS } from "./_registry.ts";

/** Hydrates the islands inside `root`. */
function hydrateIn(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>("[data-island]")) {
    const component = ISLANDS[el.dataset.island ?? ""];
    if (!component) continue;
    const props = JSON.parse(el.dataset.props ?? "{}") as Record<string, unknown>;
    hydrate(h(component, props as never), el);
  }
}

hydrateIn(document);
// Marks the page as interactive (browser tests wait for it before they use an island).
document.documentElement.dataset.hydrated = "";
// A live section swapped in (LiveUpdates) brings its islands as plain markup: hydrate them too.
addEventListener("weft:swapped", (e) => hydrateIn((e as CustomEvent<HTMLElement>).detail));
