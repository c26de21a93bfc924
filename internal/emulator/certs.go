package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"
)

// credentials are a server's keys and certificates.
type credentials struct {
	caPEM []byte
	pool  *x509.CertPool
	leaf  tls.Certificate // for both SMTP and HTTPS
}

// newCredentials makes a certificate authority and a leaf certificate for
// hosts signed by it.
func newCredentials(hosts []string) (*credentials, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"o365smtptest"}, CommonName: "o365smtptest emulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"o365smtptest"}, CommonName: "outlook.com"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		h = strings.Trim(h, "[]")
		if ip := net.ParseIP(h); ip != nil {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		} else if h != "" {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating leaf certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, err
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &credentials{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:  pool,
		leaf:  tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey, Leaf: leaf},
	}, nil
}

// spareKeys holds the signing keys of closed Servers, for later Servers of
// the same process: an RSA-2048 key takes tens of milliseconds to generate
// (about half a second under the race detector), and a test suite starts
// hundreds of emulators. A key is in use by at most one open Server, so
// Servers open at the same time never share one; a key outlives its Server
// only here, bounded by maxSpareKeys. These are throwaway test keys.
var spareKeys struct {
	mu   sync.Mutex
	keys []*rsa.PrivateKey
}

const maxSpareKeys = 16

// takeKey returns a spare signing key, or a new one.
func takeKey() *rsa.PrivateKey {
	spareKeys.mu.Lock()
	if n := len(spareKeys.keys); n > 0 {
		k := spareKeys.keys[n-1]
		spareKeys.keys = spareKeys.keys[:n-1]
		spareKeys.mu.Unlock()
		return k
	}
	spareKeys.mu.Unlock()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("o365smtptest: generating the token signing key: " + err.Error())
	}
	return key
}

// giveBackKey makes the signing key of a closed Server spare.
func giveBackKey(k *rsa.PrivateKey) {
	spareKeys.mu.Lock()
	defer spareKeys.mu.Unlock()
	if len(spareKeys.keys) < maxSpareKeys {
		spareKeys.keys = append(spareKeys.keys, k)
	}
}

// signingKey returns the RSA key that signs the server's access tokens,
// and its key ID (kid and x5t). It is taken on first use (many tests never
// need one), from the keys of closed Servers when there is one (takeKey).
func (s *Server) signingKey() (*rsa.PrivateKey, string) {
	s.keyOnce.Do(func() {
		key := takeKey()
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			panic("o365smtptest: " + err.Error())
		}
		sum := sha1.Sum(pub)
		s.signKey, s.keyID = key, base64.RawURLEncoding.EncodeToString(sum[:])
		s.keyReady.Store(true)
	})
	return s.signKey, s.keyID
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("o365smtptest: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

// newGUID returns a random (version 4) GUID in lower case.
func newGUID() string {
	b := randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newSecret returns a random client secret Value shaped like Entra's: 40
// characters with "8Q~" after the first three.
func newSecret() string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const chars = alnum + "_-.~"
	b := randBytes(37)
	var sb strings.Builder
	for i := 0; i < 3; i++ {
		sb.WriteByte(alnum[int(b[i])%len(alnum)])
	}
	sb.WriteString("8Q~")
	for i := 3; i < 37; i++ {
		sb.WriteByte(chars[int(b[i])%len(chars)])
	}
	return sb.String()
}
