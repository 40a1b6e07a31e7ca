package live

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

type entry struct {
	hash string
	idx  uint64
}

// pager serves a list as LND pages it: entries after an exclusive
// offset, at most listPage of them.
func pager(list *[]entry, calls *int) func(context.Context, uint64) ([]entry, error) {
	return func(_ context.Context, offset uint64) ([]entry, error) {
		*calls++
		var out []entry
		for _, e := range *list {
			if e.idx > offset && len(out) < listPage {
				out = append(out, e)
			}
		}
		return out, nil
	}
}

func ids(e entry) (string, uint64) { return e.hash, e.idx }

// The cursor reads past one page, leaves skipped hashes out, starts the
// next read at the first entry still of interest, and forgets skipped
// hashes it has passed.
func TestListCursor(t *testing.T) {
	var list []entry
	for i := 1; i <= 2500; i++ {
		list = append(list, entry{fmt.Sprintf("h%d", i), uint64(i)})
	}
	c := newListCursor()
	calls := 0
	got, err := readList(context.Background(), c, pager(&list, &calls), ids)
	require.NoError(t, err)
	require.Len(t, got, 2500, "every page is read, not the first 1000")
	require.Equal(t, 3, calls)

	// Before the run: the first 2000. Forgotten later: 2001..2400 but 2100.
	for i := 1; i <= 2400; i++ {
		if i != 2100 {
			c.forget(fmt.Sprintf("h%d", i))
		}
	}
	c.forget("never-paid")
	got, err = readList(context.Background(), c, pager(&list, &calls), ids)
	require.NoError(t, err)
	require.Len(t, got, 101)
	require.Equal(t, "h2100", got[0].hash)
	require.Equal(t, uint64(2099), c.from, "the next read starts at the first entry of interest")
	require.Len(t, c.skip, 300, "the skipped hashes behind the cursor, and one that never came, are dropped")

	c.forget("h2100")
	list = append(list, entry{"h2501", 2501})
	calls = 0
	got, err = readList(context.Background(), c, pager(&list, &calls), ids)
	require.NoError(t, err)
	require.Len(t, got, 101)
	require.Equal(t, "h2401", got[0].hash)
	require.Equal(t, uint64(2400), c.from)
	require.Empty(t, c.skip)
	require.Equal(t, 1, calls, "one short page: the read is the size of what is live")

	for _, e := range got {
		c.forget(e.hash)
	}
	got, err = readList(context.Background(), c, pager(&list, &calls), ids)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, uint64(2501), c.from, "nothing of interest: the next read starts after the last entry")
}
