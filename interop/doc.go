// Package interop holds l402chaos's tests against the implementation L402
// came from: real Aperture (Lightning Labs' L402 reverse proxy, built from
// its Go module) in front of the fake provider's backend. They check that
// the reference client buys through it over HTTP and gRPC, and that the
// fake provider's "aperture" profile says what real Aperture says: the
// challenges, the status codes, the gRPC status and trailer, the
// credential forms it accepts. The differences that stay are listed in
// docs/aperture.md, each with why.
//
// The certification of aperture's own client (l402.ClientInterceptor)
// lives beside it, in the module interop/aperture-interceptor.
package interop
