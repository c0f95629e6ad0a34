"""An OTLP gRPC client on gRPC C-core (Debian's python3-grpcio), a second HTTP/2 stack independent of Node's.

Run with /usr/bin/python3 and PYTHONPATH holding stubs that protoc + grpc_python_plugin generated from proto/;
grpc/health/v1/health.proto is generated as grpc_health/v1/ (a `grpc` directory would be hidden by grpcio's own).
argv[1]: JSON {"address": "host:port", "calls": [...]}; each call is one of
  {"kind": "export", "seed": N, "padding": BYTES, "compression": "none"|"gzip", "metadata": [[key, value], ...]}
  {"kind": "health", "service": ""}
Prints one JSON object per call: the status code name, details, the bytes an Export sent (base64) and the
RetryInfo delay found in the trailing metadata's grpc-status-details-bin (ms, or null).
"""
import base64
import json
import sys

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def trace_request(seed, padding):
    span = trace_pb2.Span(
        trace_id=seed.to_bytes(16, "big"),
        span_id=(seed + 1).to_bytes(8, "big"),
        name="python-grpcio-%d" % seed,
        kind=trace_pb2.Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1_767_225_600_000_000_000 + seed,
        end_time_unix_nano=1_767_225_600_005_000_000 + seed,
        attributes=[common_pb2.KeyValue(key="padding", value=common_pb2.AnyValue(string_value="p" * padding))],
    )
    resource = resource_pb2.Resource(
        attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="python-grpcio"))]
    )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]
    )


def retry_delay_ms(trailing):
    for key, value in trailing or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return info.retry_delay.seconds * 1000 + info.retry_delay.nanos // 1_000_000
    return None


def outcome(call):
    try:
        response = call()
        return {"code": "OK", "details": "", "retry_delay_ms": None, "response": response}
    except grpc.RpcError as error:
        return {
            "code": error.code().name,
            "details": error.details(),
            "retry_delay_ms": retry_delay_ms(error.trailing_metadata()),
        }


def main():
    spec = json.loads(sys.argv[1])
    with grpc.insecure_channel(spec["address"]) as channel:
        traces = trace_service_pb2_grpc.TraceServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        for call in spec["calls"]:
            if call["kind"] == "export":
                request = trace_request(call["seed"], call.get("padding", 100))
                compression = grpc.Compression.Gzip if call.get("compression") == "gzip" else grpc.Compression.NoCompression
                metadata = [tuple(pair) for pair in call.get("metadata", [])]
                result = outcome(lambda: traces.Export(request, timeout=30, compression=compression, metadata=metadata))
                result["response"] = None if result.get("response") is None else result["response"].SerializeToString().hex()
                result["sent"] = base64.b64encode(request.SerializeToString()).decode()
            else:
                result = outcome(lambda: health.Check(health_pb2.HealthCheckRequest(service=call.get("service", "")), timeout=10))
                if result.get("response") is not None:
                    result["response"] = health_pb2.HealthCheckResponse.ServingStatus.Name(result["response"].status)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
