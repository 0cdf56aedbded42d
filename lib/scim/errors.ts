/**
 * The one SCIM error type, with keyword factories, rendered as the RFC 7644 §3.12 body.
 * @module
 */
import { ERROR_SCHEMA } from "./urns.ts";

/** `scimType` keywords of RFC 7644 §3.12 (RFC spelling `invalidVers`) and RFC 9865 §2.4. */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive"
  | "invalidCursor"
  | "expiredCursor"
  | "invalidCount";

/** Which status each `scimType` may be sent with (RFC 7644 Table 9; 413 for `tooMany` on bodies). */
const STATUS_FOR_TYPE: Record<ScimType, readonly number[]> = {
  invalidFilter: [400],
  tooMany: [400, 413],
  uniqueness: [409],
  mutability: [400],
  invalidSyntax: [400],
  invalidPath: [400],
  noTarget: [400],
  invalidValue: [400],
  invalidVers: [400],
  sensitive: [400, 403],
  // RFC 9865 §2.4 (cursor pagination errors).
  invalidCursor: [400],
  expiredCursor: [400],
  invalidCount: [400],
};

/** A SCIM protocol error: an HTTP status, an optional `scimType` and a detail for the admin. */
export class ScimError extends Error {
  readonly status: number;
  readonly scimType?: ScimType;
  /** Extra response headers, e.g. `Retry-After` on 429 or `WWW-Authenticate` on 401. */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    detail: string,
    options: { scimType?: ScimType; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = "ScimError";
    if (options.scimType && !STATUS_FOR_TYPE[options.scimType].includes(status)) {
      throw new TypeError(`scimType "${options.scimType}" cannot be sent with status ${status}`);
    }
    this.status = status;
    this.scimType = options.scimType;
    this.headers = options.headers ?? {};
  }

  /** 400 `invalidFilter`: the filter is malformed or cannot be evaluated. */
  static invalidFilter(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "invalidFilter" });
  }
  /** 400 `invalidSyntax`: the request body is not a valid message. */
  static invalidSyntax(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "invalidSyntax" });
  }
  /** 400 `invalidValue`: a required value is missing or a value has the wrong type. */
  static invalidValue(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "invalidValue" });
  }
  /** 400 `invalidPath`: a PATCH path is malformed or names no attribute. */
  static invalidPath(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "invalidPath" });
  }
  /** 400 `noTarget`: a PATCH path filter matched nothing where a match was required. */
  static noTarget(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "noTarget" });
  }
  /** 400 `mutability`: the change would modify an immutable or read-only attribute. */
  static mutability(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "mutability" });
  }
  /** 400 `tooMany`: the query would return or touch more than the server allows. */
  static tooMany(detail: string): ScimError {
    return new ScimError(400, detail, { scimType: "tooMany" });
  }
  /** 409 `uniqueness`: a unique attribute value is already taken. */
  static uniqueness(detail: string): ScimError {
    return new ScimError(409, detail, { scimType: "uniqueness" });
  }
  /** 404: the resource does not exist (for this IdP). */
  static notFound(detail: string): ScimError {
    return new ScimError(404, detail);
  }
  /** 412: the `If-Match` version does not match the stored one. */
  static preconditionFailed(detail: string): ScimError {
    return new ScimError(412, detail);
  }
}

/** The RFC 7644 §3.12 body of an error (`status` as a string). */
export function toErrorBody(error: ScimError): Record<string, unknown> {
  const body: Record<string, unknown> = {
    schemas: [ERROR_SCHEMA],
    status: String(error.status),
  };
  if (error.scimType) body.scimType = error.scimType;
  body.detail = error.message;
  return body;
}
