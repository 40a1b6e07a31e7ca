package catalog_test

import (
	"fmt"

	"github.com/l402chaos/l402chaos/scenarios/mutant/catalog"
)

// Every mutant names the checker that must catch it.
func ExampleAll() {
	for _, m := range catalog.All() {
		fmt.Printf("%-18s caught by %s\n", m.Name, m.CaughtBy)
	}
	// Output:
	// pay-after-5xx      caught by at-most-once
	// memory-journal     caught by at-most-once
	// fail-on-timeout    caught by truthful-outcome
	// ignore-retry-after caught by retry-discipline
	// retry-400          caught by retry-discipline
	// pay-any-amount     caught by price-cap
	// no-idempotency-key caught by idempotent-side-effects
	// no-token-reuse     caught by token-reuse
}
