import { z } from 'zod';
import { errors } from '../errors.js';

/** The body of a route that takes none: a form's CSRF token at most (see takesNoBody in validate.ts). */
export const NoBody = z.object({ _csrf: z.string().optional() }).strict();
const NO_BODY = 'This request takes no body (a form\'s _csrf at most).';

/**
 * The check takesNoBody (validate.ts) makes, for a handler to call first where that middleware cannot go:
 * in sign-out's chain (server/routes/auth.ts) it, any validate(), or an import of validate.ts there makes
 * tsc refuse every router chain of the program (TS2769 on router.params: @koa/router's generics measured
 * in another order). Fixed wording: a field name sent may be a pasted secret.
 */
export function refuseBody(body: unknown): void {
  if (!NoBody.safeParse(body ?? {}).success) throw errors.validation(NO_BODY);
}
