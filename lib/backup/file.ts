/**
 * The backup file: gzip-compressed JSON lines (`.weftbak`). The first line is the header (format,
 * version, the store's schema version, scope, mode, time); each record is one line
 * `[key, value]` or `[key, value, expiresAt]` in the encoding of `codec.ts` (`expiresAt` in epoch
 * milliseconds); the last line closes the file with the record count and the SHA-256 of every line
 * before it. A file without that line was cut short; one whose count or checksum differs, or that
 * gzip or JSON cannot read, is damaged: reading it fails with a {@linkcode BackupFileError} that
 * says which, before anything is written anywhere.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { CodecError, decodeKey, decodeValue, encodeKey, encodeValue, type Json } from "./codec.ts";
import type { StoredRecord } from "../store/dump.ts";

/** The format name in every header. */
export const BACKUP_FORMAT = "weft-backup";
/** The version of the file format this code writes (and the newest it reads). */
export const BACKUP_FORMAT_VERSION = 1;
/** A line longer than this cannot be a record (values hold at most 64 KiB): the file is damaged. */
const MAX_LINE = 1024 * 1024;

const Header = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.number().int().min(1),
  schemaVersion: z.number().int().min(1),
  createdAt: z.string(),
  mode: z.enum(["live", "point-in-time"]),
  scope: z.union([
    z.object({ kind: z.literal("store") }),
    z.object({
      kind: z.literal("tenant"),
      tenant: z.object({
        id: z.string(),
        subdomain: z.string(),
        name: z.string(),
        createdAt: z.string(),
      }),
    }),
  ]),
  weft: z.string().optional(),
});

/** The first line of a backup file. */
export type BackupHeader = z.infer<typeof Header>;

const Trailer = z.object({
  end: z.literal(true),
  records: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** A backup file that cannot be read: damaged, cut short, or not a backup. */
export class BackupFileError extends Error {
  constructor(path: string, problem: string) {
    super(`Cannot read the backup "${path}": ${problem}. Nothing was written`);
    this.name = "BackupFileError";
  }
}

/** The kind of a record for summaries: the part after the tenant id, else the first part. */
export function kindOf(key: Deno.KvKey): string {
  return String(key[0] === "t" ? key[2] : key[0]);
}

/** Counts of a backup's records and bytes. */
export interface BackupTotals {
  records: number;
  /** Records per kind ({@linkcode kindOf}). */
  kinds: Map<string, number>;
  /** Bytes of JSON lines, before compression. */
  rawBytes: number;
}

function count(totals: BackupTotals, key: Deno.KvKey, bytes: number): void {
  totals.records++;
  totals.rawBytes += bytes;
  const k = kindOf(key);
  totals.kinds.set(k, (totals.kinds.get(k) ?? 0) + 1);
}

const encoder = new TextEncoder();

/**
 * Writes a backup to `path`: to `<path>.partial` first, renamed when complete, so a backup that
 * fails midway never leaves a file that looks whole. Returns the totals and the file's size.
 */
export async function writeBackupFile(
  path: string,
  header: BackupHeader,
  records: AsyncIterable<StoredRecord>,
  onRecord?: (totals: BackupTotals) => void,
): Promise<BackupTotals & { fileBytes: number }> {
  const partial = `${path}.partial`;
  const file = await Deno.open(partial, { write: true, create: true, truncate: true });
  const gzip = new CompressionStream("gzip");
  const piped = gzip.readable.pipeTo(file.writable);
  const writer = gzip.writable.getWriter();
  const hash = createHash("sha256");
  const totals: BackupTotals = { records: 0, kinds: new Map(), rawBytes: 0 };
  let chunk = "";
  const put = async (line: string) => {
    hash.update(line);
    chunk += line;
    if (chunk.length >= 64 * 1024) {
      await writer.write(encoder.encode(chunk));
      chunk = "";
    }
  };
  try {
    await put(JSON.stringify(header) + "\n");
    for await (const r of records) {
      let line: string;
      try {
        const row: Json[] = [encodeKey(r.key), encodeValue(r.value)];
        if (r.expiresAt !== undefined) row.push(r.expiresAt);
        line = JSON.stringify(row) + "\n";
      } catch (error) {
        if (error instanceof CodecError) {
          throw new Error(`Cannot back up the record ${Deno.inspect(r.key)}: ${error.message}`);
        }
        throw error;
      }
      await put(line);
      count(totals, r.key, line.length);
      onRecord?.(totals);
    }
    const trailer = { end: true, records: totals.records, sha256: hash.digest("hex") };
    chunk += JSON.stringify(trailer) + "\n";
    await writer.write(encoder.encode(chunk));
    await writer.close();
    await piped;
  } catch (error) {
    await writer.abort(error).catch(() => {});
    await piped.catch(() => {});
    await Deno.remove(partial).catch(() => {});
    throw error;
  }
  await Deno.rename(partial, path);
  return { ...totals, fileBytes: (await Deno.stat(path)).size };
}

/** Lines of a gzip text stream, each without its newline; refuses overlong lines. */
async function* lines(
  path: string,
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
): AsyncGenerator<string> {
  let rest = "";
  const text = stream.pipeThrough(new DecompressionStream("gzip")).pipeThrough(
    new TextDecoderStream("utf-8", { fatal: true }),
  );
  try {
    for await (const piece of text) {
      rest += piece;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        yield rest.slice(0, nl);
        rest = rest.slice(nl + 1);
      }
      if (rest.length > MAX_LINE) {
        throw new BackupFileError(path, "it holds a line too long to be a record");
      }
    }
  } catch (error) {
    if (error instanceof BackupFileError) throw error;
    const why = error instanceof Error ? error.message : String(error);
    throw new BackupFileError(
      path,
      `it is damaged or cut short (its compressed data cannot be read: ${why})`,
    );
  }
  if (rest.length) yield rest;
}

function parseLine(path: string, line: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new BackupFileError(path, `line ${n} is not JSON (the file is damaged)`);
  }
}

/** A backup file being read: its header, then its records. */
export interface BackupReader {
  header: BackupHeader;
  /**
   * The records, each with its line's size; the closing line's count and checksum are checked
   * when they end, so a consumer that must write nothing from a damaged file reads it through
   * once first ({@linkcode verifyBackupFile}).
   */
  records(): AsyncGenerator<StoredRecord & { size: number }>;
}

/** Opens a backup file and reads its header. */
export async function openBackupFile(path: string): Promise<BackupReader> {
  const open = async () => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new BackupFileError(path, "no such file");
      throw error;
    }
    const it = lines(path, file.readable);
    const first = await it.next();
    if (first.done) throw new BackupFileError(path, "it is empty");
    const parsed = Header.safeParse(parseLine(path, first.value, 1));
    if (!parsed.success) {
      throw new BackupFileError(path, "it does not start with a Weft backup header");
    }
    if (parsed.data.version > BACKUP_FORMAT_VERSION) {
      throw new BackupFileError(
        path,
        `it is in format version ${parsed.data.version}, newer than this Weft reads (${BACKUP_FORMAT_VERSION}): use a newer Weft`,
      );
    }
    return { header: parsed.data, it, first: first.value };
  };
  const { header } = await open().then(async (o) => (await o.it.return(undefined), o));
  return {
    header,
    async *records() {
      const { it, first } = await open();
      const hash = createHash("sha256");
      hash.update(first + "\n");
      let n = 1;
      let records = 0;
      for await (const line of it) {
        n++;
        const json = parseLine(path, line, n);
        if (!Array.isArray(json)) {
          const trailer = Trailer.safeParse(json);
          if (!trailer.success) throw new BackupFileError(path, `line ${n} is not a record`);
          if ((await it.next()).done === false) {
            throw new BackupFileError(path, "it goes on after its closing line");
          }
          if (trailer.data.records !== records) {
            throw new BackupFileError(
              path,
              `its closing line counts ${trailer.data.records} records, the file holds ${records}`,
            );
          }
          if (trailer.data.sha256 !== hash.digest("hex")) {
            throw new BackupFileError(
              path,
              "its checksum does not match its contents (the file is damaged)",
            );
          }
          return;
        }
        hash.update(line + "\n");
        const [k, v, at] = json as [Json, Json, unknown];
        if (json.length < 2 || json.length > 3 || (at !== undefined && typeof at !== "number")) {
          throw new BackupFileError(path, `line ${n} is not a record`);
        }
        let record: StoredRecord & { size: number };
        try {
          record = { key: decodeKey(k), value: decodeValue(v), size: line.length + 1 };
        } catch (error) {
          if (error instanceof CodecError) {
            throw new BackupFileError(path, `line ${n}: ${error.message}`);
          }
          throw error;
        }
        if (typeof at === "number") record.expiresAt = at;
        records++;
        yield record;
      }
      throw new BackupFileError(
        path,
        `it is cut short: it ends after ${records} records without its closing line`,
      );
    },
  };
}

/** Reads a whole backup file, checking everything, and returns its header and totals. */
export async function verifyBackupFile(
  path: string,
  onRecord?: (totals: BackupTotals) => void,
): Promise<{ header: BackupHeader; totals: BackupTotals }> {
  const reader = await openBackupFile(path);
  const totals: BackupTotals = { records: 0, kinds: new Map(), rawBytes: 0 };
  for await (const r of reader.records()) {
    count(totals, r.key, r.size);
    onRecord?.(totals);
  }
  return { header: reader.header, totals };
}
