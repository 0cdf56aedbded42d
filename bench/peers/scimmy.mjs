// deno-lint-ignore-file no-console
/**
 * Peer: SCIMMY (`scimmy`) with its Express routers (`scimmy-routers`) over a minimal in-memory
 * store: records by id plus a map per unique attribute, so `eq` filters on userName, externalId
 * and displayName are lookups and unfiltered pages are slices. Copied into the peer install
 * folder by `bench/peers/install.ts` and run with Node there. Env: PORT, TOKEN. Listens on
 * 127.0.0.1 only. SCIM base: `http://127.0.0.1:<PORT>/scim/v2`.
 */
import { randomUUID } from "node:crypto";

// The packages live in the peer install folder, not in this repository: imported by name at
// run time (Node resolves them from this file's folder), never resolved by `deno check`.
const load = (name) => import(name);
const { default: express } = await load("express");
const { default: SCIMMY } = await load("scimmy");
const { default: SCIMMYRouters } = await load("scimmy-routers");

const port = Number(process.env.PORT);
const token = process.env.TOKEN;

function createStore(unique) {
  const byId = new Map();
  const index = Object.fromEntries(unique.map((k) => [k, new Map()]));
  const norm = (k, v) => (k === "externalId" ? v : String(v).toLowerCase());
  return {
    byId,
    find(filter) {
      const only = filter?.length === 1 ? filter[0] : undefined;
      const attrs = only ? Object.keys(only) : [];
      if (attrs.length === 1 && Array.isArray(only[attrs[0]]) && only[attrs[0]][0] === "eq") {
        const value = only[attrs[0]][1];
        if (attrs[0].toLowerCase() === "id") return byId.has(value) ? [byId.get(value)] : [];
        const k = unique.find((u) => u.toLowerCase() === attrs[0].toLowerCase());
        if (k) {
          const id = index[k].get(norm(k, value));
          return id ? [byId.get(id)] : [];
        }
      }
      const all = [...byId.values()];
      return filter ? filter.match(all) : all;
    },
    put(record, previous) {
      for (const k of unique) {
        if (record[k] === undefined) continue;
        const holder = index[k].get(norm(k, record[k]));
        if (holder && holder !== record.id) {
          throw new SCIMMY.Types.Error(409, "uniqueness", `${k} is already taken`);
        }
      }
      if (previous) {
        for (const k of unique) {
          if (previous[k] !== undefined) index[k].delete(norm(k, previous[k]));
        }
      }
      for (const k of unique) {
        if (record[k] !== undefined) index[k].set(norm(k, record[k]), record.id);
      }
      byId.set(record.id, record);
      return record;
    },
    remove(id) {
      const previous = byId.get(id);
      if (!previous) throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
      for (const k of unique) if (previous[k] !== undefined) index[k].delete(norm(k, previous[k]));
      byId.delete(id);
    },
  };
}

function declare(Resource, store) {
  SCIMMY.Resources.declare(Resource)
    .ingress((resource, instance) => {
      const previous = resource.id ? store.byId.get(resource.id) : undefined;
      if (resource.id && !previous) {
        throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
      }
      const now = new Date().toISOString();
      const record = {
        ...JSON.parse(JSON.stringify(instance)),
        id: resource.id ?? randomUUID(),
        meta: { created: previous?.meta?.created ?? now, lastModified: now },
      };
      return store.put(record, previous);
    })
    .egress((resource) => {
      if (resource.id) {
        const record = store.byId.get(resource.id);
        if (!record) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        return record;
      }
      const found = store.find(resource.filter);
      const c = resource.constraints;
      if (c && !resource.filter && !c.sortBy) {
        // Unfiltered page: hand SCIMMY only the page, with the real total.
        const start = (c.startIndex ?? 1) - 1;
        c.totalResults = found.length;
        return found.slice(start, start + (c.count ?? 20));
      }
      return found;
    })
    .degress((resource) => store.remove(resource.id));
}

SCIMMY.Schemas.User.extend(SCIMMY.Schemas.EnterpriseUser);
declare(SCIMMY.Resources.User, createStore(["userName", "externalId"]));
declare(SCIMMY.Resources.Group, createStore(["displayName"]));

const app = express();
app.use(
  "/scim/v2",
  new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
      if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Unknown token");
      return "bench";
    },
  }),
);
const server = app.listen(port, "127.0.0.1", () => console.log("ready"));
// Node closes idle keep-alive sockets after 5 s; group PATCHes can take longer than that, and a
// client reusing a socket the server is closing sees "fetch failed". Keep sockets open longer.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
