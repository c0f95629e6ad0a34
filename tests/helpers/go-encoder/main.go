// go-encoder compresses stdin to stdout the way the OpenTelemetry Collector's exporters do, with the same Go
// libraries (klauspost/compress zstd, golang/snappy, compress/zlib, compress/gzip), so tests can check that
// otlp-capture decodes exactly what a Collector sends. Usage: go-encoder MODE < raw > encoded
//
//	zstd-http      confighttp: zstd.NewWriter (default options), io.Copy, Close
//	zstd-grpc      configgrpc: zstd.NewWriter with a 512 KiB window and encoder concurrency 1
//	snappy-block   confighttp "snappy" (v0.125+): one snappy.Encode block
//	snappy-framed  confighttp "x-snappy-framed" and configgrpc "snappy": snappy.NewBufferedWriter
//	zlib           confighttp "deflate" / "zlib": zlib.NewWriter
//	gzip           gzip.NewWriter
package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"os"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

func writer(mode string, out io.Writer) (io.WriteCloser, error) {
	switch mode {
	case "zstd-http":
		return zstd.NewWriter(out)
	case "zstd-grpc":
		return zstd.NewWriter(out, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(512*1024))
	case "snappy-framed":
		return snappy.NewBufferedWriter(out), nil
	case "zlib":
		return zlib.NewWriter(out), nil
	case "gzip":
		return gzip.NewWriter(out), nil
	}
	return nil, fmt.Errorf("unknown mode %q", mode)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-encoder MODE < raw > encoded")
		os.Exit(2)
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var encoded bytes.Buffer
	if os.Args[1] == "snappy-block" {
		encoded.Write(snappy.Encode(nil, raw))
	} else {
		w, err := writer(os.Args[1], &encoded)
		if err == nil {
			_, err = io.Copy(w, bytes.NewReader(raw))
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Stdout.Write(encoded.Bytes())
}
