package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"os"

	"rafka/acl"
)

// Resolved is the configuration with the decisions it implies made and the
// files it names read: what the components are built from.
type Resolved struct {
	// Settings are Config's, with Host decided (protected mode).
	Settings Settings
	// File holds the librdkafka sections.
	File *File
	// ReadyFile is where to write the bound addresses, "" for nowhere.
	ReadyFile string
	// ACL holds the users of --acl-file; nil without one.
	ACL *acl.List
	// FlightUsers are Flight's full-access Basic users: --flight-user's
	// and, with --requirepass, the default user with that password.
	FlightUsers map[string]string
	// RESPTLS and FlightTLS are the listeners' TLS configurations; nil
	// serves plain TCP.
	RESPTLS, FlightTLS *tls.Config
	// Notices are what the decisions are worth telling the operator.
	Notices []Notice
}

// Notice is one thing Resolve decided that the operator should read.
type Notice struct {
	// Warn marks a risk (otherwise it is information).
	Warn bool
	// Msg says what was decided.
	Msg string
	// Addr is the address concerned, if any.
	Addr string
}

// Resolve makes the decisions the settings imply: the listen host
// (protected mode), Flight's users (--requirepass protects Flight too), the
// ACL users and both TLS configurations read from their files.
func (c *Config) Resolve() (*Resolved, error) {
	s := c.Settings
	r := &Resolved{File: c.File, ReadyFile: c.ReadyFile}
	if s.ACLFile != "" {
		var err error
		if r.ACL, err = acl.Load(s.ACLFile); err != nil {
			return nil, err
		}
	}
	authRequired := s.RequirePass != "" || r.ACL != nil
	switch {
	case s.Host == "" && authRequired:
		s.Host = "0.0.0.0"
	case s.Host == "":
		// Protected mode: with no authentication configured, serve only
		// this machine unless --host says otherwise.
		s.Host = "127.0.0.1"
		r.Notices = append(r.Notices, Notice{Msg: "protected mode: no --requirepass, so listening on loopback only; pass --host 0.0.0.0 to serve other machines"})
	case !IsLoopback(s.Host) && !authRequired:
		r.Notices = append(r.Notices, Notice{Warn: true, Addr: s.Host,
			Msg: "serving a non-loopback address WITHOUT authentication: anyone who can reach it can produce and consume"})
	}
	if s.FlightEnabled() {
		host, _, _ := net.SplitHostPort(s.FlightAddr)
		if len(s.FlightTokens) == 0 && len(s.FlightUsers) == 0 && !authRequired && !IsLoopback(host) {
			r.Notices = append(r.Notices, Notice{Warn: true, Addr: s.FlightAddr, Msg: "Arrow Flight on a non-loopback address WITHOUT authentication"})
		}
	}
	r.FlightUsers = flightUsers(s)
	var err error
	if r.RESPTLS, err = respTLS(s); err != nil {
		return nil, err
	}
	if r.FlightTLS, err = serverTLS(s.FlightTLSCert, s.FlightTLSKey); err != nil {
		return nil, fmt.Errorf("flight %w", err)
	}
	r.Settings = s
	return r, nil
}

// flightUsers are Flight's full-access Basic users: the --flight-user ones
// and, with --requirepass, the default user with that password (as AUTH
// takes it on RESP), so a password set for the server protects Flight too.
// An explicit --flight-user default wins.
func flightUsers(s Settings) map[string]string {
	if s.RequirePass == "" {
		return s.FlightUsers
	}
	if _, ok := s.FlightUsers[acl.DefaultUser]; ok {
		return s.FlightUsers
	}
	users := make(map[string]string, len(s.FlightUsers)+1)
	maps.Copy(users, s.FlightUsers)
	users[acl.DefaultUser] = s.RequirePass
	return users
}

// serverTLS loads a listener's certificate and key; nil without them.
func serverTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// respTLS builds the RESP listener's TLS configuration (with client
// certificates required when --tls-ca is set), nil without one.
func respTLS(s Settings) (*tls.Config, error) {
	cfg, err := serverTLS(s.TLSCert, s.TLSKey)
	if err != nil || cfg == nil || s.TLSCA == "" {
		return cfg, err
	}
	pem, err := os.ReadFile(s.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS CA %s: no certificate found", s.TLSCA)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
