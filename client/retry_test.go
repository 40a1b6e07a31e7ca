package client

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := func(v string) http.Header { return http.Header{"Retry-After": []string{v}} }
	require.Equal(t, 5*time.Second, retryAfter(h("5"), now))
	require.Equal(t, 90*time.Second, retryAfter(h(now.Add(90*time.Second).Format(http.TimeFormat)), now))
	require.Zero(t, retryAfter(h(now.Add(-time.Minute).Format(http.TimeFormat)), now))
	require.Zero(t, retryAfter(h("-3"), now))
	require.Zero(t, retryAfter(h("soon"), now))
	require.Zero(t, retryAfter(http.Header{}, now))
	require.Equal(t, 24*time.Hour, retryAfter(h("99999999999"), now))
}

func TestRetrierFullJitterAndBounds(t *testing.T) {
	clock := &stepClock{now: time.Unix(0, 0)}
	p := RetryPolicy{Attempts: 6, Initial: time.Second, Max: 4 * time.Second, MaxElapsed: time.Hour, MaxRetryAfter: time.Minute}
	rt := newRetrier(p, clock, &lockedRand{r: rand.New(rand.NewPCG(3, 4))})
	ceilings := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, ceil := range ceilings {
		d, ok := rt.next(0)
		require.True(t, ok, "attempt %d", i)
		require.LessOrEqual(t, d, ceil)
		clock.After(d)
	}
	_, ok := rt.next(0)
	require.False(t, ok, "bounded by attempts")

	rt = newRetrier(p, clock, &lockedRand{r: rand.New(rand.NewPCG(3, 4))})
	d, ok := rt.next(30 * time.Second)
	require.True(t, ok)
	require.GreaterOrEqual(t, d, 30*time.Second, "Retry-After is a floor")
	_, ok = rt.next(2 * time.Minute)
	require.False(t, ok, "a Retry-After over the limit ends the exchange")

	p.MaxElapsed = 3 * time.Second
	rt = newRetrier(p, clock, &lockedRand{r: rand.New(rand.NewPCG(3, 4))})
	_, ok = rt.next(10 * time.Second)
	require.False(t, ok, "bounded by the deadline")
}

func TestDefaultService(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example.com/weather/today?x=1": "https://api.example.com/weather",
		"http://127.0.0.1:8080/":                    "http://127.0.0.1:8080/",
		"http://h":                                  "http://h/",
		"http://h//a/b":                             "http://h/a",
	} {
		u, err := url.Parse(in)
		require.NoError(t, err)
		require.Equal(t, want, DefaultService(u), in)
	}
}
