import { z } from 'zod';
import { view } from '../openapi/describe.js';

/** GET /api/meta: sandbox mode shows its demo login and (simulated) Render key; production shows nothing. */
export const MetaView = view('Meta', z.object({
  sandbox: z.boolean(),
  demo: z.object({ login: z.string(), renderApiKey: z.string() }).nullable(),
}));
export type MetaView = z.infer<typeof MetaView>;
