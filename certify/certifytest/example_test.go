package certifytest_test

import (
	"testing"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/certify/certifytest"
)

// A client's own test certifies it: its exec adapter (any language), what
// it speaks, and where the certificate goes. Each case and each rule is a
// subtest; a MUST or SAFETY rule that fails fails the test.
func Example() {
	_ = func(t *testing.T) {
		certifytest.Run(t, certifytest.Exec("./bin/my-l402-adapter"),
			certifytest.WithDescriptor(certify.Descriptor{
				Adapter: certify.DescriptorVersion, Name: "my client", Version: "1.4.0",
				Capabilities: []certify.Capability{certify.HTTP, certify.Post},
			}),
			certifytest.WithOut("certificate"))
	}
}
