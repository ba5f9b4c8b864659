package testtools

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"
)

// HTTPSClient returns a plain HTTPS client with conf: unlike the KES
// client it does not retry, and it shows status codes as they are. Its
// idle connections close when the test ends.
func HTTPSClient(t testing.TB, conf *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: conf}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// StatusOf sends one request without a body to url and returns the
// response's status code; it gives up after 5 seconds.
func StatusOf(ctx context.Context, c *http.Client, method, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
