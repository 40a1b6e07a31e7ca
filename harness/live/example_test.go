package live_test

import (
	"context"
	"fmt"

	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/harness/property"
)

// A live world carries property steps out on a real regtest network;
// pass the client under test's command to try another client.
func ExampleNewWorld() {
	ctx := context.Background()
	w, err := live.NewWorld(ctx, live.WorldOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	m := property.NewMachine(w, 1, nil)
	for _, s := range []property.Step{
		{Op: property.OpFault, Fault: "knob error-after"},
		{Op: property.OpBuy, Key: "o1", Service: "ops"},
		{Op: property.OpHeal},
	} {
		if err := m.Apply(ctx, s); err != nil {
			fmt.Println(err)
			return
		}
	}
	rs, _, err := m.Finish(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(property.Invalid(rs)), property.Classes(m.History()))
}
