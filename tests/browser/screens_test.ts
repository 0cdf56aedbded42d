/**
 * Every console screen at a phone's width and a laptop's: a directory with users, a group, a
 * deactivation and refused requests is pushed over SCIM, then every page the console links to is
 * visited at 390 and 1280 px. No page may scroll sideways (the document is never wider than the
 * viewport), the header's Sign out and role badge stay on screen, and the page has no script error.
 * @module
 */
import assert from "node:assert/strict";
import { chromiumAvailable, type Harness, startHarness } from "./_server.ts";

const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery staple";
const WIDTHS = [390, 1280];
/** Most pages visited per width: the crawl stops there (the console has about thirty). */
const MAX_PAGES = 80;
/** A directory to keep a screenshot of every page visited in (for reviewing the layouts). */
const SHOTS = Deno.env.get("WEFT_SCREENS_DIR");

/** Pushes a small directory through the demo IdP's SCIM API; returns the IdP's id. */
async function pushDirectory(h: Harness): Promise<string> {
  const client = await h.scimClient("okta");
  const scim = (method: string, path: string, body?: unknown) =>
    client.send(method, path, body) as Promise<{ status: number; json: { id: string } }>;
  const ids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const created = await scim("POST", "Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      // A long address: tables must not push the page wider than a phone.
      userName: `margaret.hamilton.apollo.guidance.${i}@very-long-subsidiary-name.example.com`,
      externalId: `00u${i}abcdefghijklmno`,
      name: { givenName: "Margaret", familyName: `Hamilton-${i}` },
      emails: [{
        value: `margaret.hamilton.apollo.guidance.${i}@very-long-subsidiary-name.example.com`,
        type: "work",
        primary: true,
      }],
      active: true,
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        department: "Flight Software Engineering Directorate",
      },
    });
    assert.equal(created.status, 201);
    ids.push(created.json.id);
  }
  const group = await scim("POST", "Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: "Apollo Guidance Computer Software Engineering",
    members: ids.map((value) => ({ value })),
  });
  assert.equal(group.status, 201);
  const off = await scim("PATCH", `Users/${ids[2]}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  assert.ok(off.status === 200 || off.status === 204);
  // A refused request, so the request log and its error filter have something to show.
  const bad = await scim("PATCH", `Users/${ids[0]}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "explode", path: "title", value: "x" }],
  });
  assert.equal(bad.status, 400);
  return client.idpId;
}

/** Links worth following: console pages, not actions, downloads or the island API. */
function followable(href: string, origin: string): string | null {
  let url: URL;
  try {
    url = new URL(href, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin || !url.pathname.startsWith("/admin")) return null;
  if (/^\/admin\/(api|assets|signin|signout|setup)\b/.test(url.pathname)) return null;
  if (url.pathname.endsWith("/export")) return null;
  return url.pathname + url.search;
}

/** The page's family: its path with ids replaced, so each kind of page is checked once or twice. */
function family(path: string): string {
  return new URL(path, "http://x").pathname.replace(
    /\/(?=[^/]*[A-Z0-9])[A-Za-z0-9_-]{12,}(?=\/|$)/g,
    "/:id",
  );
}

Deno.test({
  name: "Every console page at 390 and 1280 px: no sideways scroll, the header stays, no errors",
  ignore: !chromiumAvailable() && !Deno.env.get("CI"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const h = await startHarness();
    const { page, origin } = h;
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
    try {
      await h.createFirstAdmin(EMAIL, PASSWORD);
      const idpId = await pushDirectory(h);

      const problems: string[] = [];
      const seen = new Map<number, Set<string>>();
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 844 });
        const families = new Map<string, number>();
        const queue = ["/admin", `/admin/idps/${idpId}/requests?errors=1`];
        const visited = new Set<string>();
        while (queue.length && visited.size < MAX_PAGES) {
          const path = queue.shift()!;
          if (visited.has(path)) continue;
          const f = family(path);
          if ((families.get(f) ?? 0) >= 2) continue;
          families.set(f, (families.get(f) ?? 0) + 1);
          visited.add(path);
          const res = await page.goto(origin + path);
          if (!res || res.status() >= 400) {
            problems.push(`${width}px ${path}: status ${res?.status()}`);
            continue;
          }
          const m = await page.evaluate(() => {
            const doc = document.documentElement;
            const header = document.querySelector("header.top")?.getBoundingClientRect();
            const signOut = document.querySelector("header.top .who button")
              ?.getBoundingClientRect();
            const badge = document.querySelector("header.top .who .badge")?.getBoundingClientRect();
            const inView = (r?: DOMRect) =>
              !!r && r.width > 0 && r.left >= 0 && r.right <= globalThis.innerWidth + 0.5;
            // The widest element outside a box that scrolls or clips, to name it when the
            // page is too wide.
            const contained = (el: Element) => {
              for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                if (getComputedStyle(p).overflowX !== "visible") return true;
              }
              return false;
            };
            let widest = "";
            let right = 0;
            for (const el of document.querySelectorAll("body *")) {
              const r = el.getBoundingClientRect();
              if (r.right > right && !contained(el)) {
                right = r.right;
                widest = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${
                  el.className && typeof el.className === "string"
                    ? "." + el.className.split(" ").join(".")
                    : ""
                } "${(el.textContent ?? "").trim().slice(0, 40)}"`;
              }
            }
            const over = [...document.querySelectorAll("body *")].filter((el) =>
              el.getBoundingClientRect().right > globalThis.innerWidth
            ).map((el) =>
              `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)} ${
                getComputedStyle(el).position
              }`
            ).slice(0, 12).join(" | ");
            return {
              over,
              scrollWidth: doc.scrollWidth,
              viewport: globalThis.innerWidth,
              header: !!header && header.width > 0,
              signOut: inView(signOut),
              badge: inView(badge),
              widest,
              links: [...document.querySelectorAll("a[href]")].map((a) =>
                a.getAttribute("href") ?? ""
              ),
            };
          });
          if (SHOTS) {
            await page.screenshot({
              path: `${SHOTS}/${width}${family(path).replaceAll("/", "_")}-${visited.size}.png`,
              fullPage: true,
            });
          }
          if (m.scrollWidth > m.viewport) {
            problems.push(
              `${width}px ${path}: document ${m.scrollWidth}px wide in a ${m.viewport}px viewport (widest: ${m.widest}) ${m.over}`,
            );
          }
          if (!m.signOut || !m.badge) {
            problems.push(`${width}px ${path}: Sign out or the role badge is off screen`);
          }
          for (const href of m.links) {
            const next = followable(href, origin);
            if (next && !visited.has(next)) queue.push(next);
          }
        }
        seen.set(width, visited);
      }
      // The crawl reached the console's pages, not just the dashboard.
      for (const [width, visited] of seen) {
        const kinds = new Set([...visited].map(family));
        for (
          const want of [
            "/admin/idps",
            "/admin/idps/:id/scim",
            "/admin/idps/:id/requests",
            "/admin/users",
            "/admin/groups",
            "/admin/events",
            "/admin/settings/mirroring",
            "/admin/admins",
          ]
        ) {
          assert.ok(kinds.has(want), `${width}px: the crawl never reached ${want}`);
        }
        assert.ok(visited.size >= 20, `${width}px: only ${visited.size} pages reached`);
      }
      assert.deepEqual(problems, []);
      assert.deepEqual(errors, []);
    } finally {
      await h.close();
    }
  },
});
