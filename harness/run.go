package harness

import (
	"fmt"
	"regexp"
)

// ReplayCommand is the command line that reruns a scenario with a seed.
func ReplayCommand(scenario string, seed int64) string {
	return fmt.Sprintf("go run ./cmd/chaos run -scenario='^%s$' -seed=%d", regexp.QuoteMeta(scenario), seed)
}
