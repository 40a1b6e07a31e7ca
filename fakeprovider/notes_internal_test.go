package fakeprovider

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotesLogKeepsTheLatest: a reader far behind is told how many notes
// it missed and resumes at the oldest kept; pages respect max.
func TestNotesLogKeepsTheLatest(t *testing.T) {
	l := newNotesLog()
	page, wait := l.after(0, 10)
	require.NotNil(t, wait, "nothing yet: wait")
	require.Empty(t, page.Notes)

	total := 2*notesKept + 5
	for range total {
		l.add(Note{Kind: NoteRequest})
	}
	page, wait = l.after(0, 3)
	require.Nil(t, wait)
	require.Len(t, page.Notes, 3)
	first := page.Notes[0].Seq
	require.Equal(t, first-1, page.Dropped, "every note before the oldest kept is counted missed")
	require.Equal(t, int64(total)-first+1 >= notesKept, true, "at least notesKept notes are kept")
	require.Equal(t, page.Notes[2].Seq, page.Next)

	page, _ = l.after(int64(total-2), 10)
	require.Len(t, page.Notes, 2)
	require.Zero(t, page.Dropped)
	require.Equal(t, int64(total), page.Next)

	page, wait = l.after(int64(total), 10)
	require.NotNil(t, wait)
	require.Equal(t, int64(total), page.Next)
	l.add(Note{Kind: NoteDelivery})
	select {
	case <-wait:
	default:
		t.Fatal("an added note does not wake the waiter")
	}
}
