/**
 * The operator CLI's data commands (`backup`, `restore`, `store copy`): their flags, the stores
 * they open, their messages and exit codes (0 done and consistent, 1 failed or inconsistent,
 * 2 wrong usage).
 * @module
 */
import { getTenantBySubdomain } from "../store/tenants.ts";
import { isKvConnectUrl, openStore } from "../store/open.ts";
import { runBackup } from "./backup.ts";
import { runRestore } from "./restore.ts";
import { runCopy } from "./copy.ts";
import { consoleOutput, type Output } from "./progress.ts";
import type { DumpScope } from "../store/dump.ts";

/** Usage lines of the data commands. */
export const DATA_USAGE =
  `  backup --out <file> [--tenant <subdomain>] [--point-in-time] [--pause-max <seconds>]
  restore --from <file> [--force]
  store copy (--to <DENO_KV_URL> | --to-path <file>) [--tenant <subdomain>] [--force]
             [--point-in-time] [--pause-max <seconds>]`;

/** The data commands' flags (`node:util` parseArgs options). */
export const DATA_OPTIONS = {
  out: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  "to-path": { type: "string" },
  force: { type: "boolean" },
  "point-in-time": { type: "boolean" },
  "pause-max": { type: "string" },
} as const;

/** The flags as parsed. */
export interface DataFlags {
  tenant?: string;
  out?: string;
  from?: string;
  to?: string;
  "to-path"?: string;
  force?: boolean;
  "point-in-time"?: boolean;
  "pause-max"?: string;
}

/** Thrown for wrong usage (exit code 2). */
export class DataUsageError extends Error {}

/** Whether `command` is a data command. */
export function isDataCommand(command: string): boolean {
  return command === "backup" || command === "restore" || command === "store copy";
}

function pauseMaxMs(flags: DataFlags): number {
  const s = flags["pause-max"] === undefined ? 60 : Number(flags["pause-max"]);
  if (!Number.isFinite(s) || s < 1 || s > 3600) {
    throw new DataUsageError("--pause-max must be a number of seconds from 1 to 3600");
  }
  return s * 1000;
}

async function scopeOf(kv: Deno.Kv, flags: DataFlags): Promise<DumpScope> {
  if (!flags.tenant) return {};
  const tenant = await getTenantBySubdomain(kv, flags.tenant);
  if (!tenant) throw new DataUsageError(`No tenant "${flags.tenant}"`);
  return { tenant };
}

/** The name of a store location for messages (a URL without its query). */
function storeName(location: string): string {
  return isKvConnectUrl(location) ? location.replace(/[?#].*$/, "") : location;
}

/**
 * Runs a data command on the configured store `kv` (at `location`); returns the exit code.
 * A failure (a damaged file, a store that is not empty, a pause that cannot be taken) is printed
 * as one message; wrong usage is thrown as {@linkcode DataUsageError}.
 */
export async function runDataCommand(
  command: string,
  flags: DataFlags,
  kv: Deno.Kv,
  location: string,
  out: Output = consoleOutput(),
): Promise<number> {
  try {
    switch (command) {
      case "backup": {
        if (!flags.out) throw new DataUsageError("Missing --out");
        await runBackup(kv, {
          out: flags.out,
          scope: await scopeOf(kv, flags),
          pointInTime: !!flags["point-in-time"],
          pauseMaxMs: pauseMaxMs(flags),
        }, out);
        return 0;
      }
      case "restore": {
        if (!flags.from) throw new DataUsageError("Missing --from");
        if (flags.tenant) {
          throw new DataUsageError("restore takes no --tenant: the backup file says what it holds");
        }
        const problems = await runRestore(kv, {
          from: flags.from,
          force: !!flags.force,
          where: storeName(location),
        }, out);
        return problems.length ? 1 : 0;
      }
      case "store copy": {
        const to = flags.to ?? flags["to-path"];
        if (!to || (flags.to && flags["to-path"])) {
          throw new DataUsageError("Give --to <DENO_KV_URL> or --to-path <file>");
        }
        if (flags.to && !isKvConnectUrl(flags.to)) {
          throw new DataUsageError(
            "--to must be a KV Connect URL (http:// or https://); use --to-path for a file",
          );
        }
        if (flags["to-path"] && isKvConnectUrl(flags["to-path"])) {
          throw new DataUsageError("--to-path must be a file; use --to for a KV Connect URL");
        }
        if (to === location) throw new DataUsageError("Cannot copy a store onto itself");
        const scope = await scopeOf(kv, flags);
        const target = await openStore(to);
        try {
          const problems = await runCopy(kv, target, {
            scope,
            fromName: storeName(location),
            toName: storeName(to),
            force: !!flags.force,
            pointInTime: !!flags["point-in-time"],
            pauseMaxMs: pauseMaxMs(flags),
          }, out);
          return problems.length ? 1 : 0;
        } finally {
          target.close();
        }
      }
      default:
        throw new DataUsageError(`Unknown command "${command}"`);
    }
  } catch (error) {
    out.done();
    if (error instanceof DataUsageError) throw error;
    // Every failure here is one the operator acts on: said in one message, with the stack only
    // when asked for (WEFT_LOG=debug).
    // deno-lint-ignore no-console
    console.error(error instanceof Error ? error.message : String(error));
    if (Deno.env.get("WEFT_LOG") === "debug" && error instanceof Error) {
      // deno-lint-ignore no-console
      console.error(error.stack);
    }
    return 1;
  }
}
