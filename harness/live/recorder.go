package live

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/lightningnetwork/lnd/zpay32"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/regtest"
)

// Recorder is a gRPC proxy in front of the payer's LND on the client-lnd
// link: it forwards every call as it is (raw frames, metadata and all, so
// the client's macaroon reaches LND) and records the calls that ask LND
// to pay an invoice, with how LND answered. LND refuses some before any
// payment exists (an amountless invoice without an amount, an expired
// one): only a recorder on the link sees those. It presents LND's own
// TLS certificate, so the client, which trusts that certificate, sees no
// difference.
type Recorder struct {
	ln   net.Listener
	srv  *grpc.Server
	conn *grpc.ClientConn
	log  *slog.Logger

	mu   sync.Mutex
	reqs []history.PayRequest
}

// payMethods are the calls that pay an invoice, with the request each
// carries.
var payMethods = map[string]func() proto.Message{
	"/routerrpc.Router/SendPaymentV2":  func() proto.Message { return &routerrpc.SendPaymentRequest{} },
	"/lnrpc.Lightning/SendPaymentSync": func() proto.Message { return &lnrpc.SendRequest{} },
	"/lnrpc.Lightning/SendPayment":     func() proto.Message { return &lnrpc.SendRequest{} },
}

// recorderReadyWait bounds how long a call waits for the proxy's
// connection to the node to come up before it is forwarded anyway (and
// fails as Unavailable, as a call to a node that is down does).
const recorderReadyWait = time.Second

// StartRecorder listens on loopback with the node's certificate and key
// and forwards to the node's RPC address, which rpcAddr tells at each
// connection attempt: a node restarted on fresh ports (its old port
// taken meanwhile) is followed there.
func StartRecorder(rpcAddr func() string, certPath, keyPath string, log *slog.Logger) (*Recorder, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("recorder: node key pair: %w", err)
	}
	up, err := credentials.NewClientTLSFromFile(certPath, "")
	if err != nil {
		return nil, fmt.Errorf("recorder: node certificate: %w", err)
	}
	// The target names the first address, whose host the node's
	// certificate is checked against (a node's ports change, its host
	// does not); the dialer asks for the address every time.
	conn, err := grpc.NewClient("passthrough:///"+rpcAddr(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", rpcAddr())
		}),
		grpc.WithTransportCredentials(up),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
		// A killed node comes back on the same address within seconds:
		// the proxy's connection must not sit out gRPC's default backoff
		// (up to two minutes), failing calls the node would now answer.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: regtest.DialBackoff, MinConnectTimeout: 5 * time.Second}),
	)
	if err != nil {
		return nil, fmt.Errorf("recorder: dial node: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("recorder: listen: %w", err)
	}
	r := &Recorder{ln: ln, conn: conn, log: log}
	r.srv = grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(r.forward),
	)
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Addr is where the client-lnd link's proxy sends the client's calls.
func (r *Recorder) Addr() string { return r.ln.Addr().String() }

// Requests are the payment requests recorded so far, in order.
func (r *Recorder) Requests() []history.PayRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]history.PayRequest(nil), r.reqs...)
}

// Close stops the proxy, ending the calls in flight.
func (r *Recorder) Close() error {
	r.srv.Stop()
	return r.conn.Close()
}

// forward relays one call of any method, both ways, frame by frame.
func (r *Recorder) forward(_ any, in grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(in)
	md, _ := metadata.FromIncomingContext(in.Context())
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(in.Context(), md.Copy()))
	defer cancel()
	r.ready(ctx)
	out, err := r.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	// rec is the recorded request of this call, if it pays: written by
	// the goroutine that relays the client's frames, read at the end.
	var rec atomic.Int64
	rec.Store(-1)
	go func() {
		for {
			var f frame
			if err := in.RecvMsg(&f); err != nil {
				if errors.Is(err, io.EOF) {
					_ = out.CloseSend()
				} else {
					cancel() // the client gave up: so does the node's call
				}
				return
			}
			// Recorded before it is sent on: once the node answers, the
			// request is in the record.
			if mk, ok := payMethods[method]; ok && rec.Load() < 0 {
				rec.Store(int64(r.record(method, f, mk())))
			}
			if err := out.SendMsg(&f); err != nil {
				return
			}
		}
	}()
	if hdr, err := out.Header(); err == nil {
		_ = in.SendHeader(hdr)
	}
	var callErr error
	for {
		var f frame
		if err := out.RecvMsg(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				callErr = err
			}
			break
		}
		if err := in.SendMsg(&f); err != nil {
			callErr = err
			break
		}
	}
	in.SetTrailer(out.Trailer())
	r.end(int(rec.Load()), callErr)
	return callErr
}

// ready waits, a bounded time, for the connection to the node to be up:
// a client that dials once the node is back must reach it, as it would
// without the proxy, not meet a connection still failed from before.
func (r *Recorder) ready(ctx context.Context) {
	st := r.conn.GetState()
	if st == connectivity.Ready {
		return
	}
	r.conn.Connect()
	r.conn.ResetConnectBackoff()
	ctx, cancel := context.WithTimeout(ctx, recorderReadyWait)
	defer cancel()
	for st = r.conn.GetState(); st != connectivity.Ready; st = r.conn.GetState() {
		if !r.conn.WaitForStateChange(ctx, st) {
			return
		}
	}
}

// record decodes a payment call's request and keeps it; it returns its
// index.
func (r *Recorder) record(method string, f frame, m proto.Message) int {
	pr := history.PayRequest{Time: time.Now(), Method: method}
	if err := proto.Unmarshal(f, m); err == nil {
		var bolt11 string
		switch q := m.(type) {
		case *routerrpc.SendPaymentRequest:
			bolt11, pr.AmtMsat = q.GetPaymentRequest(), q.GetAmtMsat()+q.GetAmt()*1000
		case *lnrpc.SendRequest:
			bolt11, pr.AmtMsat = q.GetPaymentRequest(), q.GetAmtMsat()+q.GetAmt()*1000
		}
		if inv, err := zpay32.Decode(bolt11, &chaincfg.RegressionNetParams); err == nil && inv.PaymentHash != nil {
			pr.Decoded = true
			pr.Hash = fmt.Sprintf("%x", inv.PaymentHash[:])
			if inv.MilliSat != nil {
				pr.AmountMsat = int64(*inv.MilliSat)
			}
			pr.Expiry = inv.Timestamp.Add(inv.Expiry())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, pr)
	r.log.Debug("payment request recorded", "method", method, "hash", history.Short(pr.Hash), "amount_msat", pr.AmountMsat)
	return len(r.reqs) - 1
}

// end notes how a recorded call ended.
func (r *Recorder) end(i int, err error) {
	if i < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs[i].Status = status.Code(err).String()
}

// frame is one raw gRPC message.
type frame []byte

// rawCodec passes frames through undecoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("recorder codec: %T is not a frame", v)
	}
	return *f, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("recorder codec: %T is not a frame", v)
	}
	*f = append((*f)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
