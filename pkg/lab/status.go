package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/vault"
)

// Status is a health report of a running lab. Its JSON field names are
// stable: scripts may rely on them.
type Status struct {
	Dir     string `json:"dir"`
	Running bool   `json:"running"`
	// Ready is true when KES, its keystore, MinIO and the default key all
	// work and every bucket has default encryption.
	Ready   bool      `json:"ready"`
	PID     int       `json:"pid,omitempty"`
	Started time.Time `json:"started,omitzero"`
	KES     KESStatus `json:"kes"`
	// Keystore is the lab's own check of its keystore; nil when the lab
	// did not answer.
	Keystore *labdir.KeystoreHealth `json:"keystore,omitempty"`
	// Vault is set when KES keeps the keys in Vault.
	Vault *vault.Health `json:"vault,omitempty"`
	MinIO MinIOStatus   `json:"minio"`
	Key   KeyStatus     `json:"default_key"`
	Disk  DiskStatus    `json:"disk"`
	// Web is the lab console; nil when it is off.
	Web     *WebStatus   `json:"web,omitempty"`
	Buckets []BucketInfo `json:"buckets"`
	// Nodes are the MinIO nodes, node 1 first; MinIO reports node 1.
	Nodes []MinIOStatus `json:"nodes"`
	// Cluster reports the erasure sets' quorum, for a lab of more than
	// one drive; nil for a lab of one.
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus reports the quorum of a lab's erasure sets, as a ready
// MinIO node sees it. A lab of several nodes works, also with nodes down,
// as long as it has write quorum.
type ClusterStatus struct {
	Shape labdir.Shape `json:"shape"`
	// SetSize, Parity, ReadQuorum and WriteQuorum are in drives per
	// erasure set.
	SetSize     int `json:"set_size"`
	Parity      int `json:"parity"`
	ReadQuorum  int `json:"read_quorum"`
	WriteQuorum int `json:"write_quorum"`
	// Read and Write say whether every set has its read and write
	// quorum.
	Read  bool `json:"read"`
	Write bool `json:"write"`
	// Healing is how many drives MinIO is healing (a drive that was
	// replaced or came back empty), as it reports them.
	Healing int `json:"healing_drives"`
	// Node is the node that answered, from 1; 0 when none did.
	Node  int    `json:"node,omitempty"`
	Error string `json:"error,omitempty"`
}

// KESStatus reports the embedded KES server.
type KESStatus struct {
	Endpoint          string `json:"endpoint"`
	Up                bool   `json:"up"`
	Version           string `json:"version,omitempty"`
	KeyStoreReachable bool   `json:"keystore_reachable"`
	KeyStoreLatencyMS int64  `json:"keystore_latency_ms"`
	Error             string `json:"error,omitempty"`
}

// MinIOStatus reports the supervised MinIO server.
type MinIOStatus struct {
	// Node is the node's number, from 1.
	Node     int    `json:"node"`
	Endpoint string `json:"endpoint"`
	Console  string `json:"console"`
	Ready    bool   `json:"ready"`
	Version  string `json:"version,omitempty"`
	PID      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	// Drives and DrivesOnline are how many drives the node serves and
	// how many of them MinIO counts as online (its admin info, asked of
	// a ready node); both 0 for a lab of one drive or when no node
	// answered.
	Drives       int `json:"drives"`
	DrivesOnline int `json:"drives_online"`
	// State is the lab's word for the node: running, stopped, killed or
	// failed (see labdir.NodeInfo); empty when the lab did not answer.
	State string `json:"state,omitempty"`
	Error string `json:"error,omitempty"`
}

// WebStatus reports the lab console.
type WebStatus struct {
	URL   string `json:"url"`
	Up    bool   `json:"up"`
	Error string `json:"error,omitempty"`
}

// KeyStatus reports the default key.
type KeyStatus struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	Error   string `json:"error,omitempty"`
}

// BucketInfo reports one of the lab's buckets.
type BucketInfo struct {
	Name       string           `json:"name"`
	Encryption BucketEncryption `json:"encryption"`
	Error      string           `json:"error,omitempty"`
}

// kesUnreachableAnswer is how the KES client (kms-go v0.3.1) reports a
// status answer of KES v0.24.0 whose keystore is unreachable: KES sends
// keystore_unreachable without the keystore_unavailable the client
// expects along with it, and the client refuses the whole answer.
const kesUnreachableAnswer = "keystore is unreachable but not unavailable"

// Status checks every part of the lab, concurrently, each with its own
// deadline inside ctx.
func (h *Handle) Status(ctx context.Context) Status {
	st := Status{
		Dir: h.Layout.Root, Running: true, PID: h.State.PID, Started: h.State.Started,
		KES: KESStatus{Endpoint: h.State.KESEndpoint, Version: h.State.KESVersion},
		Key: KeyStatus{Name: h.State.Key},
	}
	nodes := h.State.Nodes
	if len(nodes) == 0 { // a state file that names no nodes: one, at S3Endpoint
		nodes = []labdir.Node{{S3Endpoint: h.State.S3Endpoint, ConsoleURL: h.State.ConsoleURL}}
	}
	st.Nodes = make([]MinIOStatus, len(nodes))
	for i, n := range nodes {
		st.Nodes[i] = MinIOStatus{Node: i + 1, Endpoint: n.S3Endpoint, Console: n.ConsoleURL, Version: h.State.MinIOVersion}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		kes := h.KES()
		s, err := kes.Status(ctx)
		if err != nil && strings.Contains(err.Error(), kesUnreachableAnswer) {
			// KES answered: it serves, its keystore does not (sealed,
			// Vault down); the key check below says what that means.
			st.KES.Up = true
		} else if err != nil {
			st.KES.Error = err.Error()
			return
		}
		st.KES.Up = true
		st.KES.KeyStoreReachable = s.KeyStoreReachable && s.KeystoreAvailable
		st.KES.KeyStoreLatencyMS = s.KeyStoreLatency.Milliseconds()
		if _, err := kes.DescribeKey(ctx, h.State.Key); err != nil {
			st.Key.Error = err.Error()
			return
		}
		st.Key.Present = true
	})
	wg.Go(func() { st.Disk = checkDisk(h.Layout.Root) })
	wg.Go(func() {
		info, err := h.Info(ctx) // the lab checks its keystore when asked
		if err != nil {
			return
		}
		st.Keystore, st.Vault = info.Keystore, info.Vault
		for i, n := range info.Nodes {
			if i < len(st.Nodes) {
				st.Nodes[i].PID, st.Nodes[i].Restarts, st.Nodes[i].State = n.PID, n.Restarts, n.State
			}
		}
	})
	client := h.HTTPClient()
	if h.State.WebURL != "" {
		st.Web = &WebStatus{URL: h.State.WebURL}
		wg.Go(func() {
			if err := probeWeb(ctx, client, h.State.WebURL); err != nil {
				st.Web.Error = err.Error()
				return
			}
			st.Web.Up = true
		})
	}
	for i := range st.Nodes {
		wg.Go(func() {
			if err := ProbeReady(ctx, client, st.Nodes[i].Endpoint); err != nil {
				st.Nodes[i].Error = err.Error()
				return
			}
			st.Nodes[i].Ready = true
		})
	}
	wg.Wait()
	if len(st.Nodes) > 0 {
		st.MinIO = st.Nodes[0]
	}
	// The buckets are asked of the first ready node: in a cluster, any
	// node answers for all.
	ready := slices.IndexFunc(st.Nodes, func(n MinIOStatus) bool { return n.Ready })
	if h.State.Shape.Total() > 1 {
		st.Cluster = h.clusterStatus(ctx, st.Nodes, ready)
		if ready >= 0 {
			h.countDrives(ctx, st.Nodes, st.Nodes[ready].Endpoint)
			st.MinIO = st.Nodes[0]
		}
	}

	st.Buckets = make([]BucketInfo, len(h.State.Buckets))
	encrypted := true
	var s3 *minio.Client
	err := errors.New("lab: no MinIO node is ready")
	if ready >= 0 {
		s3, err = NewS3Client(st.Nodes[ready].Endpoint, h.Credentials, client.Transport, 0)
	}
	for i, b := range h.State.Buckets {
		st.Buckets[i].Name = b
		if err != nil {
			st.Buckets[i].Error = "MinIO is not ready"
			encrypted = false
			continue
		}
		enc, err := bucketEncryption(ctx, s3, b)
		switch {
		case errors.Is(err, errNoEncryption):
			st.Buckets[i].Error = "no default encryption: objects are stored in plaintext"
		case err != nil:
			st.Buckets[i].Error = err.Error()
		}
		st.Buckets[i].Encryption = enc
		encrypted = encrypted && err == nil
	}
	st.Ready = (st.Keystore == nil || st.Keystore.OK) && st.Disk.OK() && st.KES.Up && st.KES.KeyStoreReachable && st.Key.Present && len(st.Nodes) > 0 && st.minioOK() && encrypted &&
		(st.Web == nil || st.Web.Up)
	return st
}

// clusterStatus asks the ready node nodes[ready] (none if ready < 0)
// whether the erasure sets have read and write quorum.
func (h *Handle) clusterStatus(ctx context.Context, nodes []MinIOStatus, ready int) *ClusterStatus {
	shape := h.State.Shape.Norm()
	c := &ClusterStatus{Shape: shape, SetSize: shape.SetSize(), Parity: shape.Parity(), ReadQuorum: shape.ReadQuorum(), WriteQuorum: shape.WriteQuorum()}
	if ready < 0 {
		c.Error = "no MinIO node is ready to tell"
		return c
	}
	c.Node = ready + 1
	var err error
	if c.Read, err = ClusterHealth(ctx, h.HTTPClient(), nodes[ready].Endpoint, QuorumRead); err != nil {
		c.Error = err.Error()
		return c
	}
	w, err := clusterHealth(ctx, h.HTTPClient(), nodes[ready].Endpoint, QuorumWrite)
	if err != nil {
		c.Error = err.Error()
	}
	c.Write, c.Healing = w.ok, w.healing
	return c
}

// countDrives fills in each node's drives and drives online, as the
// MinIO node at endpoint reports them in its admin info (what 'mc admin
// info' shows). A node MinIO does not list keeps zeros.
func (h *Handle) countDrives(ctx context.Context, nodes []MinIOStatus, endpoint string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/minio/admin/v3/info", nil)
	if err != nil {
		return
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	resp, err := h.HTTPClient().Do(signer.SignV4(*req, h.Credentials.RootUser, h.Credentials.RootPassword, "", Region))
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var info struct {
		Servers []struct {
			Endpoint string `json:"endpoint"`
			Drives   []struct {
				State string `json:"state"`
			} `json:"drives"`
		} `json:"servers"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&info) != nil {
		return
	}
	for _, srv := range info.Servers {
		for i := range nodes {
			_, host, _ := strings.Cut(nodes[i].Endpoint, "://")
			if host != srv.Endpoint {
				continue
			}
			nodes[i].Drives = len(srv.Drives)
			for _, d := range srv.Drives {
				if d.State == "ok" {
					nodes[i].DrivesOnline++
				}
			}
		}
	}
}

// minioOK reports whether MinIO serves: its one node is ready or, in a
// lab of several drives, the erasure sets have write quorum.
func (s Status) minioOK() bool {
	if s.Cluster != nil {
		return s.Cluster.Write && (len(s.Nodes) > 1 || s.nodesReady())
	}
	return s.nodesReady()
}

// probeWeb succeeds when the lab console serves its log-in page, with a
// certificate from the lab CA.
func probeWeb(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/login", nil)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("lab: the lab console does not answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lab: the lab console answered %s", resp.Status)
	}
	return nil
}

// Err summarises why a lab is not ready, or returns nil.
func (s Status) Err() error {
	switch {
	case s.Ready:
		return nil
	case !s.Running:
		return NotRunningError(s.Dir)
	case s.Keystore != nil && !s.Keystore.OK:
		return fmt.Errorf("lab: %s", s.Keystore.Error)
	case !s.Disk.OK():
		return fmt.Errorf("lab: %s", s.Disk.Error)
	case !s.KES.Up:
		return fmt.Errorf("lab: KES is not answering: %s", s.KES.Error)
	case !s.KES.KeyStoreReachable:
		return errors.New("lab: KES cannot reach its keystore")
	case len(s.Nodes) <= 1 && !s.MinIO.Ready:
		return fmt.Errorf("lab: MinIO is not ready: %s", s.MinIO.Error)
	case s.Cluster != nil && !s.Cluster.Write:
		// With several nodes, some may be down: the cluster works as
		// long as it has write quorum.
		return s.Cluster.err(s.Nodes)
	case !s.Key.Present:
		return fmt.Errorf("lab: the default key %s is missing: %s", s.Key.Name, s.Key.Error)
	case s.Web != nil && !s.Web.Up:
		return fmt.Errorf("lab: the lab console is not serving: %s", s.Web.Error)
	}
	return errors.New("lab: a bucket has no default encryption")
}

// err says that the cluster lacks write quorum, and which nodes are down.
func (c *ClusterStatus) err(nodes []MinIOStatus) error {
	if c.Error != "" {
		return fmt.Errorf("lab: cannot tell whether the MinIO cluster has write quorum: %s", c.Error)
	}
	var down []string
	for _, n := range nodes {
		if !n.Ready {
			down = append(down, strconv.Itoa(n.Node))
		}
	}
	msg := fmt.Sprintf("lab: the MinIO cluster has no write quorum (each erasure set needs %d of its %d drives online)", c.WriteQuorum, c.SetSize)
	if len(down) > 0 {
		msg += fmt.Sprintf(": node %s not ready; 'sselab node start N' starts a stopped node", strings.Join(down, ", "))
	}
	return errors.New(msg)
}

// nodesReady reports whether every MinIO node is ready.
func (s Status) nodesReady() bool {
	for _, n := range s.Nodes {
		if !n.Ready {
			return false
		}
	}
	return true
}
