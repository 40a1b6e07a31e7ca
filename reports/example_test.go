package reports_test

import (
	"os"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/reports"
)

func ExampleWriteTable() {
	run := &check.RunResult{
		Scenario: "reset-after-payment", Seed: 7, Duration: 12 * time.Second,
		Replay: "go run ./cmd/chaos run -scenario='^reset-after-payment$' -seed=7",
		Results: []check.Result{
			{Checker: "at-most-once", Validity: check.Invalid, Message: "purchase k1 paid twice: 1a2b3c4d 5e6f7a8b", Events: []int64{3, 9}},
			{Checker: "side-effects", Validity: check.Valid},
		},
		Coverage: []check.CoverageResult{{Name: "paid before reset", Reached: true}},
	}
	r := reports.New([]*check.RunResult{run}, reports.Meta{Seed: 7})
	if err := reports.WriteTable(os.Stdout, r); err != nil {
		panic(err)
	}
	// Output:
	// SCENARIO             CHECKER       VERDICT  WITNESS
	// reset-after-payment  at-most-once  invalid  purchase k1 paid twice: 1a2b3c4d 5e6f7a8b [#3 #9]
	// reset-after-payment  =             INVALID  2 checks: 1 valid, 1 invalid, 0 unknown; coverage 1/1; seed 7; 12s
	// reset-after-payment  replay                 go run ./cmd/chaos run -scenario='^reset-after-payment$' -seed=7
}
