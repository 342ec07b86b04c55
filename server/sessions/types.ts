/** What a session record holds. Credentials are sealed individually on top of the record's own encryption. */
export interface SessionUser {
  id: number;
  login: string;
  name: string | null;
  avatarUrl: string;
}

export interface RenderOwner {
  id: string;
  name: string;
  type: 'user' | 'team';
}

export interface SessionRenderCredentials {
  /** The Render API key, sealed (AES-256-GCM, AAD = session ref + field). */
  apiKeySealed: string;
  /** Non-reversible fingerprint: jobs check it so a replaced key never runs another key's work. */
  keyFingerprint: string;
  /** Last 4 characters, for the "rnd_...abcd" hint. */
  keyHint: string;
  owners: RenderOwner[];
  verifiedAt: number;
  /**
   * When Render answered a call made with this key 401 (revoked on Render's side), if it has: read from the
   * record's own mark (records.ts), never sealed with the key; a new key connected starts without it.
   */
  rejectedAt?: number;
}

export interface AppSession {
  createdAt?: number;
  lastSeenAt?: number;
  user?: SessionUser;
  githubTokenSealed?: string;
  csrfToken?: string;
  /** Client fingerprint at login (hash of user agent), for the changed-client security event. */
  clientHash?: string;
  render?: SessionRenderCredentials;
  /**
   * A token session (Authorization: Bearer): reachable only with the GitHub token it was made for,
   * never through a cookie, and a cookie session is never reachable with a token.
   */
  bearer?: true;
  /** A per-request Render key (X-Render-Api-Key): deleted when its request or its deploy ends. */
  ephemeral?: true;
  /** grant's pre-auth OAuth state (state, code_verifier); dropped at login. */
  grant?: unknown;
}
