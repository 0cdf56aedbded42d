import assert from "node:assert/strict";
import { decodeSamlResponse, unsafeXml } from "./xml_guard.ts";

Deno.test("decodeSamlResponse() reads base64 of UTF-8, with line breaks, and nothing else", () => {
  const xml = '<samlp:Response ID="_1">Zoë</samlp:Response>';
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(xml)));
  assert.equal(decodeSamlResponse(b64), xml);
  assert.equal(decodeSamlResponse(b64.replace(/(.{8})/g, "$1\r\n")), xml);
  assert.equal(decodeSamlResponse("not base64!"), null);
  assert.equal(decodeSamlResponse(btoa("\xff\xfe")), null); // not UTF-8
});

Deno.test("unsafeXml() refuses DTDs, entities and processing instructions", () => {
  assert.equal(unsafeXml('<?xml version="1.0" encoding="UTF-8"?><r/>'), null);
  assert.equal(unsafeXml("<r><!-- a comment --></r>"), null);
  assert.match(unsafeXml('<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>')!, /DTD/);
  assert.match(unsafeXml('<r><!ENTITY x "y"></r>')!, /entities/);
  assert.match(unsafeXml("<r><?p not-an-?>admin</r>")!, /processing instruction/);
  assert.match(unsafeXml('<?xml version="1.0"?><?xml-stylesheet href="x"?><r/>')!, /processing/);
});
