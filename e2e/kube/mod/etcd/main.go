// Command etcd: a single-member etcd v3 for the test control plane, the
// etcd server package embedded (the same go.etcd.io/etcd/server/v3 that
// k8s.io/kubernetes requires), so it builds from the one wrapper module.
//
//	etcd -data-dir DIR -listen-client-url http://127.0.0.1:PORT -listen-peer-url http://127.0.0.1:PORT
package main

import (
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func parse(name, raw string) url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		log.Fatalf("-%s %q: %v", name, raw, err)
	}
	return *u
}

func main() {
	dataDir := flag.String("data-dir", "", "where etcd keeps its data (required)")
	client := flag.String("listen-client-url", "http://127.0.0.1:2379", "client URL (loopback)")
	peer := flag.String("listen-peer-url", "http://127.0.0.1:2380", "peer URL (loopback)")
	version := flag.Bool("version", false, "print the etcd version and exit")
	flag.Parse()
	if *version {
		fmt.Println("etcd (embedded) " + embedVersion())
		return
	}
	if *dataDir == "" {
		log.Fatal("-data-dir is required")
	}
	cfg := embed.NewConfig()
	cfg.Name = "arca-e2e"
	cfg.Dir = *dataDir
	cfg.LogLevel = "warn"
	c, p := parse("listen-client-url", *client), parse("listen-peer-url", *peer)
	cfg.ListenClientUrls = []url.URL{c}
	cfg.AdvertiseClientUrls = []url.URL{c}
	cfg.ListenPeerUrls = []url.URL{p}
	cfg.AdvertisePeerUrls = []url.URL{p}
	cfg.InitialCluster = cfg.Name + "=" + p.String()
	// A test store: no fsync per write (tmpfs-like), small quota.
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = 2 << 30
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("starting etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintln(os.Stderr, "etcd ready on", c.String())
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		log.Fatal("etcd did not become ready within 60 s")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-e.Err():
		log.Printf("etcd: %v", err)
	}
	e.Close()
}
