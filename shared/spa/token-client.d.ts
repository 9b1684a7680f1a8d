// Types of token-client.mjs: keeps an @insforge/sdk client signed in with InsForge
// tokens from a token bridge (POST /token/<provider>, see docs/openapi.yaml).

/** The part of an @insforge/sdk client this needs (createClient(...) satisfies it). */
export interface AccessTokenSink {
  setAccessToken(token: string | null): void;
}

export interface TokenClientOptions {
  /** The bridge, e.g. `${API_URL}/token/clerk`. */
  url: string;
  /** Receives every new token, and null when the user is signed out. */
  insforge?: AccessTokenSink;
  /**
   * Bearer mode: resolves to the provider credential (a JWT or session token).
   * Resolve null/undefined/"" — or throw SignedOutError, WorkOS's LoginRequiredError or
   * Auth0's `login_required` — to mean "signed out". Any other throw is retried.
   */
  getCredential?: () => Promise<string | null | undefined> | string | null | undefined;
  /**
   * Wallet mode (url: `${API_URL}/token/wallet`): Sign-In with Ethereum through an injected signer
   * (a viem account or wallet client, or window.ethereum via personal_sign). Every fetch signs a new message.
   */
  wallet?: WalletSigner;
  /** Cookie mode (Clerk `__session`, Better Auth session cookie, same-site setups): 'include'. */
  credentials?: 'include' | 'omit' | 'same-origin';
  /** Refresh this long before expires_at (ms, default 60000; at most a third of the token's lifetime). */
  refreshBefore?: number;
  /** Up to this much earlier again, at random, so tabs do not refresh in step (ms, default 10000). */
  jitter?: number;
  /** Never refresh sooner than this after the previous fetch (ms, default 5000). */
  minInterval?: number;
  /** First retry wait (ms, default 1000; doubles per failure). The floor of every retry: Retry-After can only lengthen it. */
  backoffBase?: number;
  /** Cap of every retry wait, Retry-After included (ms, default 60000). */
  maxBackoff?: number;
  /** A token this close to expiry is not handed out by getToken (ms, default 5000). */
  expirySkew?: number;
  /** Abort a bridge request after this long (ms, default 15000). */
  timeout?: number;
  /** Injectables (tests): fetch, Math.random, document and window (visibility/focus). */
  fetch?: typeof fetch;
  random?: () => number;
  document?: Pick<Document, 'visibilityState' | 'addEventListener' | 'removeEventListener'> | null;
  window?: Pick<Window, 'addEventListener' | 'removeEventListener'> | null;
}

export interface WalletSigner {
  /** EIP-191 personal_sign of message; throw SignedOutError or an EIP-1193 4001 rejection for "signed out". */
  signMessage(message: string): Promise<string>;
  /** The EIP-55 checksummed account; null = signed out. Or give `address`. */
  getAddress?: () => Promise<string | null | undefined> | string | null | undefined;
  address?: string;
  /** The message's domain and URI (default: location.host and location.origin). */
  domain?: string;
  uri?: string;
  /** Default: the chain_id GET /token/wallet/nonce answers (196). */
  chainId?: number;
  statement?: string;
  /** When set, the message's Expiration Time is this many ms ahead (the token never outlives it). */
  lifetime?: number;
  /** Builds the message from its fields (e.g. viem's createSiweMessage); default: siweMessage. */
  createMessage?: (fields: SiweFields) => string;
}

export interface SiweFields {
  domain: string; address: string; uri: string; version: '1'; chainId: number; nonce: string; issuedAt: Date;
  statement?: string; expirationTime?: Date; notBefore?: Date; requestId?: string; resources?: string[];
}

/** An EIP-4361 message in viem's layout. */
export function siweMessage(fields: SiweFields): string;

export type TokenEvent =
  /** expiresAt/refreshAt: ms on this browser's clock (from expires_in, so a skewed clock does not matter). */
  | { type: 'token'; token: string; expiresAt: number; refreshAt: number }
  /** A retryable failure (429, 5xx, network, getter error): retried after retryIn ms. */
  | { type: 'error'; fatal: false; status?: number; code?: string; message?: string; retryIn: number }
  /** A non-retryable answer (400, 403 origin_not_allowed, 405, 413): the client stopped. */
  | { type: 'error'; fatal: true; status: number; code?: string }
  /** 401 from the bridge or a signed-out getter: the client stopped and cleared the SDK's token. */
  | { type: 'signed-out'; reason: string }
  | { type: 'stopped' };

export type TokenClientState = 'idle' | 'active' | 'retrying' | 'signed-out' | 'failed' | 'stopped';

export interface TokenClient {
  /** A valid InsForge token (fetched once for all concurrent callers), or null once signed out/stopped. The first call starts the refresh loop. */
  getToken(): Promise<string | null>;
  /** Subscribe to token, error, signed-out and stopped events; returns the unsubscribe function. */
  onChange(listener: (event: TokenEvent) => void): () => void;
  /** Stop refreshing and listening (the SDK keeps its current token; call setAccessToken(null) to drop it). */
  stop(): void;
  readonly state: TokenClientState;
}

export class SignedOutError extends Error {
  constructor(message?: string);
}

export function isSignedOutError(err: unknown): boolean;

export function createTokenClient(options: TokenClientOptions): TokenClient;
