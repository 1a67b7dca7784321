package main

import (
	"fmt"
	"net"
	"strings"
)

// checkListenAddr refuses (a usage error) a serve --addr whose host is not a
// loopback address (127.0.0.0/8, ::1, localhost) unless allowRemote: the
// local server has no authentication, so it listens beyond this machine only
// when asked to. An empty host (":8080") means every interface.
func checkListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fail(exitUsage, "--addr %s: want HOST:PORT, e.g. 127.0.0.1:8080 (%v)", addr, err)
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	where := "beyond loopback"
	if isAllInterfaces(host) {
		where = "on every interface"
	}
	return fail(exitUsage, "--addr %s would listen %s, and the local server has no authentication "+
		"(whoever reaches it may read, write and delete every key and use the admin API): "+
		"use a loopback address such as 127.0.0.1:8080, or pass --allow-remote to serve other machines anyway", addr, where)
}

// remoteWarning is the warning serve prints when --allow-remote lets it
// listen on addr (the bound address) beyond loopback; "" when host is loopback.
func remoteWarning(host, addr string) string {
	if isLoopbackHost(host) {
		return ""
	}
	where := "reachable from other machines"
	if isAllInterfaces(host) {
		where = "on every interface, reachable from other machines"
	}
	return fmt.Sprintf("WARNING: --allow-remote: listening on %s, %s, with NO AUTHENTICATION: "+
		"anyone who can connect may read, write and delete every key, inject faults and remove nodes "+
		"(a deployed stack requires IAM by default; keep this to a trusted network)", addr, where)
}

// isLoopbackHost reports whether host (of a HOST:PORT) is localhost or a
// loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isAllInterfaces reports whether host means every interface: empty or an
// unspecified address (0.0.0.0, ::).
func isAllInterfaces(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// allowedHosts are the Host names serve accepts besides loopback ones
// (httpapi.SameOrigin): the host of --addr, and with --allow-remote on every
// interface any name ("*": the machine's names and addresses are not known
// here, and such a server is open to its network anyway).
func allowedHosts(addr string, allowRemote bool) []string {
	host, _, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		return nil
	case allowRemote && isAllInterfaces(host):
		return []string{"*"}
	case !isAllInterfaces(host):
		return []string{host}
	}
	return nil
}
