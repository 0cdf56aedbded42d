/**
 * HTML form bodies, read once and strictly: `application/x-www-form-urlencoded` or
 * `multipart/form-data`, in UTF-8. Anything else is a {@linkcode FormError} (`415` for another
 * content type, `400` for a body that is not a readable form), which each surface renders in
 * its own format. The console, the people's pages and the SAML ACS read forms only here.
 * @module
 */
import type { Context } from "hono";

/** A form: each field's value, or values when it was given more than once. */
export type Form = Record<string, string | string[]>;

/** Why a body is not a form Weft reads. */
export class FormError extends Error {
  constructor(readonly status: 400 | 415, message: string) {
    super(message);
    this.name = "FormError";
  }
}

/** A form as read: its text fields, and the files of a multipart form. */
interface ReadForm {
  fields: Form;
  files: Map<string, File>;
}

const forms = new WeakMap<object, Promise<ReadForm>>();

/** The content types of HTML forms. */
export const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

async function parseForm(c: Context): Promise<ReadForm> {
  const type = c.req.header("content-type") ?? "";
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  const files = new Map<string, File>();
  if (!FORM_TYPE.test(type)) {
    if (bytes.length === 0 && type === "") return { fields: {}, files };
    throw new FormError(
      415,
      "Send the form as application/x-www-form-urlencoded or multipart/form-data",
    );
  }
  const urlencoded = /^application\/x-www-form-urlencoded/i.test(type);
  let data: URLSearchParams | FormData;
  try {
    data = urlencoded
      ? new URLSearchParams(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
      : await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch {
    throw new FormError(
      400,
      "The form cannot be read (not UTF-8, or malformed): nothing was changed",
    );
  }
  const fields: Form = {};
  for (const [k, v] of data.entries()) {
    if (typeof v !== "string") {
      files.set(k, v);
      continue;
    }
    const had = fields[k];
    fields[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  // The multipart parser decodes fields leniently: a form that is not UTF-8 is refused, unless
  // the bytes that are not are a file's.
  if (!urlencoded && files.size === 0) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new FormError(400, "The form is not valid UTF-8: nothing was changed");
    }
  }
  return { fields, files };
}

function formOf(c: Context): Promise<ReadForm> {
  let form = forms.get(c.req);
  if (!form) forms.set(c.req, form = parseForm(c));
  return form;
}

/** The request's form fields (files are only for {@linkcode readFormFile}); read once. */
export async function readForm(c: Context): Promise<Form> {
  return (await formOf(c)).fields;
}

/** A file of the request's multipart form, if one was sent under `name`. */
export async function readFormFile(c: Context, name: string): Promise<File | undefined> {
  return (await formOf(c)).files.get(name);
}

/** Whether a request carries a body that is not a form (a `415` where forms are expected). */
export async function hasNonFormBody(c: Context): Promise<boolean> {
  const type = c.req.header("content-type") ?? "";
  if (FORM_TYPE.test(type)) return false;
  if (type !== "") return true;
  return !!c.req.raw.body && (await c.req.arrayBuffer()).byteLength > 0;
}
