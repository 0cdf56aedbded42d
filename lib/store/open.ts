/**
 * Opening the store: a local SQLite file (its folder created), `:memory:`, a KV Connect URL, or
 * the platform's own store.
 *
 * A KV Connect store (`DENO_KV_URL`, the self-hosted denokv server) differs from the local one in
 * ways Weft accounts for here: it needs `DENO_KV_ACCESS_TOKEN`, it allows 10 checks per atomic
 * operation instead of 100 (recorded with `setMaxChecks`, so membership writes size their
 * operations to it), and Deno's client has no queues on it (`enqueue` throws, `listenQueue` never
 * delivers; Weft uses neither). `watch` works on both.
 * @module
 */
import { MAX_CHECKS_KV_CONNECT, setMaxChecks } from "./kv.ts";

/** Whether a store location is a KV Connect URL rather than a file or `:memory:`. */
export function isKvConnectUrl(path: string): boolean {
  return /^https?:\/\//i.test(path);
}

/**
 * Opens Deno KV at a path or URL; `""` opens the platform's default store (`Deno.openKv()`
 * without a path, which on Deno Deploy is its managed KV) and writes no file of Weft's own.
 */
export async function openStore(path: string): Promise<Deno.Kv> {
  if (path === "") return await Deno.openKv();
  if (isKvConnectUrl(path)) {
    if (!Deno.env.get("DENO_KV_ACCESS_TOKEN")) {
      throw new Error(
        `Cannot open the KV Connect store at "${path}": set DENO_KV_ACCESS_TOKEN to its access token`,
      );
    }
    const kv = await Deno.openKv(path);
    setMaxChecks(kv, MAX_CHECKS_KV_CONNECT);
    return kv;
  }
  if (path !== ":memory:") {
    const dir = path.replace(/[^/]*$/, "");
    if (dir) await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}
