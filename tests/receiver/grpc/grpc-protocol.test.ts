// Protocol details of gRPC over HTTP/2: grpc-timeout, grpc-message encoding, content types, request checks.
import fc from 'fast-check';
import { isGrpcContentType, parseGrpcTimeout, percentEncodeGrpcMessage, statusFromError } from '../../../src/receiver/grpc/grpc-protocol.js';
import { checkGrpcRequest } from '../../../src/receiver/grpc/request-check.js';

test('grpc-timeout: up to 8 digits and a unit', () => {
  expect(parseGrpcTimeout('1S')).toBe(1000);
  expect(parseGrpcTimeout('250m')).toBe(250);
  expect(parseGrpcTimeout('2H')).toBe(7_200_000);
  expect(parseGrpcTimeout('3M')).toBe(180_000);
  expect(parseGrpcTimeout('5000u')).toBe(5);
  expect(parseGrpcTimeout('99999999n')).toBeCloseTo(99.999999);
  for (const bad of ['', '1', 'S', '123456789S', '1.5S', '1s', '-1S', ' 1S']) expect(parseGrpcTimeout(bad)).toBeNull();
});

test('grpc-message: printable ASCII except % as is; everything else as %XX of its UTF-8 bytes; always decodable', () => {
  expect(percentEncodeGrpcMessage('plain text: ok')).toBe('plain text: ok');
  expect(percentEncodeGrpcMessage('100%')).toBe('100%25');
  expect(percentEncodeGrpcMessage('tëst\n')).toBe('t%C3%ABst%0A');
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => {
    const encoded = percentEncodeGrpcMessage(text);
    expect(encoded).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeURIComponent(encoded)).toBe(Buffer.from(text, 'utf8').toString('utf8'));
  }));
});

test('content types of the gRPC family', () => {
  for (const ok of ['application/grpc', 'application/grpc+proto', 'application/grpc;charset=utf-8']) expect(isGrpcContentType(ok)).toBe(true);
  for (const bad of [undefined, '', 'application/grpc-web', 'application/grpcx', 'application/json', 'text/plain']) expect(isGrpcContentType(bad)).toBe(false);
});

test('handler errors become statuses as grpc-js reads them', () => {
  expect(statusFromError({ code: 5, details: 'nope' })).toMatchObject({ code: 5, details: 'nope' });
  expect(statusFromError(Object.assign(new Error('boom'), { code: 7 }))).toMatchObject({ code: 7, details: 'boom' });
  expect(statusFromError(new Error('plain'))).toMatchObject({ code: 2, details: 'plain' });
  expect(statusFromError(Object.assign(new Error('fs'), { code: 'ENOENT' }))).toMatchObject({ code: 2, details: 'fs' });
});

test('request checks: method, content type, te, grpc-timeout, grpc-encoding', () => {
  const base = { ':method': 'POST', ':path': '/a.B/C', 'content-type': 'application/grpc', te: 'trailers' };
  expect(checkGrpcRequest(base)).toEqual({ ok: true, request: { path: '/a.B/C', encoding: 'identity', timeoutMs: null } });
  expect(checkGrpcRequest({ ...base, 'grpc-encoding': 'gzip', 'grpc-timeout': '5S' })).toEqual({
    ok: true,
    request: { path: '/a.B/C', encoding: 'gzip', timeoutMs: 5000 },
  });
  const { te: _te, ...withoutTe } = base;
  expect(checkGrpcRequest(withoutTe).ok).toBe(true);
  const refusal = (headers: Record<string, string>) => {
    const check = checkGrpcRequest(headers);
    return check.ok ? null : { http: check.refusal.httpStatus, code: check.refusal.status.code };
  };
  expect(refusal({ ...base, ':method': 'PUT' })).toEqual({ http: 405, code: 12 });
  expect(refusal({ ...base, 'content-type': 'application/json' })).toEqual({ http: 415, code: 13 });
  expect(refusal({ ...base, te: 'gzip' })).toEqual({ http: 400, code: 13 });
  expect(refusal({ ...base, 'grpc-timeout': 'soon' })).toEqual({ http: 200, code: 13 });
  expect(refusal({ ...base, 'grpc-encoding': 'lz4' })).toEqual({ http: 200, code: 12 });
});
