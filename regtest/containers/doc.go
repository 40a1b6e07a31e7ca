// Package containers runs a regtest network's programs in Docker
// containers through testcontainers-go: the containers backend of
// package regtest (regtest.WithRuntime(containers.New(engine))).
//
//	host (this process)                       run network 10.231.N.0/24 (bridge, its own)
//	  harness ── 127.0.0.1:<published> ──────▶  btcd   10.231.N.2  rpc 18334, p2p 18444
//	         ── 127.0.0.1:<published> ──────▶  alice  10.231.N.3  grpc 10009, rest 8080, p2p 9735
//	         ── 127.0.0.1:<published> ──────▶  bob    10.231.N.4  ...
//	  run dir /tmp/l402chaos-run-X  ═══ mounted at the same path in every container
//
// # Images
//
// Nothing is pulled: every image is FROM scratch with one static binary
// (lnd and btcd as regtest builds them, CGO off), built by EnsureImage
// from an in-memory build context and tagged by the binary's content
// hash, so a second build is a lookup and a new binary a new tag.
//
// # Addresses
//
// Each network gets a bridge network with a /24 of its own, so that
// every program has a fixed address: a killed container restarted on its
// directory comes back where its peers knew it. A program listens on its
// usual port on every interface; the other programs dial its address on
// the run network; the harness dials a loopback port the engine
// publishes. The run directory is mounted at the same path, so flags,
// certificates and macaroons name the same files inside and out, and
// containers run as this process's user, so the files they write stay
// removable.
//
// # Cleanup
//
// Ryuk (testcontainers-go's reaper) is disabled, since its image cannot
// be pulled: TESTCONTAINERS_RYUK_DISABLED=true is set on first use, with
// an empty DOCKER_CONFIG of this package's so that no credential helper
// runs. Instead every container and network carries labels: l402chaos,
// the run id (the run directory's name), the owner's pid and host.
// Closing a network removes its containers and network; Sweep, run by
// every Open and every `chaos` start, removes what an owner that died
// (kill -9) left.
package containers
