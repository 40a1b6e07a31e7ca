package fault

import (
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
)

// Catalogue is one instance of every fault with typical parameters: the
// explicit list generators draw from (no init() registry).
func Catalogue() []harness.Fault {
	links := []string{harness.LinkProvider, harness.LinkPayer, harness.LinkPeers, harness.LinkPayerChain}
	var out []harness.Fault
	for _, l := range links {
		out = append(out,
			Latency{Link: l, Stream: harness.Downstream, Delay: 500 * time.Millisecond},
			Timeout{Link: l, Stream: harness.Downstream},
			Reset{Link: l, Stream: harness.Downstream},
			Down{Link: l},
		)
	}
	out = append(out,
		LimitData{Link: harness.LinkProvider, Stream: harness.Downstream, Bytes: 64},
		Bandwidth{Link: harness.LinkProvider, Stream: harness.Downstream, KBps: 1},
		Slicer{Link: harness.LinkProvider, Stream: harness.Downstream, AvgSize: 8, SizeVariation: 4, Delay: 10 * time.Millisecond},
		KillNode{Node: "alice"}, KillNode{Node: "bob"},
		PauseNode{Node: "bob"},
		IsolateNode{Node: "bob"},
		RestartNode{Node: "alice"}, RestartNode{Node: "bob"},
		RestartProvider{Down: time.Second},
		RestartProvider{Forget: true},
		Mine{Blocks: 6},
		MineUntilCancel{},
		ResolveHolds{}, ResolveHolds{Cancel: true},
		RevokeTokens{},
		Drain{Keep: 50},
		Disconnect{},
	)
	for _, k := range fakeprovider.KnobKinds() {
		out = append(out, Knob{Knob: fakeprovider.Knob{Kind: k, Times: 1}})
	}
	return out
}
