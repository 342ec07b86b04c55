/** An API error answered as Render does: `{"message": "..."}` (plus `id` where Render sends one). */
export class ApiError extends Error {
  readonly status: number;
  readonly id?: string;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, id?: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.id = id;
    this.headers = headers;
    this.name = 'ApiError';
  }

  body(): { id?: string; message: string } {
    return this.id ? { id: this.id, message: this.message } : { message: this.message };
  }
}

export const notFound = (id: string) => new ApiError(404, `not found: ${id}`);
export const badRequest = (message: string) => new ApiError(400, message);
export const forbidden = () => new ApiError(403, 'forbidden: this API key has no access to the resource', 'forbidden');
export const unauthorized = () => new ApiError(401, 'unauthorized', 'unauthorized');
export const conflict = (message: string) => new ApiError(409, message);
