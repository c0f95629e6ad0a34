// Trace requests shaped like what auto-instrumented services send: whole traces of an HTTP server span with
// middleware, database, cache and outgoing HTTP children, semantic-convention attribute keys, low-cardinality values
// (methods, routes, statements, status codes) beside high-cardinality ones (ids, addresses, durations), timestamps
// that advance. Where otlp-payloads.ts's traceRequestOfSize exercises every AnyValue kind with random values (a
// stress case for the scanner and a worst case for compression), these compress the way production traces do, so
// storage and codec figures measured on them are the ones an operator will see.
import type { Attributes, SpanContext } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Random, hrTime, serializeTraces, traceExpected } from './otlp-payloads.js';
import type { GeneratedPayload } from './otlp-payloads.js';

const SERVICES = ['checkout', 'cart', 'payments', 'catalog', 'shipping', 'frontend'] as const;
const ROUTES = [
  { route: '/api/cart/{cartId}', path: (r: Random) => `/api/cart/${r.int(1_000_000)}` },
  { route: '/api/products/{sku}', path: (r: Random) => `/api/products/SKU-${r.int(90_000) + 10_000}` },
  { route: '/api/checkout', path: () => '/api/checkout' },
  { route: '/api/orders/{orderId}/items', path: (r: Random) => `/api/orders/${r.hex(6)}/items` },
  { route: '/healthz', path: () => '/healthz' },
] as const;
const STATEMENTS = [
  'SELECT id, sku, name, price_cents, currency FROM products WHERE sku = $1',
  'SELECT c.id, c.user_id, ci.sku, ci.quantity FROM carts c JOIN cart_items ci ON ci.cart_id = c.id WHERE c.id = $1',
  'INSERT INTO orders (id, user_id, total_cents, currency, created_at) VALUES ($1, $2, $3, $4, now())',
  'UPDATE inventory SET reserved = reserved + $1 WHERE sku = $2 AND available >= $1',
  'SELECT id, status, updated_at FROM payments WHERE order_id = $1 ORDER BY updated_at DESC LIMIT 1',
] as const;
const USER_AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'okhttp/4.12.0',
  'python-requests/2.32.3',
] as const;
const MIDDLEWARE = ['query', 'expressInit', 'jsonParser', 'corsMiddleware', 'authenticate'] as const;
const SCOPES = {
  http: { name: '@opentelemetry/instrumentation-http', version: '0.57.2' },
  express: { name: '@opentelemetry/instrumentation-express', version: '0.47.1' },
  pg: { name: '@opentelemetry/instrumentation-pg', version: '0.51.1' },
  redis: { name: '@opentelemetry/instrumentation-ioredis', version: '0.47.1' },
};

interface ServiceResource {
  resource: Resource;
  service: string;
}

function makeResources(random: Random): ServiceResource[] {
  return SERVICES.map((service, i) => {
    const pod = `${service}-${random.hex(5)}-${random.hex(3)}`;
    return {
      service,
      resource: resourceFromAttributes({
        'service.name': service,
        'service.version': `2.${i}.${random.int(20)}`,
        'service.namespace': 'shop',
        'deployment.environment.name': 'production',
        'telemetry.sdk.name': 'opentelemetry',
        'telemetry.sdk.language': 'nodejs',
        'telemetry.sdk.version': '1.30.1',
        'host.name': pod,
        'host.arch': 'amd64',
        'os.type': 'linux',
        'process.pid': 1 + random.int(200),
        'process.runtime.name': 'nodejs',
        'process.runtime.version': '20.18.1',
        'process.executable.name': 'node',
        'container.id': random.hex(32),
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': pod,
        'k8s.deployment.name': service,
        'k8s.node.name': `ip-10-0-${random.int(8)}-${random.int(250)}.ec2.internal`,
        'cloud.provider': 'aws',
        'cloud.region': 'eu-central-1',
      }),
    };
  });
}

interface SpanDraft {
  name: string;
  kind: number;
  scope: { name: string; version: string };
  attributes: Attributes;
  offsetNs: number;
  durationNs: number;
  parent?: string;
  error?: boolean;
}

/** One trace as one service's SDK exports it: a server span and its children, in end order (children first). */
function traceDrafts(random: Random, startNs: number): SpanDraft[] {
  const route = random.pick(ROUTES);
  const method = route.route === '/api/checkout' ? 'POST' : 'GET';
  const status = random.next() < 0.03 ? 500 : random.next() < 0.05 ? 404 : 200;
  const children: SpanDraft[] = [];
  let at = startNs + 50_000 + random.int(200_000);
  for (const middleware of MIDDLEWARE.slice(0, 2 + random.int(4))) {
    const durationNs = 20_000 + random.int(300_000);
    children.push({
      name: `middleware - ${middleware}`, kind: 0, scope: SCOPES.express, offsetNs: at, durationNs,
      attributes: { 'http.route': route.route, 'express.name': middleware, 'express.type': 'middleware' },
    });
    at += durationNs + random.int(50_000);
  }
  for (let i = 0, n = 1 + random.int(5); i < n; i++) {
    const durationNs = 300_000 + random.int(8_000_000);
    const statement = random.pick(STATEMENTS);
    children.push({
      name: `pg.query:${statement.split(' ')[0]} shop`, kind: 2, scope: SCOPES.pg, offsetNs: at, durationNs,
      attributes: {
        'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.query.text': statement,
        'db.operation.name': statement.split(' ')[0]!, 'server.address': 'shop-db.shop.svc.cluster.local',
        'server.port': 5432, 'db.user': 'shop_app',
      },
    });
    at += durationNs + random.int(100_000);
  }
  if (random.next() < 0.6) {
    const durationNs = 100_000 + random.int(900_000);
    children.push({
      name: 'get', kind: 2, scope: SCOPES.redis, offsetNs: at, durationNs,
      attributes: {
        'db.system.name': 'redis', 'db.query.text': `get session:${random.hex(8)}`, 'db.operation.name': 'get',
        'server.address': 'redis-master.shop.svc.cluster.local', 'server.port': 6379,
      },
    });
    at += durationNs;
  }
  if (random.next() < 0.5) {
    const durationNs = 2_000_000 + random.int(30_000_000);
    const peer = random.pick(SERVICES);
    children.push({
      name: 'POST', kind: 2, scope: SCOPES.http, offsetNs: at, durationNs,
      attributes: {
        'http.request.method': 'POST', 'url.full': `http://${peer}.shop.svc.cluster.local:8080/internal/v1/reserve`,
        'server.address': `${peer}.shop.svc.cluster.local`, 'server.port': 8080, 'network.peer.address': `10.0.${random.int(8)}.${random.int(250)}`,
        'network.protocol.version': '1.1', 'http.response.status_code': 200,
      },
    });
    at += durationNs;
  }
  const path = route.path(random);
  const server: SpanDraft = {
    name: `${method} ${route.route}`, kind: 1, scope: SCOPES.http, offsetNs: startNs, durationNs: at - startNs + random.int(300_000),
    error: status === 500,
    attributes: {
      'http.request.method': method, 'url.scheme': 'http', 'url.path': path, 'http.route': route.route,
      'server.address': 'api.shop.example.com', 'server.port': 8080, 'network.protocol.version': '1.1',
      'network.peer.address': `10.0.${random.int(8)}.${random.int(250)}`, 'network.peer.port': 30_000 + random.int(30_000),
      'client.address': `${random.int(223) + 1}.${random.int(256)}.${random.int(256)}.${random.int(256)}`,
      'user_agent.original': random.pick(USER_AGENTS), 'http.response.status_code': status,
    },
  };
  return [...children, server];
}

function makeSpans(random: Random, spanCount: number): { spans: ReadableSpan[]; services: string[] } {
  const resources = makeResources(random);
  const spans: ReadableSpan[] = [];
  const services: string[] = [];
  let clockNs = 0;
  while (spans.length < spanCount) {
    const { resource, service } = random.pick(resources);
    const traceId = random.hex(16);
    const drafts = traceDrafts(random, clockNs);
    clockNs += 1_000_000 + random.int(20_000_000);
    const serverId = random.hex(8);
    const remoteParent: SpanContext | undefined = random.next() < 0.5
      ? { traceId, spanId: random.hex(8), traceFlags: 1, isRemote: true }
      : undefined;
    for (const draft of drafts) {
      if (spans.length >= spanCount) break;
      const isServer = draft.kind === 1;
      const spanId = isServer ? serverId : random.hex(8);
      const context: SpanContext = { traceId, spanId, traceFlags: 1 };
      spans.push({
        name: draft.name,
        kind: draft.kind,
        spanContext: () => context,
        parentSpanContext: isServer ? remoteParent : { traceId, spanId: serverId, traceFlags: 1 },
        startTime: hrTime(draft.offsetNs),
        endTime: hrTime(draft.offsetNs + draft.durationNs),
        duration: [Math.floor(draft.durationNs / 1e9), draft.durationNs % 1e9],
        ended: true,
        status: draft.error ? { code: 2 } : { code: 0 },
        attributes: draft.attributes,
        links: [],
        events: [],
        resource,
        instrumentationScope: draft.scope,
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      });
      services.push(service);
    }
  }
  return { spans, services };
}

/** An instrumentation-shaped trace request of about `targetBytes` (within a few percent). */
export function instrumentedTraceRequestOfSize(targetBytes: number, seed = 1): GeneratedPayload {
  const sample = makeSpans(new Random(seed), 200);
  const perSpan = ProtobufTraceSerializer.serializeRequest(sample.spans)!.length / 200;
  const { spans, services } = makeSpans(new Random(seed), Math.max(1, Math.round(targetBytes / perSpan)));
  return serializeTraces(spans, traceExpected(spans, services));
}
