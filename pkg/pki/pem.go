package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
)

// ParseCertificatePEM parses data that holds exactly one PEM block of type
// CERTIFICATE and nothing else but whitespace.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	cert, err := decodeCert(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return cert, nil
}

// ParsePrivateKeyPEM parses data that holds exactly one PEM block of type
// PRIVATE KEY (PKCS#8, unencrypted) and nothing else but whitespace.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	key, err := decodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return key, nil
}

// parseCertFile is ParseCertificatePEM with errors that name the file.
func parseCertFile(path string, data []byte) (*x509.Certificate, error) {
	cert, err := decodeCert(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return cert, nil
}

// parseKeyFile is ParsePrivateKeyPEM with errors that name the file.
func parseKeyFile(path string, data []byte) (crypto.Signer, error) {
	key, err := decodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return key, nil
}

func decodeCert(data []byte) (*x509.Certificate, error) {
	der, err := decodeOne(data, pemCertificate)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.New("not a valid X.509 certificate")
	}
	return cert, nil
}

func decodeKey(data []byte) (crypto.Signer, error) {
	der, err := decodeOne(data, pemPrivateKey)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not a valid PKCS #8 private key")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", key)
	}
	return signer, nil
}

// decodeOne returns the bytes of the only PEM block in data, which must be
// of type typ. Only whitespace may surround the block.
func decodeOne(data []byte, typ string) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty file, want a PEM " + typ + " block")
	}
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return nil, errors.New("data before the PEM block")
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, errors.New("no valid PEM block")
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM block of type %q, want %q", block.Type, typ)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("PEM block has headers (encrypted keys are not supported)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		if next, _ := pem.Decode(rest); next != nil {
			return nil, errors.New("more than one PEM block")
		}
		return nil, errors.New("data after the PEM block")
	}
	return block.Bytes, nil
}

func encodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}
