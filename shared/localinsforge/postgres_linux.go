package localinsforge

import "syscall"

// sysProcAttr runs the server as cred and has the kernel stop it (SIGQUIT:
// immediate shutdown) if this process dies without calling Close.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}
