/**
 * A `Deno.Kv` whose operations are spans (children of the request's span): `kv.get`,
 * `kv.getMany`, `kv.list`, `kv.set`, `kv.delete`, `kv.commit`, with the store's name
 * (`db.system.name: deno_kv`), the operation, and the kind of record (`users`, `group_members`,
 * …) and tenant id of the first key — never a key itself, which can hold an e-mail address.
 * Used only when telemetry is on.
 * @module
 */
import { context, type Span, SpanStatusCode } from "@opentelemetry/api";
import { tracer } from "../telemetry/tracer.ts";
import { maxChecks, setMaxChecks } from "./kv.ts";

function describe(span: Span, key: unknown): void {
  if (!Array.isArray(key)) return;
  if (key[0] === "t") {
    span.setAttribute("weft.kv.kind", String(key[2] ?? ""));
    span.setAttribute("weft.tenant.id", String(key[1] ?? ""));
  } else span.setAttribute("weft.kv.kind", String(key[0] ?? ""));
}

function start(op: string, key?: unknown): Span {
  const span = tracer.startSpan(`kv.${op}`, {
    attributes: { "db.system.name": "deno_kv", "db.operation.name": op },
  }, context.active());
  describe(span, key);
  return span;
}

async function traced<T>(span: Span, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.name : "error",
    });
    throw error;
  } finally {
    span.end();
  }
}

/** A list iterator whose whole iteration is one span. */
function tracedList<T>(inner: Deno.KvListIterator<T>, span: Span): Deno.KvListIterator<T> {
  let ended = false;
  let rows = 0;
  const end = () => {
    if (ended) return;
    ended = true;
    span.setAttribute("weft.kv.rows", rows);
    span.end();
  };
  const it = {
    get cursor() {
      return inner.cursor;
    },
    async next() {
      try {
        const r = await inner.next();
        if (r.done) end();
        else rows++;
        return r;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        end();
        throw error;
      }
    },
    async return(value?: unknown) {
      end();
      const r = (inner as { return?: (v?: unknown) => Promise<IteratorResult<unknown>> }).return;
      return r ? await r.call(inner, value) : { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it as unknown as Deno.KvListIterator<T>;
}

/** An atomic operation whose commit is a span counting its mutations. */
function tracedAtomic(op: Deno.AtomicOperation): Deno.AtomicOperation {
  let mutations = 0;
  let firstKey: unknown;
  const proxy: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "commit") {
        return () => {
          const span = start("commit", firstKey);
          span.setAttribute("weft.kv.mutations", mutations);
          return traced(span, () => target.commit());
        };
      }
      return (...args: unknown[]) => {
        if (prop !== "check") {
          mutations++;
          firstKey ??= args[0];
        }
        const result = value.apply(target, args);
        return result === target ? proxy : result;
      };
    },
  });
  return proxy;
}

/** Wraps `kv` so its operations are spans; the store's limits stay recorded on the wrapper. */
export function traceKv(kv: Deno.Kv): Deno.Kv {
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      switch (prop) {
        case "get":
        case "set":
        case "delete":
          return (key: Deno.KvKey, ...rest: unknown[]) =>
            traced(
              start(prop, key),
              () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, [key, ...rest]),
            );
        case "getMany":
          return (keys: Deno.KvKey[], ...rest: unknown[]) => {
            const span = start("getMany", keys[0]);
            span.setAttribute("weft.kv.keys", keys.length);
            return traced(span, () => target.getMany(keys, ...(rest as [])));
          };
        case "list":
          return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
            const key = "prefix" in selector
              ? selector.prefix
              : "start" in selector
              ? selector.start
              : undefined;
            return tracedList(target.list(selector, options), start("list", key));
          };
        case "atomic":
          return () => tracedAtomic(target.atomic());
        default:
          return value.bind(target);
      }
    },
  });
  setMaxChecks(wrapped, maxChecks(kv));
  return wrapped;
}
