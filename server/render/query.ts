// Builds Render query strings. The spec uses two array encodings (docs/render-api.md §1):
// shared filter params (style form, explode false) are comma-separated; inline array params
// (explode true, the OpenAPI default) repeat the key. null/undefined mean "not set".

export type Scalar = string | number | boolean | Date;
export type Many<T> = T | readonly T[] | null | undefined;

export class QueryBuilder {
  private readonly parts: string[] = [];

  /** A single value. */
  set(key: string, value: Scalar | null | undefined): this {
    if (value === null || value === undefined) return this;
    this.parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(formatScalar(value))}`);
    return this;
  }

  /** explode=false: `?type=web_service,static_site` (commas inside a value stay escaped). */
  commaSeparated(key: string, values: Many<Scalar>): this {
    const list = toList(values);
    if (list.length === 0) return this;
    const joined = list.map((v) => encodeURIComponent(formatScalar(v))).join(',');
    this.parts.push(`${encodeURIComponent(key)}=${joined}`);
    return this;
  }

  /** explode=true: `?resource=srv-a&resource=srv-b`. */
  repeated(key: string, values: Many<Scalar>): this {
    for (const value of toList(values)) this.set(key, value);
    return this;
  }

  /** A builder with the same parameters, to add to without changing this one. */
  copy(): QueryBuilder {
    const next = new QueryBuilder();
    next.parts.push(...this.parts);
    return next;
  }

  /** `''` or `?a=b&…`. */
  toString(): string {
    return this.parts.length === 0 ? '' : `?${this.parts.join('&')}`;
  }
}

function toList<T>(values: Many<T>): T[] {
  if (values === null || values === undefined) return [];
  const list: readonly T[] = Array.isArray(values) ? values : [values as T];
  return list.filter((v) => v !== null && v !== undefined && (v as unknown) !== '');
}

function formatScalar(value: Scalar): string {
  return value instanceof Date ? value.toISOString() : String(value);
}
