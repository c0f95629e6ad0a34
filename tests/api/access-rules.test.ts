// Every CaptureService method has an access rule: a method added to capture.proto without one would be refused to
// everyone (fail closed) — this test says so before a user does.
import { ACTION_BY_METHOD } from '../../src/api/access-interceptor.js';
import { captureServiceDefinition } from '../../src/api/capture-service.js';
import { REQUIRED_SCOPES } from '../../src/admission/scopes.js';

test('each CaptureService method needs read, and Replay read and replay', () => {
  expect(Object.keys(ACTION_BY_METHOD).sort()).toEqual(Object.keys(captureServiceDefinition()).sort());
  const needs = Object.fromEntries(Object.entries(ACTION_BY_METHOD).map(([method, action]) => [method, REQUIRED_SCOPES[action]]));
  expect(needs).toEqual({
    ListRequests: ['read'],
    GetRequest: ['read'],
    ListObjects: ['read'],
    FindTrace: ['read'],
    Replay: ['read', 'replay'],
  });
});
