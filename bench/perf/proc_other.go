//go:build !linux

package perf

import "syscall"

// procAttr puts a started server in its own process group, so stopping it
// stops what its launcher started too.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
