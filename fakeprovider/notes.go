package fakeprovider

import (
	"context"
	"sync"
)

// notesKept is how many of the latest notes the provider keeps for
// readers of GET /notes: a reader further behind than that is told how
// many it missed (NotesPage.Dropped).
const notesKept = 1 << 14

// NotesPage is the answer of GET /notes: the notes numbered after the
// reader's cursor, in order, and the cursor to ask from next.
type NotesPage struct {
	Notes []Note `json:"notes"`
	// Next is the last note's Seq, the cursor unchanged when there is
	// none.
	Next int64 `json:"next"`
	// Dropped counts notes after the cursor that are no longer kept.
	Dropped int64 `json:"dropped,omitempty"`
}

// notesLog numbers every note and keeps the latest notesKept of them,
// so that an observer in another process (the harness, when the provider
// runs in a container) follows them through the control API, resuming
// from its last Seq after a broken connection without missing or
// repeating one.
type notesLog struct {
	mu      sync.Mutex
	seq     int64
	kept    []Note        // ascending Seq, the last one's is seq
	changed chan struct{} // closed and replaced at every add
}

func newNotesLog() *notesLog { return &notesLog{changed: make(chan struct{})} }

// add numbers n and keeps it.
func (l *notesLog) add(n Note) Note {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	n.Seq = l.seq
	l.kept = append(l.kept, n)
	if len(l.kept) >= 2*notesKept {
		l.kept = append([]Note(nil), l.kept[len(l.kept)-notesKept:]...)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return n
}

// after returns up to limit notes numbered after cursor; with none yet,
// a channel closed when one comes.
func (l *notesLog) after(cursor int64, limit int) (NotesPage, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	page := NotesPage{Next: cursor}
	if cursor >= l.seq {
		return page, l.changed
	}
	first := l.seq - int64(len(l.kept)) + 1 // Seq of kept[0]
	if cursor < first-1 {
		page.Dropped = first - 1 - max(cursor, 0)
		cursor = first - 1
	}
	from := int(cursor - first + 1)
	to := min(len(l.kept), from+limit)
	page.Notes = append([]Note(nil), l.kept[from:to]...)
	page.Next = page.Notes[len(page.Notes)-1].Seq
	return page, nil
}

// Notes returns up to limit of the notes numbered after cursor (0: from
// the first), waiting until there is one or ctx ends; on ctx's end it
// returns an empty page and no error, so a long poll that times out is
// an ordinary answer. limit below 1 means 1000.
func (p *Provider) Notes(ctx context.Context, cursor int64, limit int) NotesPage {
	if limit < 1 {
		limit = 1000
	}
	for {
		page, wait := p.notes.after(cursor, limit)
		if wait == nil {
			return page
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return page
		case <-p.ctx.Done():
			return page
		}
	}
}
