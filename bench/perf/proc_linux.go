package perf

import "syscall"

// procAttr puts a started server in its own process group (so stopping it
// stops what its launcher started too) and has the kernel stop it if the
// benchmark dies without cleaning up.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
