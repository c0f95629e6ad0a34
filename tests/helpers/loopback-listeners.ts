// Config overrides that put every listener of an in-process server on an ephemeral loopback port, so tests running
// side by side never collide and nothing listens beyond 127.0.0.1.
export const LOOPBACK_LISTENERS = {
  'server.grpc.listen': '127.0.0.1:0',
  'server.admin.listen': '127.0.0.1:0',
  'server.http.listen': '127.0.0.1:0',
  'server.api.listen': '127.0.0.1:0',
} as const;
