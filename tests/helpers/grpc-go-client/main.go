// A grpc-go client for the OTLP listener's tests: sends each request file as one OTLP Export, compressed the way the
// OpenTelemetry Collector's otlp exporter compresses it (configgrpc: grpc-go's gzip; zstd from klauspost/compress
// with a 512 KiB window; snappy as golang/snappy's framed stream), and prints one JSON line per call with the gRPC
// status code and message.
//
//	grpc-go-client ADDRESS SIGNAL COMPRESSION TENANT FILE...
//
// SIGNAL: traces | metrics | logs. COMPRESSION: none | gzip | zstd | snappy. TENANT: sent as x-scope-orgid (none
// when empty).
// Messages travel as raw bytes (a pass-through codec), so what is stored can be compared byte for byte.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawCodec hands bytes through unchanged: requests are already serialized OTLP protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

type zstdCompressor struct{}

func (zstdCompressor) Name() string { return "zstd" }
func (zstdCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	return zstd.NewWriter(w, zstd.WithWindowSize(512*1024))
}
func (zstdCompressor) Decompress(r io.Reader) (io.Reader, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return d.IOReadCloser(), nil
}

type snappyCompressor struct{}

func (snappyCompressor) Name() string { return "snappy" }
func (snappyCompressor) Compress(w io.Writer) (io.WriteCloser, error) {
	return snappy.NewBufferedWriter(w), nil
}
func (snappyCompressor) Decompress(r io.Reader) (io.Reader, error) { return snappy.NewReader(r), nil }

var services = map[string]string{
	"traces":  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	"metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	"logs":    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}

type result struct {
	Code    uint32 `json:"code"`
	Message string `json:"message"`
}

func main() {
	if len(os.Args) < 6 {
		fmt.Fprintln(os.Stderr, "usage: grpc-go-client ADDRESS SIGNAL COMPRESSION TENANT FILE...")
		os.Exit(2)
	}
	encoding.RegisterCompressor(zstdCompressor{})
	encoding.RegisterCompressor(snappyCompressor{})
	address, signal, compression, tenant := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	method, ok := services[signal]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown signal", signal)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	callCtx := ctx
	if tenant != "" {
		callCtx = metadata.AppendToOutgoingContext(ctx, "x-scope-orgid", tenant)
	}
	conn, err := grpc.DialContext(ctx, address, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	options := []grpc.CallOption{grpc.ForceCodec(rawCodec{})}
	if compression != "none" {
		options = append(options, grpc.UseCompressor(compression))
	}
	out := json.NewEncoder(os.Stdout)
	for _, file := range os.Args[5:] {
		request, err := ioutil.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(1)
		}
		var response []byte
		callErr := conn.Invoke(callCtx, method, &request, &response, options...)
		st := status.Convert(callErr)
		if err := out.Encode(result{Code: uint32(st.Code()), Message: st.Message()}); err != nil {
			os.Exit(1)
		}
	}
}
