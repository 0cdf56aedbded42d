import assert from "node:assert/strict";
import { Hono } from "hono";
import { FormError, hasNonFormBody, readForm, readFormFile } from "./form.ts";

const app = new Hono().post("/", async (c) => {
  try {
    const form = await readForm(c);
    const again = await readForm(c);
    const file = await readFormFile(c, "file");
    return c.json({ form, same: form === again, file: file ? await file.text() : null });
  } catch (error) {
    if (error instanceof FormError) return c.json({ error: error.message }, error.status);
    throw error;
  }
});

const post = (body: BodyInit, type?: string) =>
  app.request("/", { method: "POST", body, headers: type ? { "content-type": type } : {} });

Deno.test("readForm() - urlencoded and multipart, read once, repeated fields as lists", async () => {
  const url = await post("a=1&a=2&b=%C3%A9", "application/x-www-form-urlencoded");
  assert.deepEqual(await url.json(), { form: { a: ["1", "2"], b: "é" }, same: true, file: null });
  const fd = new FormData();
  fd.set("name", "x");
  fd.set("file", new File(["<xml/>"], "m.xml"));
  const multi = await app.request("/", { method: "POST", body: fd });
  assert.deepEqual(await multi.json(), { form: { name: "x" }, same: true, file: "<xml/>" });
});

Deno.test("readForm() - refuses other content types (415) and bodies that are not forms (400)", async () => {
  assert.equal((await post("<x/>", "application/xml")).status, 415);
  assert.equal((await post("{}", "application/json")).status, 415);
  assert.equal(
    (await post(new Uint8Array([0x61, 0x3d, 0xff]), "application/x-www-form-urlencoded")).status,
    400,
  );
  assert.equal((await post("--x\r\n\r\n", "multipart/form-data")).status, 400);
  // No body at all is an empty form (a sign-out button carries only its token header).
  const empty = await app.request("/", { method: "POST" });
  assert.deepEqual((await empty.json()).form, {});
});

Deno.test("hasNonFormBody() - forms and empty bodies pass, anything else does not", async () => {
  const check = new Hono().post("/", async (c) => c.json(await hasNonFormBody(c)));
  const ask = async (body: BodyInit | undefined, type?: string) =>
    await (await check.request("/", {
      method: "POST",
      body,
      headers: type ? { "content-type": type } : {},
    })).json();
  assert.equal(await ask("a=1", "application/x-www-form-urlencoded"), false);
  assert.equal(await ask(undefined), false);
  assert.equal(await ask("x", "text/plain"), true);
  assert.equal(await ask("x"), true);
});
