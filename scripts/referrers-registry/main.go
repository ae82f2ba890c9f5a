// referrers-registry: go-containerregistry's in-memory registry (pkg/registry, Debian's
// golang-github-google-go-containerregistry-dev) with its OCI 1.1 referrers API on, for the
// tests: a second, independent registry implementation that serves
// GET /v2/<name>/referrers/<digest> (distribution 2.8 answers 404 there).
//
// It listens on 127.0.0.1 and a port the kernel picks, prints "listening on HOST:PORT" on
// stdout, logs one line per request on stderr, and serves until it is killed.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	os.Stdout.Sync()
	handler := registry.New(registry.WithReferrersSupport(true))
	fmt.Fprintln(os.Stderr, http.Serve(listener, handler))
	os.Exit(1)
}
