// SPDX-License-Identifier: MIT

// geerpc-interop talks to a registry exactly as Go GeeRPC does (day 7,
// "registry and discovery"): the server's heartbeat and the client's
// discovery, standard library only, so that the test needs no network.
//
//	go run geerpc-interop.go REGISTRY_URL SERVER_HEADER LIST_HEADER ADDR...
//
// For each ADDR it sends one heartbeat (POST with the address in
// SERVER_HEADER) and prints "heartbeat ADDR STATUS TIMEOUT"; then it
// discovers (GET, the list in LIST_HEADER) and prints "servers A,B,...".
// The original uses X-Geerpc-Server / X-Geerpc-Servers at
// /_geerpc_/registry; the older variant X-rpc-Servers at /_rpc_/registry.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// sendHeartbeat is the Go original's, minus its log line.
func sendHeartbeat(registry, header, addr string) (*http.Response, error) {
	httpClient := &http.Client{}
	req, _ := http.NewRequest("POST", registry, nil)
	req.Header.Set(header, addr)
	return httpClient.Do(req)
}

// refresh is GeeRegistryDiscovery.Refresh's request and parsing.
func refresh(registry, header string) ([]string, error) {
	resp, err := http.Get(registry)
	if err != nil {
		return nil, err
	}
	servers := strings.Split(resp.Header.Get(header), ",")
	list := make([]string, 0, len(servers))
	for _, server := range servers {
		if strings.TrimSpace(server) != "" {
			list = append(list, strings.TrimSpace(server))
		}
	}
	return list, nil
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: geerpc-interop REGISTRY_URL SERVER_HEADER LIST_HEADER ADDR...")
		os.Exit(2)
	}
	registry, serverHeader, listHeader := os.Args[1], os.Args[2], os.Args[3]
	for _, addr := range os.Args[4:] {
		resp, err := sendHeartbeat(registry, serverHeader, addr)
		if err != nil {
			fmt.Println("heartbeat", addr, "error", err)
			os.Exit(1)
		}
		fmt.Println("heartbeat", addr, resp.StatusCode, resp.Header.Get("X-Geerpc-Timeout"))
	}
	servers, err := refresh(registry, listHeader)
	if err != nil {
		fmt.Println("discover error", err)
		os.Exit(1)
	}
	fmt.Println("servers", strings.Join(servers, ","))
}
