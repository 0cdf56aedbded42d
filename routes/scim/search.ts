/**
 * `POST /.search` at the SCIM root (RFC 7644 §3.4.3): one filter over Users and Groups.
 * @module
 */
import { Hono } from "hono";
import type { ScimEnv } from "../../lib/http/env.ts";
import { listParamsFromSearch, readJsonBody, scimJson } from "../../lib/http/scim.ts";
import { query } from "../../lib/store/query.ts";
import { project } from "../../lib/scim/projection.ts";
import { renderGroup } from "../../lib/scim/resource.ts";
import { userSource } from "./users.ts";
import { groupSource } from "./groups.ts";
import { listResponse } from "./_shared.ts";

/** The root search route. */
export const search = new Hono<ScimEnv>();

search.post("/.search", async (c) => {
  const { kv, config } = c.get("deps");
  const params = listParamsFromSearch(await readJsonBody(c), config.maxResults);
  // Both types are filtered in full, then paged together (users first, then groups).
  const all = {
    ...params,
    startIndex: 1,
    count: config.scanLimit,
    cursor: undefined,
    scanLimit: config.scanLimit,
  };
  const users = userSource(c, params);
  const u = await query(kv, users, all);
  const g = await query(kv, groupSource(c, null), all);
  const base = c.get("scimBase");
  const resources = [
    ...u.items.map((x) => project(users.view(x), "User", params)),
    ...g.items.map((x) =>
      project(renderGroup(x.group, x.versionstamp, `${base}/Groups/${x.group.id}`), "Group", params)
    ),
  ];
  const page = resources.slice(params.startIndex - 1, params.startIndex - 1 + params.count);
  return scimJson(listResponse(page, resources.length, { startIndex: params.startIndex }));
});
