package client

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
	bolt "go.etcd.io/bbolt"
)

// State is one step of a purchase in the journal.
type State uint8

const (
	stateNone State = iota
	// StateIntent: a purchase (or a new attempt after a failure) began.
	StateIntent
	// StateChallenge: the server's challenge was accepted for payment.
	StateChallenge
	// StateDispatched: the payment is about to be sent. Written before
	// SendPayment is called; from here on only tracking may resolve it.
	StateDispatched
	// StateSettled: the payment succeeded; the preimage is kept.
	StateSettled
	// StateUnpaid: the dispatched payment definitively failed or never
	// reached the node. No money moved.
	StateUnpaid
	// StateToken: a cached credential, paid by an earlier purchase, was
	// used instead of paying.
	StateToken
	// StateDelivered: the server answered the paid request. Terminal.
	StateDelivered
	// StateFailed: the purchase ended with no money moved. Terminal, but
	// a later Do with the same key may start again.
	StateFailed
	// StateUndelivered: paid, but the server never delivered. Terminal;
	// the preimage is kept and the purchase is dead-lettered.
	StateUndelivered
)

var stateNames = [...]string{
	stateNone:        "none",
	StateIntent:      "intent",
	StateChallenge:   "challenge",
	StateDispatched:  "dispatched",
	StateSettled:     "settled",
	StateUnpaid:      "unpaid",
	StateToken:       "token",
	StateDelivered:   "delivered",
	StateFailed:      "failed",
	StateUndelivered: "undelivered",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Terminal reports whether the state ends a purchase.
func (s State) Terminal() bool {
	return s == StateDelivered || s == StateFailed || s == StateUndelivered
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown journal state %q", b)
}

// Event is one journal entry. Its JSON form (Export) leaves out the
// secrets: the macaroon appears as a short fingerprint, the preimage not at
// all, the request body as its hash.
type Event struct {
	Key   string    `json:"key"`
	Seq   uint64    `json:"seq"`
	State State     `json:"state"`
	At    time.Time `json:"at"`

	// intent
	Method        string `json:"method,omitempty"`
	URL           string `json:"url,omitempty"`
	Service       string `json:"service,omitempty"`
	ContentType   string `json:"content_type,omitempty"`
	RequestSHA256 string `json:"request_sha256,omitempty"`
	DerivedFrom   string `json:"derived_from,omitempty"` // key derived from the request
	BodyKept      bool   `json:"body_kept,omitempty"`    // Body holds the whole request body

	// challenge, dispatched, settled, unpaid, token
	Scheme      string `json:"scheme,omitempty"`
	PaymentHash string `json:"payment_hash,omitempty"` // hex
	Invoice     string `json:"invoice,omitempty"`
	AmountMsat  int64  `json:"amount_msat,omitempty"`
	FeeMsat     int64  `json:"fee_msat,omitempty"`
	ReserveMsat int64  `json:"reserve_msat,omitempty"` // budget held while dispatched
	MacaroonID  string `json:"macaroon_id,omitempty"`  // short sha256 prefix

	// delivered, undelivered
	Status         int    `json:"status,omitempty"`
	ResponseSHA256 string `json:"response_sha256,omitempty"`

	// unpaid, failed, undelivered
	Kind      Kind   `json:"kind,omitempty"`
	Reason    string `json:"reason,omitempty"`
	NeverSent bool   `json:"never_sent,omitempty"` // unpaid: the node never saw it

	// Secrets, kept in the journal but never exported or logged.
	Macaroon []byte           `json:"-"`
	Preimage lntypes.Preimage `json:"-"`
	Body     []byte           `json:"-"` // request body, when small enough to keep
}

// hash parses PaymentHash.
func (e Event) hash() lntypes.Hash {
	h, _ := lntypes.MakeHashFromStr(e.PaymentHash)
	return h
}

// record is an Event as stored: with its secrets.
type record struct {
	Event
	Mac  []byte `json:"mac,omitempty"`
	Pre  string `json:"pre,omitempty"`
	Body []byte `json:"body,omitempty"`
}

func encodeEvent(e Event) ([]byte, error) {
	r := record{Event: e, Mac: e.Macaroon, Body: e.Body}
	if e.Preimage != (lntypes.Preimage{}) {
		r.Pre = hex.EncodeToString(e.Preimage[:])
	}
	return json.Marshal(r)
}

func decodeEvent(b []byte) (Event, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Event{}, err
	}
	e := r.Event
	e.Macaroon, e.Body = r.Mac, r.Body
	if r.Pre != "" {
		p, err := lntypes.MakePreimageFromStr(r.Pre)
		if err != nil {
			return Event{}, fmt.Errorf("preimage: %w", err)
		}
		e.Preimage = p
	}
	return e, nil
}

// Token is a paid credential cached for a service.
type Token struct {
	Service     string           `json:"service"`
	Scheme      string           `json:"scheme"`
	PaymentHash string           `json:"payment_hash"`
	Macaroon    []byte           `json:"mac"`
	Preimage    lntypes.Preimage `json:"pre"`
	Expiry      time.Time        `json:"expiry"`
	PaidBy      string           `json:"paid_by"` // purchase key
}

// Credential returns what to send.
func (t Token) Credential() Credential {
	return Credential{Scheme: t.Scheme, Macaroon: t.Macaroon, Preimage: t.Preimage}
}

// DeadLetter is a purchase that needs a person: paid and not delivered,
// failed, or left with its payment's outcome unknown.
type DeadLetter struct {
	Key       string    `json:"key"`
	Kind      Kind      `json:"kind"`
	Result    Result    `json:"result"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	At        time.Time `json:"at"`
}

// Journal layout (bbolt, one file):
//
//	purchases/<key>/<seq uint64 BE>  JSON record, append-only
//	open/<key>                       present while a purchase is unfinished
//	tokens/<service>                 JSON Token
//	deadletters/<key>                JSON DeadLetter
//	generations/<derived key>        uint64 BE: current generation
//	meta/version                     "1"
//	meta/spent_msat                  uint64 BE: budget used
var (
	bucketPurchases   = []byte("purchases")
	bucketOpen        = []byte("open")
	bucketTokens      = []byte("tokens")
	bucketDeadLetters = []byte("deadletters")
	bucketGenerations = []byte("generations")
	bucketMeta        = []byte("meta")

	keyVersion = []byte("version")
	keySpent   = []byte("spent_msat")
)

const (
	journalVersion = "1"
	// MaxKeyLen bounds an idempotency key.
	MaxKeyLen = 512
)

var (
	// ErrBudget: paying would exceed the total budget.
	ErrBudget = errors.New("budget exceeded")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
)

// Store is the write-ahead journal: every purchase's steps, the token
// cache, the dead letters and the budget, in one bbolt file with fsync on.
// Only one process can hold it (bbolt locks the file); within the process,
// clients sharing a Store serialise per key.
type Store struct {
	db    *bolt.DB
	dir   string
	locks keyLocks
	group group // commits concurrent appends together

	closeOnce sync.Once
	closeErr  error
}

// StoreOption configures OpenStore.
type StoreOption func(*storeConfig) error

type storeConfig struct {
	timeout time.Duration
	noSync  bool // tests only: see export_test.go
}

// WithOpenTimeout bounds the wait for another process to release the
// journal. Default 5s.
func WithOpenTimeout(d time.Duration) StoreOption {
	return func(c *storeConfig) error {
		if d <= 0 {
			return fmt.Errorf("open timeout must be positive, got %s", d)
		}
		c.timeout = d
		return nil
	}
}

// OpenStore opens (creating if needed) the journal in dir.
func OpenStore(dir string, opts ...StoreOption) (*Store, error) {
	cfg := storeConfig{timeout: 5 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "locks"), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, "journal.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.timeout, NoSync: cfg.noSync})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPurchases, bucketOpen, bucketTokens, bucketDeadLetters, bucketGenerations, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte(journalVersion))
		case string(v) != journalVersion:
			return fmt.Errorf("journal version %q, want %q", v, journalVersion)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{db: db, dir: dir, locks: keyLocks{m: map[string]*keyLock{}}}, nil
}

// Close closes the journal. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Dir is the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// Events returns a purchase's events in order, secrets included; nil if
// the key is unknown.
func (s *Store) Events(key string) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = readEvents(tx, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events %.64q: %w", key, err)
	}
	return out, nil
}

func readEvents(tx *bolt.Tx, key string) ([]Event, error) {
	b := tx.Bucket(bucketPurchases).Bucket([]byte(key))
	if b == nil {
		return nil, nil
	}
	var out []Event
	err := b.ForEach(func(k, v []byte) error {
		e, err := decodeEvent(v)
		if err != nil {
			return fmt.Errorf("event %x: %w", k, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Export is a purchase's events as a JSON array, without secrets.
func (s *Store) Export(key string) ([]byte, error) {
	evs, err := s.Events(key)
	if err != nil {
		return nil, err
	}
	if evs == nil {
		evs = []Event{}
	}
	return json.MarshalIndent(evs, "", "  ")
}

// Purchases lists every purchase key in the journal.
func (s *Store) Purchases() ([]string, error) { return s.keys(bucketPurchases) }

// Unfinished lists the purchases with no terminal event yet.
func (s *Store) Unfinished() ([]string, error) { return s.keys(bucketOpen) }

func (s *Store) keys(bucket []byte) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", bucket, err)
	}
	return out, nil
}

// Spent is the budget used so far: settled amounts and fees plus what
// in-flight payments hold.
func (s *Store) Spent() (int64, error) {
	var v int64
	err := s.db.View(func(tx *bolt.Tx) error {
		v = getInt(tx.Bucket(bucketMeta), keySpent)
		return nil
	})
	return v, err
}

// Token returns the cached credential for service, expired or not.
func (s *Store) Token(service string) (Token, bool, error) {
	var (
		t  Token
		ok bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get([]byte(service))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &t)
	})
	if err != nil {
		return Token{}, false, fmt.Errorf("token %q: %w", service, err)
	}
	return t, ok, nil
}

// DropToken forgets the cached credential for service if it is still the
// one for hash (a newer token is left alone).
func (s *Store) DropToken(service string, hash string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		v := b.Get([]byte(service))
		if v == nil {
			return nil
		}
		var t Token
		if err := json.Unmarshal(v, &t); err != nil || t.PaymentHash == hash {
			return b.Delete([]byte(service))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop token %q: %w", service, err)
	}
	return nil
}

// DeadLetters lists the purchases that need attention.
func (s *Store) DeadLetters() ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeadLetters).ForEach(func(_, v []byte) error {
			var d DeadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}

// Resolve removes a purchase from the dead letters: a person has dealt
// with it. The purchase's events stay. Resolving an absent key is not an
// error.
func (s *Store) Resolve(key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeadLetters).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("resolve %.64q: %w", key, err)
	}
	return nil
}

// generation is the current generation of a derived key.
func (s *Store) generation(base string) (uint64, error) {
	var g uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketGenerations).Get([]byte(base)); len(v) == 8 {
			g = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return g, err
}

// effects are the side tables a journal append updates in the same
// transaction, so that a crash never leaves them out of step.
type effects struct {
	spend       int64  // budget delta in msat
	budget      int64  // when > 0 and spend > 0, refuse to pass it
	token       *Token // cache this credential
	open        bool   // mark the purchase unfinished
	closed      bool   // mark it finished
	dead        *DeadLetter
	clearDead   bool
	bumpDerived string // derived base key whose generation moves on
}

// commit appends one event to a purchase and applies its effects
// atomically, in a transaction it may share with other purchases' appends
// (see group). It returns once the event is on disk, with Key and Seq set.
func (s *Store) commit(ev Event, fx effects) (Event, error) {
	if ev.Key == "" || len(ev.Key) > MaxKeyLen {
		return Event{}, fmt.Errorf("journal %s: bad key length %d", ev.State, len(ev.Key))
	}
	err := s.group.update(s.db, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketPurchases).CreateBucketIfNotExists([]byte(ev.Key))
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		ev.Seq = seq
		buf, err := encodeEvent(ev)
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], buf); err != nil {
			return err
		}
		return applyEffects(tx, ev, fx)
	})
	if err != nil {
		return Event{}, fmt.Errorf("journal %s %.64q: %w", ev.State, ev.Key, err)
	}
	return ev, nil
}

func applyEffects(tx *bolt.Tx, ev Event, fx effects) error {
	meta := tx.Bucket(bucketMeta)
	if fx.spend != 0 {
		spent := getInt(meta, keySpent) + fx.spend
		if fx.spend > 0 && fx.budget > 0 && spent > fx.budget {
			return fmt.Errorf("%w: %d msat spent or held of %d", ErrBudget, spent-fx.spend, fx.budget)
		}
		if spent < 0 {
			spent = 0
		}
		if err := putInt(meta, keySpent, spent); err != nil {
			return err
		}
	}
	if fx.token != nil {
		v, err := json.Marshal(fx.token)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketTokens).Put([]byte(fx.token.Service), v); err != nil {
			return err
		}
	}
	open := tx.Bucket(bucketOpen)
	if fx.open {
		if err := open.Put([]byte(ev.Key), nil); err != nil {
			return err
		}
	}
	if fx.closed {
		if err := open.Delete([]byte(ev.Key)); err != nil {
			return err
		}
	}
	dl := tx.Bucket(bucketDeadLetters)
	if fx.clearDead {
		if err := dl.Delete([]byte(ev.Key)); err != nil {
			return err
		}
	}
	if fx.dead != nil {
		if err := putDead(dl, *fx.dead); err != nil {
			return err
		}
	}
	if fx.bumpDerived != "" {
		g := tx.Bucket(bucketGenerations)
		var n uint64
		if v := g.Get([]byte(fx.bumpDerived)); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], n+1)
		if err := g.Put([]byte(fx.bumpDerived), v[:]); err != nil {
			return err
		}
	}
	return nil
}

// putDead writes a dead letter, counting attempts across writes.
func putDead(b *bolt.Bucket, d DeadLetter) error {
	if v := b.Get([]byte(d.Key)); v != nil {
		var old DeadLetter
		if json.Unmarshal(v, &old) == nil {
			d.Attempts += old.Attempts
		}
	}
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return b.Put([]byte(d.Key), v)
}

// deadLetter records a purchase that needs attention without a journal
// event (an outcome left unknown).
func (s *Store) deadLetter(d DeadLetter) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return putDead(tx.Bucket(bucketDeadLetters), d)
	})
	if err != nil {
		return fmt.Errorf("dead letter %.64q: %w", d.Key, err)
	}
	return nil
}

func getInt(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putInt(b *bolt.Bucket, k []byte, v int64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(v))
	return b.Put(k, buf[:])
}
