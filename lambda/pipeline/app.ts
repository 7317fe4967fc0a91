/**
 * The core pipeline: authenticate → route → authorize → serve → observe, as one
 * transport-agnostic function. Every dependency is passed in.
 */
import type { Authorizer } from '../access/authorizer';
import type { Authenticator } from '../auth/authenticator';
import type { BackendTally, Observer, RequestEvent } from '../core/observer';
import { ANONYMOUS, type Principal } from '../core/principal';
import { newRequestId } from '../core/request-id';
import { S3Error } from '../core/s3-error';
import type { TableMap } from '../core/table-mount';
import type { Clock, Headers, ProxyHandler, ProxyRequest, ProxyResponse } from '../core/types';
import { serveGenerated } from '../s3/generated-object';
import { getObject, headObject, refuseAnonymousOverrides } from '../s3/get-object';
import { listObjectsResponse, parseListQuery } from '../s3/list-objects';
import { ListingTokens } from '../s3/listing-token';
import { routeRequest, type S3Route } from '../s3/route';
import { getBucketLocation, headBucket, listBuckets } from '../s3/service-ops';
import { sseCustomerOf } from '../s3/sse-customer';
import { assertSafeKey, resolveKey, VIRTUAL_BUCKET } from '../s3/virtual-key';
import { listVirtual, touchesPrefix, type VisibleTable } from '../s3/virtual-listing';
import type { StorageBackend } from '../storage/storage-backend';
import { asS3Error, errorResponse } from './error-response';
import { assertStreamable, type GetModeOptions, serveGet } from './get-mode';
import { observeBody, sentInSlices } from './observe';
import { reasonClassOf, type Stage } from './reason-class';
import {
  checkRequestSize,
  DEFAULT_REQUEST_LIMITS,
  type RequestLimits,
  refuseRepeatedHeaders,
  timeBudget,
  withTimeBudget,
} from './request-limits';
import { StreamShares, withShare } from './stream-shares';

export interface AppOptions extends GetModeOptions {
  readOnly: boolean;
  /** Region reported by HeadBucket / GetBucketLocation. */
  region: string;
  /** URL and header sizes, and the time to a response (defaults: DEFAULT_REQUEST_LIMITS). */
  limits?: Partial<RequestLimits>;
}

export interface AppDeps {
  options: AppOptions;
  tables: TableMap;
  storage: StorageBackend;
  authenticator: Authenticator;
  authorizer: Authorizer;
  clock: Clock;
  observer: Observer;
  requestId?: () => string;
  /** Seals listing resume points (default: a random per-process key). */
  listingTokens?: ListingTokens;
  /** Bounds each principal's proxied bodies (default: unbounded). */
  streamShares?: StreamShares;
  /**
   * Storage as one request sees it: each call's wait is added to `tally` (the audit line's
   * backend latency). Without it, requests use `storage` and report no backend time.
   */
  requestStorage?: (tally: BackendTally) => StorageBackend;
}

/** What the serve stage needs to know about the request, filled in as stages run. */
interface RequestContext {
  requestId: string;
  started: number;
  principal: Principal;
  stage: Stage;
  storage: StorageBackend;
  backend: BackendTally;
  route?: S3Route;
  table?: string;
  key?: string;
  /** A listing's prefix. */
  prefix?: string;
  reason?: string;
  /** Refused by the caller's grants (counted as such even when answered as a missing key). */
  grantRefused?: boolean;
  proxied: boolean;
}

export function createApp(deps: AppDeps): ProxyHandler {
  const nextId = deps.requestId ?? newRequestId;
  const shares = deps.streamShares ?? new StreamShares(Number.POSITIVE_INFINITY);
  const tokens = deps.listingTokens ?? new ListingTokens();
  const limits: RequestLimits = { ...DEFAULT_REQUEST_LIMITS, ...deps.options.limits };

  return async function handle(req: ProxyRequest): Promise<ProxyResponse> {
    const backend: BackendTally = { ms: 0, calls: 0 };
    const ctx: RequestContext = {
      requestId: nextId(),
      started: deps.clock.now(),
      principal: ANONYMOUS,
      stage: 'receive',
      storage: deps.requestStorage ? deps.requestStorage(backend) : deps.storage,
      backend,
      proxied: false,
    };
    const base: Headers = {
      'x-amz-request-id': ctx.requestId,
      'x-amz-id-2': ctx.requestId,
      server: 'DeltaLakeS3Proxy',
    };
    let res: ProxyResponse;
    let error: S3Error | undefined;
    try {
      checkRequestSize(req, limits);
      refuseRepeatedHeaders(req);
      ctx.stage = 'authenticate';
      res = await withTimeBudget(req, timeBudget(req, ctx.started, limits.timeoutMs), async (timed) => {
        ctx.principal = await deps.authenticator.authenticate(timed);
        ctx.stage = 'route';
        ctx.route = routeRequest(timed, { readOnly: deps.options.readOnly });
        ctx.stage = 'serve';
        return serve(deps, shares, tokens, timed, ctx, base);
      });
    } catch (err) {
      error = asS3Error(err);
      ctx.reason = error.reason ?? (error.status >= 500 ? String(err) : undefined);
      const resource = ctx.key !== undefined ? `/${VIRTUAL_BUCKET}/${ctx.key}` : undefined;
      res = errorResponse(error, ctx.requestId, base, resource, req.method.toUpperCase() === 'HEAD');
    }
    const sent = sentInSlices(res);
    const body = observeBody(sent.body, (bytes, failure) => {
      // The transport answered and recorded it (its parser refused the body): one record a request.
      if (req.refusedByTransport) return;
      deps.observer.record(eventOf(deps, req, ctx, sent, error, bytes, failure));
    });
    return { ...sent, body };
  };
}

async function serve(
  deps: AppDeps,
  shares: StreamShares,
  tokens: ListingTokens,
  req: ProxyRequest,
  ctx: RequestContext,
  base: Headers,
): Promise<ProxyResponse> {
  const route = ctx.route!;
  switch (route.op) {
    case 'ListBuckets':
      return listBuckets(base, route.query, deps.options.region);
    case 'HeadBucket':
      return headBucket(base, deps.options.region);
    case 'GetBucketLocation':
      return getBucketLocation(base, deps.options.region);
    case 'ListObjects':
    case 'ListObjectsV2': {
      const q = parseListQuery(route.query, route.op === 'ListObjectsV2' ? 2 : 1, tokens);
      ctx.prefix = q.prefix;
      if (q.prefix) assertSafeKey(q.prefix, 'prefix');
      const visible = await visibleTablesFor(deps, ctx.principal, q.prefix, req.signal);
      const listing =
        q.maxKeys === 0
          ? { entries: [], isTruncated: false }
          : await listVirtual(ctx.storage, visible, { ...q, signal: req.signal });
      return listObjectsResponse(q, listing, base, tokens);
    }
    case 'GetObject':
    case 'HeadObject': {
      const key = route.key!;
      ctx.key = key;
      if (ctx.principal.anonymous) refuseAnonymousOverrides(route.query);
      const resolved = resolveKey(deps.tables, key);
      if (resolved) ctx.table = resolved.mount.alias;
      // An unmapped alias, the alias itself and folder-like keys answer like a missing key,
      // after the same grants lookup a table's key makes: with a cold grants cache that is a
      // DynamoDB query, and timing must not tell a mapped alias from an unmapped one.
      if (!resolved || resolved.relKey === '' || resolved.relKey.endsWith('/')) {
        await deps.authorizer.visibleTables(ctx.principal, []);
        throw new S3Error(
          'NoSuchKey',
          'The specified key does not exist.',
          { Key: key },
          'not a file of a mapped table',
        );
      }
      ctx.stage = 'authorize';
      const decision = await deps.authorizer.authorizeObject(
        ctx.principal,
        resolved.mount,
        resolved.relKey,
        req,
      );
      if (!decision.allow) {
        ctx.grantRefused = decision.byGrant;
        const code = decision.answer === 'not-found' ? 'NoSuchKey' : 'AccessDenied';
        throw new S3Error(code, decision.message, code === 'NoSuchKey' ? { Key: key } : {}, decision.reason);
      }
      ctx.stage = 'serve';
      if (decision.kind === 'generated') {
        // A file of the filtered log: made by the proxy, so always served by it (never presigned).
        const generated = serveGenerated(
          decision.object,
          { headers: req.headers, query: route.query, partNumber: route.partNumber },
          base,
          route.op === 'HeadObject',
        );
        assertStreamable(deps.options, deps.clock, req, generated);
        ctx.proxied = route.op === 'GetObject';
        return generated;
      }
      const objectReq = {
        ref: { bucket: resolved.mount.bucket, key: resolved.backendKey },
        virtualKey: key,
        headers: req.headers,
        query: route.query,
        // Checked before any backend call or redirect (S3's 400s for a malformed set).
        sseCustomer: sseCustomerOf(req.headers),
        partNumber: route.partNumber,
        // Read when a backend call is made: a 307 never needs the request's signal.
        get signal() {
          return req.signal;
        },
      };
      if (route.op === 'HeadObject') return headObject(ctx.storage, objectReq, base);
      // A proxied body holds one of the principal's backend streams until it has been read.
      const proxyGet = () =>
        withShare(shares, ctx.principal.name, req.signal, () => getObject(ctx.storage, objectReq, base));
      const got = await serveGet(
        ctx.storage,
        deps.options,
        deps.clock,
        req,
        objectReq,
        decision.kind === 'log',
        ctx.principal.validUntil,
        ctx.requestId,
        base,
        proxyGet,
      );
      ctx.proxied = got.proxied;
      ctx.reason = got.reason;
      return got.response;
    }
  }
}

/**
 * Tables relevant to a listing prefix that the principal may see. Each table's filter (and so
 * its snapshot) is loaded only if the listing reaches inside it: a root listing reads no log, and
 * one table with an unreadable log fails only listings inside that table.
 */
async function visibleTablesFor(
  deps: AppDeps,
  principal: Principal,
  prefix: string,
  signal?: AbortSignal,
): Promise<VisibleTable[]> {
  const candidates = deps.tables.mounts.filter((m) => touchesPrefix(m, prefix));
  const visible = await deps.authorizer.visibleTables(principal, candidates);
  return visible.map((mount) => {
    let filter: ReturnType<VisibleTable['filter']> | undefined;
    return {
      mount,
      filter: (scope) => (filter ??= deps.authorizer.listingFilter(principal, mount, scope, signal)),
    };
  });
}

function eventOf(
  deps: AppDeps,
  req: ProxyRequest,
  ctx: RequestContext,
  res: ProxyResponse,
  error: S3Error | undefined,
  bytes: number,
  failure: unknown,
): RequestEvent {
  const gone = clientLeft(req, res);
  // The answer a client that left never got (its leaving aborted the backend call) is not recorded.
  const unanswered = gone && error !== undefined;
  const status = unanswered ? CLIENT_CLOSED_REQUEST : res.status;
  let reason = ctx.reason;
  if (unanswered) reason = `the client went away (then: ${error.code}${ctx.reason ? `, ${ctx.reason}` : ''})`;
  else if (failure || gone)
    reason = `body stream failed: ${failure ? ((failure as Error)?.name ?? 'error') : 'the client went away'}`;
  return {
    time: new Date(ctx.started).toISOString(),
    requestId: ctx.requestId,
    principal: ctx.principal.name,
    accessKeyId: ctx.principal.accessKeyId,
    method: req.method.slice(0, 16),
    userAgent: req.headers['user-agent']?.slice(0, 160),
    sourceIp: req.sourceIp,
    op: ctx.route?.op ?? (ctx.stage === 'authenticate' ? operationOf(req, deps) : 'Unknown'),
    table: ctx.table,
    key: ctx.key,
    prefix: ctx.prefix?.slice(0, 1024),
    status,
    code: unanswered ? undefined : error?.code,
    reason,
    decision: gone ? 'error' : error ? (status >= 500 ? 'error' : 'deny') : failure ? 'error' : 'allow',
    reasonClass: gone
      ? 'client-gone'
      : ctx.grantRefused
        ? 'grant'
        : reasonClassOf(ctx.stage, error, Boolean(failure)),
    backendMs: Math.round(ctx.backend.ms * 1000) / 1000,
    backendCalls: ctx.backend.calls,
    bytes,
    durationMs: deps.clock.now() - ctx.started,
    // A 304 carries no body: nothing was streamed through the proxy.
    proxied: ctx.proxied && status < 300,
    redirected: status === 307,
  };
}

/** nginx's "client closed request": a request whose client left before the proxy had its answer. */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * Did the client go away before its response was complete? Asked only where its leaving shapes
 * what is recorded: a streamed body (which may have ended without reaching it) and a server error
 * (which an aborted backend call becomes). Other answers never read the signal, which a node:http
 * request makes on first read.
 */
function clientLeft(req: ProxyRequest, res: ProxyResponse): boolean {
  const body = res.body;
  const streamed = body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array);
  const signal = req.signal;
  // The Lambda adapter also aborts the request as its invocation runs out of time: the client
  // did not leave then, the function did.
  return (
    (streamed || res.status >= 500) &&
    signal?.aborted === true &&
    (signal.reason as { name?: unknown } | undefined)?.name !== 'TimeoutError'
  );
}

/** What a request refused by authentication asked for (for metrics), or 'Unknown'. */
function operationOf(req: ProxyRequest, deps: AppDeps): string {
  try {
    return routeRequest(req, { readOnly: deps.options.readOnly }).op;
  } catch {
    return 'Unknown';
  }
}
