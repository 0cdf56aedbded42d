/**
 * Opening the store: a local SQLite file (its folder created), `:memory:`, or a KV Connect URL.
 * @module
 */

/** Opens Deno KV at a path or URL. */
export async function openStore(path: string): Promise<Deno.Kv> {
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const dir = path.replace(/[^/]*$/, "");
    if (dir) await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}
