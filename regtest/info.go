package regtest

import (
	"fmt"
	"strings"
)

// Info is what a client needs to connect to a running network. Its JSON
// form is what `chaos up --json` prints.
type Info struct {
	Network     string        `json:"network"`
	Backend     string        `json:"backend"`
	RunDir      string        `json:"run_dir"`
	LNDVersion  string        `json:"lnd_version"`
	BtcdVersion string        `json:"btcd_version"`
	Btcd        BtcdInfo      `json:"btcd"`
	Nodes       []NodeInfo    `json:"nodes"`
	Channels    []ChannelSpec `json:"channels"`
}

// BtcdInfo locates the chain backend.
type BtcdInfo struct {
	RPC         string `json:"rpc"`
	P2P         string `json:"p2p"`
	User        string `json:"user"`
	Pass        string `json:"pass"`
	TLSCertPath string `json:"tls_cert_path"`
}

// NodeInfo locates one LND node.
type NodeInfo struct {
	Name         string `json:"name"`
	GRPC         string `json:"grpc"`
	REST         string `json:"rest"`
	P2P          string `json:"p2p"`
	TLSCertPath  string `json:"tls_cert_path"`
	MacaroonPath string `json:"macaroon_path"`
	PubKey       string `json:"pubkey"`
}

// Info describes the running network.
func (n *Network) Info() Info {
	user, pass := n.chain.Credentials()
	info := Info{
		Network: "regtest", Backend: n.cfg.runtime.Name(), RunDir: n.dir,
		LNDVersion: n.bins.LNDVersion, BtcdVersion: n.bins.BtcdVersion,
		Btcd: BtcdInfo{
			RPC: n.chain.RPCAddr(), P2P: n.chain.P2PAddr(),
			User: user, Pass: pass, TLSCertPath: n.chain.CertPath(),
		},
		Channels: n.Channels(),
	}
	for _, node := range n.Nodes() {
		info.Nodes = append(info.Nodes, NodeInfo{
			Name: node.Name(), GRPC: node.RPCAddr(), REST: node.RESTAddr(), P2P: node.P2PHostAddr(),
			TLSCertPath: node.TLSCertPath(), MacaroonPath: node.AdminMacaroonPath(), PubKey: node.PubKey(),
		})
	}
	return info
}

// Env renders the info as KEY=value lines. The unprefixed LND_* variables
// are alice's (the payer's), named as the exec adapter protocol names
// them; every node also has its own NAME_LND_* set.
func (i Info) Env() string {
	var b strings.Builder
	put := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(v)) }
	put("L402CHAOS_RUN_DIR", i.RunDir)
	put("LND_NETWORK", i.Network)
	for _, n := range i.Nodes {
		if n.Name == Alice {
			put("LND_RPCSERVER", n.GRPC)
			put("LND_TLSCERTPATH", n.TLSCertPath)
			put("LND_MACAROONPATH", n.MacaroonPath)
		}
	}
	for _, n := range i.Nodes {
		p := strings.ToUpper(n.Name) + "_LND_"
		put(p+"RPCSERVER", n.GRPC)
		put(p+"RESTSERVER", n.REST)
		put(p+"P2P", n.P2P)
		put(p+"TLSCERTPATH", n.TLSCertPath)
		put(p+"MACAROONPATH", n.MacaroonPath)
		put(p+"PUBKEY", n.PubKey)
	}
	put("BTCD_RPCSERVER", i.Btcd.RPC)
	put("BTCD_RPCUSER", i.Btcd.User)
	put("BTCD_RPCPASS", i.Btcd.Pass)
	put("BTCD_RPCCERT", i.Btcd.TLSCertPath)
	return b.String()
}

// shellQuote leaves plain values bare (so the file also works as a Docker
// env file) and single-quotes anything a shell would split or expand.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,+=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
