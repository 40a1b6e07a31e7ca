package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxLine bounds one line of history.jsonl.
const maxLine = 1 << 20

// WriteJSONL writes one event per line.
func (h History) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range h {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write event %d: %w", e.Index, err)
		}
	}
	return bw.Flush()
}

// ReadJSONL reads a history written by WriteJSONL or appended by a Log.
// Unknown fields are errors, and so is a history whose shape is wrong
// (see Validate): a checker must never judge a history it misread. The
// one exception is a torn last line, without its newline, that does not
// parse: the write a killed harness never finished, which is dropped.
func ReadJSONL(r io.Reader) (History, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var h History
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: gather it, within maxLine.
			long := append([]byte(nil), b...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxLine {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			if len(long) > maxLine {
				return nil, fmt.Errorf("history line %d: longer than %d bytes", line, maxLine)
			}
			b = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("history line %d: %w", line, err)
		}
		torn := errors.Is(err, io.EOF) // no newline: the last line
		if body := bytes.TrimSpace(b); len(body) > 0 {
			var e Event
			if uerr := strictUnmarshal(body, &e); uerr != nil {
				if torn {
					break
				}
				return nil, fmt.Errorf("history line %d: %w", line, uerr)
			}
			h = append(h, e)
		}
		if torn {
			break
		}
	}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return h, nil
}

// ReadTruth reads a truth.json file.
func ReadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Truth
	if err := strictUnmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
